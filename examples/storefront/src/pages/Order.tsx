// An order: what was bought and paid, and its status followed live. The status comes from the subscription
// `orderStatusChanged` (over the router's WebSocket), which first replays the statuses the order already went
// through and then sends each change as it happens, until the order is final.
import { useQuery, useSubscription } from "@apollo/client/react";
import { useState } from "react";
import { describe, problemsOf } from "../errors";
import { formatDate, formatMoney } from "../format";
import { graphql } from "../gql";
import type { OrderStatus } from "../gql/graphql";
import { href } from "../route";
import { useSession } from "../session";

const ORDER = graphql(`
  query OrderPage($id: ID!) {
    order(id: $id) {
      id
      createdAt
      subtotal { amount currency }
      discountTotal { amount currency }
      shippingPrice { amount currency }
      taxTotal { amount currency }
      total { amount currency }
      shippingMethod { name }
      shippingAddress { name line1 city postalCode country }
      items { line productName variantLabel quantity unitPrice { amount currency } total { amount currency } }
    }
  }
`);

const STATUS = graphql(`
  subscription OrderStatus($orderId: ID!) {
    orderStatusChanged(orderId: $orderId) {
      id
      status
      failureReason
      updatedAt
    }
  }
`);

const LABELS: Record<OrderStatus, string> = {
  PENDING: "Received",
  INVENTORY_RESERVED: "Items reserved",
  PAYMENT_AUTHORIZED: "Payment authorized",
  CONFIRMED: "Confirmed",
  CANCELLED: "Cancelled",
  FAILED: "Failed",
};

export function OrderPage({ id }: { id: string | undefined }) {
  const session = useSession();
  if (!session) return <p>Please <a href={href("/account")}>sign in</a> to see your orders.</p>;
  if (!id) return <p role="alert">No order named.</p>;
  return <Order key={id} id={id} />;
}

function Order({ id }: { id: string }) {
  const { data, error } = useQuery(ORDER, { variables: { id } });
  const [seen, setSeen] = useState<{ status: OrderStatus; at: string }[]>([]);
  const live = useSubscription(STATUS, {
    variables: { orderId: id },
    onData: ({ data: change }) => {
      const next = change.data?.orderStatusChanged;
      if (next) setSeen((before) => (before.at(-1)?.status === next.status ? before : [...before, { status: next.status, at: next.updatedAt }]));
    },
  });
  const status = seen.at(-1)?.status;
  // A cancelled or failed order changes no more: the server completes the subscription.
  const liveNote = live.error
    ? ` (live updates stopped: ${problemsOf(live.error).map(describe).join("; ")})`
    : status === "CANCELLED" || status === "FAILED"
      ? " (final)"
      : live.loading
        ? " (connecting…)"
        : " (live)";
  const order = data?.order;
  if (error) return <p role="alert">{problemsOf(error).map(describe).join("; ")}</p>;
  return (
    <article className="order-page">
      <h1>Order {id.slice(0, 8)}</h1>
      <p className="status" role="status" aria-live="polite" data-status={status ?? ""}>
        Status: <strong>{status ? LABELS[status] : "…"}</strong> <code>{status}</code>
        <span className="live">{liveNote}</span>
      </p>
      <ol className="timeline" aria-label="Status history">
        {seen.map((s) => <li key={s.status}>{LABELS[s.status]} <time dateTime={s.at}>{formatDate(s.at)}</time></li>)}
      </ol>
      {order && (
        <>
          <table className="order-items">
            <caption>Items</caption>
            <thead><tr><th scope="col">Product</th><th scope="col">Quantity</th><th scope="col">Unit price</th><th scope="col">Total (after discount, with tax)</th></tr></thead>
            <tbody>
              {order.items.map((item) => (
                <tr key={item.line}>
                  <th scope="row">{item.productName}{item.variantLabel && <span className="options">{item.variantLabel}</span>}</th>
                  <td data-label="Quantity">{item.quantity}</td>
                  <td data-label="Price">{formatMoney(item.unitPrice)}</td>
                  <td data-label="Total">{formatMoney(item.total)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <dl className="totals">
            <div><dt>Subtotal</dt><dd>{formatMoney(order.subtotal)}</dd></div>
            <div><dt>Discount</dt><dd>−{formatMoney(order.discountTotal)}</dd></div>
            <div><dt>Shipping{order.shippingMethod ? ` (${order.shippingMethod.name})` : ""}</dt><dd>{formatMoney(order.shippingPrice)}</dd></div>
            <div><dt>Tax</dt><dd>{formatMoney(order.taxTotal)}</dd></div>
            <div className="total"><dt>Total</dt><dd>{formatMoney(order.total)}</dd></div>
          </dl>
          {order.shippingAddress && (
            <p>Ships to {order.shippingAddress.name}, {order.shippingAddress.line1}, {order.shippingAddress.postalCode} {order.shippingAddress.city}, {order.shippingAddress.country}</p>
          )}
          <p>Placed {formatDate(order.createdAt)}</p>
        </>
      )}
    </article>
  );
}
