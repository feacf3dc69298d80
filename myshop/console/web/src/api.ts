// The router, as the console talks to it: GraphQL over HTTP (POST, JSON) and subscriptions over its
// WebSocket (graphql-transport-ws). Where it answers comes from /config.json beside the page.

export class GraphQLFailure extends Error {
  constructor(
    message: string,
    readonly codes: string[],
  ) {
    super(message);
  }
}

type Result<T> = { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };

// A request the router has not answered in this time fails with TIMEOUT, and the page says so (with a way to
// try again) instead of loading for ever. Past the router's own limit (30 s), whose error names what was slow.
export const REQUEST_TIMEOUT_MS = 40_000;

export class Api {
  token: string | null = null;
  // Called when the router no longer accepts the token (expired, revoked): the console signs out.
  onSignedOut: (() => void) | null = null;

  constructor(readonly url: string) {}

  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const { response, body } = await this.post<T>(headers, JSON.stringify({ query, variables }));
    if (body.errors?.length) {
      if (this.token && body.errors.some((e) => e.extensions?.code === "UNAUTHENTICATED")) this.onSignedOut?.();
      throw new GraphQLFailure(
        body.errors.map((e) => e.message).join("; "),
        body.errors.map((e) => e.extensions?.code ?? "UNKNOWN"),
      );
    }
    if (body.data == null) {
      // Not a GraphQL result (no data, no errors): say what came back rather than hand the page nothing.
      throw new GraphQLFailure(`The router answered HTTP ${response.status} without data.`, ["NO_DATA"]);
    }
    return body.data as T;
  }

  private async post<T>(headers: Record<string, string>, payload: string): Promise<{ response: Response; body: Result<T> }> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    let response: Response;
    try {
      response = await fetch(this.url, { method: "POST", headers, body: payload, signal: abort.signal });
    } catch (error) {
      if (abort.signal.aborted) {
        throw new GraphQLFailure(`The router at ${this.url} did not answer in ${REQUEST_TIMEOUT_MS / 1000} s.`, ["TIMEOUT"]);
      }
      throw new GraphQLFailure(`The router at ${this.url} does not answer (${String(error)}).`, ["NETWORK"]);
    }
    try {
      return { response, body: (await response.json()) as Result<T> };
    } catch {
      // Not JSON (a proxy's error page), or the body cut short (timed out while it came).
      const code = abort.signal.aborted ? "TIMEOUT" : "BAD_RESPONSE";
      throw new GraphQLFailure(`The router answered HTTP ${response.status} without a GraphQL result.`, [code]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs `query` as a subscription until the returned function is called; `onStatus` follows the link. */
  subscribe<T>(
    query: string,
    variables: Record<string, unknown>,
    onNext: (data: T) => void,
    onStatus: (status: "connecting" | "live" | "closed", detail?: string) => void,
  ): () => void {
    const ws = new WebSocket(this.url.replace(/^http/, "ws"), "graphql-transport-ws");
    let stopped = false;
    onStatus("connecting");
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "connection_init", payload: this.token ? { Authorization: `Bearer ${this.token}` } : {} }));
    };
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      if (message.type === "connection_ack") {
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables } }));
        onStatus("live");
      } else if (message.type === "next" && message.payload?.data) {
        onNext(message.payload.data as T);
      } else if (message.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "error") {
        onStatus("closed", JSON.stringify(message.payload));
      }
    };
    ws.onclose = (event) => {
      if (!stopped) onStatus("closed", event.reason || `code ${event.code}`);
    };
    return () => {
      stopped = true;
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ id: "1", type: "complete" }));
      ws.close();
    };
  }
}

// Only from the site's own /config.json, never from the page's URL: a link carrying another router would have
// an admin type their password into this page for someone else's server.
export async function routerUrl(): Promise<string> {
  try {
    const response = await fetch("/config.json", { cache: "no-cache" });
    if (response.ok) {
      const config = (await response.json()) as { routerUrl?: string };
      if (config.routerUrl) return config.routerUrl;
    }
  } catch {
    // no config beside the page: the router on this host's port 4000
  }
  return `${window.location.protocol}//${window.location.hostname}:4000/graphql`;
}

export type Money = { amount: number; currency: string };

const digits = new Map<string, number>();

/** Minor units as the currency writes them (2 decimals for USD, 0 for JPY). */
export function major(money: Money): number {
  let places = digits.get(money.currency);
  if (places === undefined) {
    places = new Intl.NumberFormat("en", { style: "currency", currency: money.currency }).resolvedOptions()
      .maximumFractionDigits ?? 2;
    digits.set(money.currency, places);
  }
  return money.amount / 10 ** places;
}

export function formatMoney(money: Money): string {
  return new Intl.NumberFormat("en", { style: "currency", currency: money.currency }).format(major(money));
}

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleString("en-GB", { timeZone: "UTC", dateStyle: "medium", timeStyle: "short" }) + " UTC";
}
