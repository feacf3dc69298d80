// Events that kept failing in a consumer, per service (`…DeadLetters`), each with a replay button
// (`replay…DeadLetter(id)`): a replayed one that succeeds leaves the list; then partners' dead webhook deliveries.
import { useState } from "react";
import { formatTime, GraphQLFailure } from "../api";
import { Busy, PageProps, Problem, useLoad } from "./common";
import { WebhookDeliveries } from "./WebhookDeliveries";

const SOURCES = [
  { name: "Orders", list: "orderDeadLetters", replay: "replayOrderDeadLetter" },
  { name: "Inventory", list: "inventoryDeadLetters", replay: "replayInventoryDeadLetter" },
  { name: "Notifications", list: "notificationDeadLetters", replay: "replayNotificationDeadLetter" },
  { name: "Analytics", list: "analyticsDeadLetters", replay: "replayAnalyticsDeadLetter" },
  { name: "Shipping", list: "shippingDeadLetters", replay: "replayShippingDeadLetter" },
];
const FIELDS = "id eventId type producer error attempts failedAt";

type Letter = { id: string; eventId: string; type: string; producer: string; error: string; attempts: number; failedAt: string };

function Source({ api, name, list, replay }: PageProps & (typeof SOURCES)[number]) {
  const [message, setMessage] = useState<string | null>(null);
  const { data, setData, error, loading, reload } = useLoad(
    () => api.request<Record<string, Letter[]>>(`query { ${list}(first: 50) { ${FIELDS} } }`),
    [api, list],
  );
  const letters = data?.[list] ?? [];

  async function replayOne(letter: Letter) {
    setMessage(null);
    try {
      const result = await api.request<Record<string, boolean>>(`mutation Replay($id: ID!) { ${replay}(id: $id) }`, { id: letter.id });
      if (result[replay]) {
        setData((current) => current && { [list]: current[list].filter((l) => l.id !== letter.id) });
        setMessage(`${letter.type} ${letter.eventId.slice(0, 8)} replayed: handled this time.`);
      } else {
        setMessage(`${letter.type} ${letter.eventId.slice(0, 8)} failed again: it stays.`);
      }
    } catch (failure) {
      setMessage(failure instanceof GraphQLFailure ? `${failure.message} (${failure.codes.join(", ")})` : String(failure));
    }
  }

  const id = `dead-${list}`;
  return (
    <section aria-labelledby={`${id}-title`} className="dead-letters" id={id}>
      <h2 id={`${id}-title`}>{name} <span className="count">({letters.length})</span></h2>
      <Problem error={error} retry={reload} />
      <Busy loading={loading} />
      {message && <p role="status" className="replay-message">{message}</p>}
      {data && letters.length === 0 && <p>No dead letters.</p>}
      {letters.length > 0 && (
        <table>
          <caption className="visually-hidden">{name} dead letters</caption>
          <thead>
            <tr><th scope="col">Event</th><th scope="col">From</th><th scope="col">Error</th><th scope="col">Attempts</th><th scope="col">Failed (UTC)</th><th scope="col">Action</th></tr>
          </thead>
          <tbody>
            {letters.map((letter) => (
              <tr key={letter.id} data-dead-letter-id={letter.id}>
                <th scope="row">{letter.type} <code>{letter.eventId.slice(0, 8)}</code></th>
                <td>{letter.producer}</td>
                <td className="error-text">{letter.error}</td>
                <td className="number">{letter.attempts}</td>
                <td>{formatTime(letter.failedAt)}</td>
                <td>
                  <button type="button" onClick={() => void replayOne(letter)} aria-label={`Replay ${letter.type} ${letter.eventId}`}>
                    Replay
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function DeadLetters({ api }: PageProps) {
  return (
    <>
      <p>Events a service's consumer gave up on. Replay one once its cause is fixed: it leaves the list when handled.</p>
      {SOURCES.map((source) => <Source key={source.list} api={api} {...source} />)}
      <WebhookDeliveries api={api} />
    </>
  );
}
