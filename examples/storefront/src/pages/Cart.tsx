// The cart: its lines (quantity changed or removed), what the API noticed (a price changed, a product no
// longer sold), the totals, and the way to checkout.
import { useMutation } from "@apollo/client/react";
import { useState } from "react";
import { useCart } from "../cart";
import { describe, problemsOf } from "../errors";
import { formatMoney } from "../format";
import { graphql } from "../gql";
import { href } from "../route";
import { useSession } from "../session";
import { Totals } from "./Totals";

const UPDATE_LINE = graphql(`
  mutation UpdateCartLine($lineId: ID!, $quantity: Int!, $cartToken: String) {
    cartUpdateLine(lineId: $lineId, quantity: $quantity, cartToken: $cartToken) { ...CartFields }
  }
`);

const REMOVE_LINE = graphql(`
  mutation RemoveCartLine($lineId: ID!, $cartToken: String) {
    cartRemoveLine(lineId: $lineId, cartToken: $cartToken) { ...CartFields }
  }
`);

export function CartPage() {
  const session = useSession();
  const { cart, loading, error, cartToken } = useCart();
  const [updateLine] = useMutation(UPDATE_LINE);
  const [removeLine] = useMutation(REMOVE_LINE);
  const [problem, setProblem] = useState<string | null>(null);

  const run = async (action: () => Promise<unknown>) => {
    setProblem(null);
    try {
      await action();
    } catch (failure) {
      setProblem(problemsOf(failure).map(describe).join("; "));
    }
  };

  if (loading) return <p aria-live="polite">Loading your cart…</p>;
  if (error) return <p role="alert">{problemsOf(error).map(describe).join("; ")}</p>;
  if (!cart || cart.lines.length === 0) {
    return (
      <section>
        <h1>Your cart</h1>
        <p>Your cart is empty. <a href={href("/")}>Find something</a>.</p>
      </section>
    );
  }
  return (
    <section className="cart-page">
      <h1>Your cart</h1>
      {cart.notices.length > 0 && (
        <ul className="notices" aria-label="Notices">
          {cart.notices.map((n, i) => <li key={i}>{n.message}</li>)}
        </ul>
      )}
      <table className="cart-lines">
        <caption className="visually-hidden">Products in your cart</caption>
        <thead>
          <tr><th scope="col">Product</th><th scope="col">Price</th><th scope="col">Quantity</th><th scope="col">Total</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
        </thead>
        <tbody>
          {cart.lines.map((line) => {
            const options = line.variant.selectedOptions.map((o) => `${o.name}: ${o.value}`).join(", ");
            return (
              <tr key={line.id}>
                <th scope="row">
                  <a href={href(`/product/${line.product.id}`)}>{line.product.name}</a>
                  {options && <span className="options">{options}</span>}
                  {!line.available && <span className="stock-out">No longer available</span>}
                </th>
                <td data-label="Price">{formatMoney(line.unitPrice)}</td>
                <td data-label="Quantity">
                  <label className="visually-hidden" htmlFor={`quantity-${line.id}`}>Quantity of {line.product.name}</label>
                  <input
                    id={`quantity-${line.id}`}
                    type="number"
                    min={0}
                    max={1000}
                    defaultValue={line.quantity}
                    // Enter or leaving the field sets the quantity (0 removes the line).
                    onKeyDown={(e) => { if (e.key === "Enter") e.currentTarget.blur(); }}
                    onBlur={(e) => {
                      const quantity = Number(e.target.value);
                      if (Number.isInteger(quantity) && quantity !== line.quantity) {
                        void run(() => updateLine({ variables: { lineId: line.id, quantity, cartToken } }));
                      }
                    }}
                  />
                </td>
                <td data-label="Total">{formatMoney(line.total)}</td>
                <td>
                  <button type="button" onClick={() => run(() => removeLine({ variables: { lineId: line.id, cartToken } }))}>
                    Remove<span className="visually-hidden"> {line.product.name}</span>
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {problem && <p role="alert">{problem}</p>}
      <Totals cart={cart} />
      {session ? (
        <a className="button primary" href={href("/checkout")}>Checkout</a>
      ) : (
        <p>
          <a className="button primary" href={href("/account", { next: "/checkout" })}>Sign in to check out</a> — your cart comes with you.
        </p>
      )}
    </section>
  );
}
