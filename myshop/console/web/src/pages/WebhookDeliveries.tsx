// Partner webhook deliveries that gave up (DEAD), per webhook (notifications' `webhookDeliveries`), each with a
// replay button (`replayWebhookDelivery`: tries from zero): a replayed one leaves the list.
import { useState } from "react";
import { formatTime, GraphQLFailure } from "../api";
import { Busy, PageProps, Problem, useLoad } from "./common";

const WEBHOOKS = "query { webhooks(first: 50) { nodes { id url owner { email } } } }";
const DEAD = `query Dead($id: ID!) {
  webhookDeliveries(webhookId: $id, status: DEAD, first: 50) {
    nodes { id eventId eventType attempts lastResponseStatus lastError deadAt }
  }
}`;
const REPLAY = "mutation Replay($id: ID!) { replayWebhookDelivery(id: $id) { id status } }";

type Webhook = { id: string; url: string; owner: { email: string | null } | null };
type Delivery = {
  id: string;
  eventId: string;
  eventType: string;
  attempts: number;
  lastResponseStatus: number | null;
  lastError: string | null;
  deadAt: string | null;
};
type Dead = { webhook: Webhook; delivery: Delivery };

export function WebhookDeliveries({ api }: PageProps) {
  const [message, setMessage] = useState<string | null>(null);
  const { data, setData, error, loading, reload } = useLoad(async () => {
    const hooks = (await api.request<{ webhooks: { nodes: Webhook[] } }>(WEBHOOKS)).webhooks.nodes;
    const lists = await Promise.all(
      hooks.map((webhook) => api.request<{ webhookDeliveries: { nodes: Delivery[] } }>(DEAD, { id: webhook.id })),
    );
    return hooks.flatMap((webhook, index) =>
      lists[index].webhookDeliveries.nodes.map((delivery): Dead => ({ webhook, delivery })),
    );
  }, [api]);
  const dead = data ?? [];

  async function replay({ delivery }: Dead) {
    setMessage(null);
    try {
      const result = await api.request<{ replayWebhookDelivery: { id: string; status: string } }>(REPLAY, { id: delivery.id });
      setData((current) => current && current.filter((entry) => entry.delivery.id !== delivery.id));
      setMessage(`${delivery.eventType} ${delivery.eventId.slice(0, 8)} replayed: ${result.replayWebhookDelivery.status}.`);
    } catch (failure) {
      setMessage(failure instanceof GraphQLFailure ? `${failure.message} (${failure.codes.join(", ")})` : String(failure));
    }
  }

  return (
    <section aria-labelledby="dead-webhooks-title" className="dead-letters" id="dead-webhooks">
      <h2 id="dead-webhooks-title">Webhook deliveries <span className="count">({dead.length} dead)</span></h2>
      <Problem error={error} retry={reload} />
      <Busy loading={loading} />
      {message && <p role="status" className="replay-message">{message}</p>}
      {data && dead.length === 0 && <p>No dead webhook deliveries.</p>}
      {dead.length > 0 && (
        <table>
          <caption className="visually-hidden">Dead webhook deliveries</caption>
          <thead>
            <tr><th scope="col">Event</th><th scope="col">Webhook</th><th scope="col">Last error</th><th scope="col">Attempts</th><th scope="col">Dead since (UTC)</th><th scope="col">Action</th></tr>
          </thead>
          <tbody>
            {dead.map((entry) => (
              <tr key={entry.delivery.id} data-delivery-id={entry.delivery.id}>
                <th scope="row">{entry.delivery.eventType} <code>{entry.delivery.eventId.slice(0, 8)}</code></th>
                <td className="error-text">{entry.webhook.url}{entry.webhook.owner?.email ? ` (${entry.webhook.owner.email})` : ""}</td>
                <td className="error-text">{entry.delivery.lastError ?? `HTTP ${entry.delivery.lastResponseStatus}`}</td>
                <td className="number">{entry.delivery.attempts}</td>
                <td>{entry.delivery.deadAt ? formatTime(entry.delivery.deadAt) : ""}</td>
                <td>
                  <button type="button" onClick={() => void replay(entry)} aria-label={`Replay ${entry.delivery.eventType} delivery ${entry.delivery.id}`}>
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
