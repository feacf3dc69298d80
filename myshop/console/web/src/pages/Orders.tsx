// Orders (orders' `orders`, filtered by status), their status kept live by `orderUpdates` over the router's
// WebSocket: a row changes as its order does, and a new order comes in on top.
import { useEffect, useState } from "react";
import { formatMoney, formatTime, Money } from "../api";
import { Busy, PageProps, Problem, useLoad } from "./common";

const STATUSES = ["PENDING", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED", "CANCELLED", "FAILED"];
const ORDERS = `query Orders($status: OrderStatus, $first: Int) {
  orders(status: $status, first: $first) {
    totalCount
    edges { node { id status total { amount currency } createdAt user { id email } } }
  }
}`;
const UPDATES = `subscription Updates {
  orderUpdates { cursor kind status changedAt order { id status total { amount currency } createdAt user { id email } } }
}`;

type Order = { id: string; status: string; total: Money; createdAt: string; user: { id: string; email: string | null } | null };
type Update = { orderUpdates: { kind: string; status: string; changedAt: string; order: Order } };

export function Orders({ api }: PageProps) {
  const [status, setStatus] = useState("");
  const [live, setLive] = useState("connecting");
  const [changed, setChanged] = useState<Record<string, string>>({});
  // The list remembers the filter it was loaded with: the caption says what the rows are, not what was asked.
  const { data, setData, error, loading } = useLoad(
    async () => ({
      filter: status,
      ...(await api.request<{ orders: { totalCount: number | null; edges: { node: Order }[] } }>(ORDERS, {
        status: status || null,
        first: 50,
      })),
    }),
    [api, status],
  );

  useEffect(
    () =>
      api.subscribe<Update>(
        UPDATES,
        {},
        ({ orderUpdates: update }) => {
          const order = { ...update.order, status: update.status };
          setChanged((seen) => ({ ...seen, [order.id]: update.changedAt }));
          setData((current) => {
            if (!current) return current;
            const edges = current.orders.edges;
            const known = edges.some((edge) => edge.node.id === order.id);
            const kept = (o: Order) => !status || o.status === status;
            const next = known
              ? edges.map((edge) => (edge.node.id === order.id ? { node: order } : edge)).filter((edge) => kept(edge.node))
              : kept(order) ? [{ node: order }, ...edges] : edges;
            return { ...current, orders: { ...current.orders, edges: next } };
          });
        },
        (state, detail) => setLive(detail ? `${state} (${detail})` : state),
      ),
    [api, status, setData],
  );

  return (
    <section aria-label="Orders">
      <form className="window" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status{" "}
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            {STATUSES.map((value) => <option key={value} value={value}>{value}</option>)}
          </select>
        </label>
        <p className={`live ${live === "live" ? "on" : ""}`} role="status" aria-live="polite" id="live-status">
          Live updates: {live}
        </p>
      </form>
      <Problem error={error} />
      <Busy loading={loading} />
      {data && (
        <table id="orders">
          <caption>
            The latest {data.orders.edges.length} orders{data.filter ? ` with status ${data.filter}` : ""}
            {data.orders.totalCount != null ? ` (of ${data.orders.totalCount})` : ""}
          </caption>
          <thead>
            <tr><th scope="col">Order</th><th scope="col">Customer</th><th scope="col">Placed (UTC)</th><th scope="col">Total</th><th scope="col">Status</th></tr>
          </thead>
          <tbody>
            {data.orders.edges.length === 0 && <tr><td colSpan={5}>No orders.</td></tr>}
            {data.orders.edges.map(({ node }) => (
              <tr key={node.id} data-order-id={node.id} className={changed[node.id] ? "changed" : undefined}>
                <th scope="row"><code>{node.id.slice(0, 8)}</code></th>
                <td>{node.user?.email ?? node.user?.id ?? "guest"}</td>
                <td>{formatTime(node.createdAt)}</td>
                <td className="number">{formatMoney(node.total)}</td>
                <td className="order-status"><span className={`badge ${node.status.toLowerCase()}`}>{node.status}</span></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
