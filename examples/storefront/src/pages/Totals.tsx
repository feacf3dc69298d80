import { formatMoney } from "../format";
import type { CartFieldsFragment } from "../gql/graphql";

export function Totals({ cart }: { cart: CartFieldsFragment }) {
  const rows: [string, string][] = [
    ["Subtotal", formatMoney(cart.subtotal)],
    ...cart.discounts.map((d): [string, string] => [`Discount ${d.code ?? d.name}`, `−${formatMoney(d.amount)}`]),
    ["Shipping", cart.shippingMethodId ? formatMoney(cart.shippingPrice) : "chosen at checkout"],
    [cart.pricesIncludeTax ? "Tax (included)" : "Tax", formatMoney(cart.taxTotal)],
  ];
  return (
    <dl className="totals" aria-label="Totals">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
      <div className="total">
        <dt>Total</dt>
        <dd data-testid="cart-total">{formatMoney(cart.total)}</dd>
      </div>
    </dl>
  );
}
