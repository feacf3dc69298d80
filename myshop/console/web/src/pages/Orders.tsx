// Orders (orders' `orders`, filtered by status), their status kept live by `orderUpdates` over the router's
// WebSocket: a row changes as its order does, and a new order comes in on top.
import { useEffect, useRef, useState } from "react";
import { formatMoney, formatTime, Money } from "../api";
import { Busy, PageProps, Problem, useLoad } from "./common";

const STATUSES = ["PENDING", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "CONFIRMED", "CANCELLED", "FAILED"];
const ORDER = "id status total { amount currency } createdAt updatedAt user { id email }";
const ORDERS = `query Orders($status: OrderStatus, $first: Int) {
  orders(status: $status, first: $first) { totalCount edges { node { ${ORDER} } } }
}`;
const UPDATES = `subscription Updates { orderUpdates { cursor kind status changedAt order { ${ORDER} } } }`;

type Order = {
  id: string;
  status: string;
  total: Money;
  createdAt: string;
  updatedAt: string;
  user: { id: string; email: string | null } | null;
};
type Update = { orderUpdates: { kind: string; status: string; changedAt: string; order: Order } };
type Edges = { node: Order }[];
const KEPT_UPDATES = 1000;

/** `edges` with `updates` laid over them: of a row and an update of its order, the later one wins; an order
 * not listed comes in on top; rows the status filter no longer keeps leave. */
export function overlay(edges: Edges, updates: Iterable<Order>, status: string): Edges {
  let next = edges;
  for (const order of updates) {
    const listed = next.find((edge) => edge.node.id === order.id);
    if (listed && Date.parse(listed.node.updatedAt) > Date.parse(order.updatedAt)) continue;
    next = listed
      ? next.map((edge) => (edge.node.id === order.id ? { node: order } : edge))
      : [{ node: order }, ...next];
  }
  return next.filter((edge) => !status || edge.node.status === status);
}

export function Orders({ api }: PageProps) {
  const [status, setStatus] = useState("");
  const [live, setLive] = useState("connecting");
  const [changed, setChanged] = useState<Record<string, string>>({});
  // Every order's latest update since the page opened: one that comes while the list is on its way is laid
  // over the list when it arrives, not lost.
  const updates = useRef(new Map<string, Order>());
  // The list remembers the filter it was loaded with: the caption says what the rows are, not what was asked.
  const { data, setData, error, loading, reload } = useLoad(
    async () => {
      const answer = await api.request<{ orders: { totalCount: number | null; edges: Edges } }>(ORDERS, {
        status: status || null,
        first: 50,
      });
      const edges = overlay(answer.orders.edges, updates.current.values(), status);
      return { filter: status, listed: true, orders: { ...answer.orders, edges } };
    },
    [api, status],
  );

  useEffect(
    () =>
      api.subscribe<Update>(
        UPDATES,
        {},
        ({ orderUpdates: update }) => {
          // The update's time is the order's as of that change (its row may have been read later).
          const order = { ...update.order, status: update.status, updatedAt: update.changedAt };
          updates.current.delete(order.id); // re-inserted last: the map keeps the updates in their order
          updates.current.set(order.id, order);
          // A page left open all day keeps the latest updates only (more than a list shows).
          if (updates.current.size > KEPT_UPDATES) updates.current.delete(updates.current.keys().next().value!);
          setChanged((seen) => ({ ...seen, [order.id]: update.changedAt }));
          // Shown even while the list is on its way (or if it failed): live rows need no list.
          setData((current) => {
            const shown = current ?? { filter: status, listed: false, orders: { totalCount: null, edges: [] } };
            return { ...shown, orders: { ...shown.orders, edges: overlay(shown.orders.edges, [order], status) } };
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
      <Problem error={error} retry={reload} />
      <Busy loading={loading} />
      {data && (
        <table id="orders" data-listed={data.listed ? "true" : "false"}>
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
