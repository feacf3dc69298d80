// What every page shares: loading a query (with its error shown), and window inputs.
import { useCallback, useEffect, useRef, useState } from "react";
import { Api, GraphQLFailure } from "../api";

export type PageProps = { api: Api };

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  // Only the latest request's answer is shown: an earlier one arriving after it (the window changed while
  // it was on its way) is dropped.
  const latest = useRef(0);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps);
  const reload = useCallback(async () => {
    const request = ++latest.current;
    setLoading(true);
    setError(null);
    try {
      const answer = await run();
      if (request === latest.current) setData(answer);
    } catch (failure) {
      if (request === latest.current) {
        setError(failure instanceof GraphQLFailure ? `${failure.message} (${failure.codes.join(", ")})` : String(failure));
      }
    } finally {
      if (request === latest.current) setLoading(false);
    }
  }, [run]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, setData, error, loading, reload };
}

/** What went wrong, and (for a load that failed) a way to try again. */
export function Problem({ error, retry }: { error: string | null; retry?: () => unknown }) {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {error}
      {retry && (
        <>
          {" "}
          <button type="button" onClick={() => void retry()}>Try again</button>
        </>
      )}
    </p>
  );
}

export function Busy({ loading }: { loading: boolean }) {
  return <p className="status" role="status" aria-live="polite">{loading ? "Loading…" : ""}</p>;
}

/** A date as `<input type="date">` holds it (UTC). */
export function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function daysAgo(days: number): string {
  return day(new Date(Date.now() - days * 86_400_000));
}

export function tomorrow(): string {
  return daysAgo(-1);
}

export function WindowInputs(props: {
  from: string;
  to: string;
  setFrom: (value: string) => void;
  setTo: (value: string) => void;
  children?: React.ReactNode;
}) {
  return (
    <fieldset className="window">
      <legend>Window (UTC, end excluded)</legend>
      <label>
        From <input type="date" value={props.from} required onChange={(e) => props.setFrom(e.target.value)} />
      </label>
      <label>
        To <input type="date" value={props.to} required onChange={(e) => props.setTo(e.target.value)} />
      </label>
      {props.children}
    </fieldset>
  );
}

export function iso(date: string): string {
  return `${date}T00:00:00Z`;
}
