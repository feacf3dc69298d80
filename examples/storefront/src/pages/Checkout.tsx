// Checkout, signed in: ship to an address of the address book or a new one, choose a shipping method among
// those the address allows, apply a voucher, pay with a sandbox token; the order page then follows it live.
import { useMutation, useQuery } from "@apollo/client/react";
import { useState } from "react";
import { CART, useCart } from "../cart";
import { describe, problemsOf, type ApiProblem } from "../errors";
import { formatMoney } from "../format";
import { graphql } from "../gql";
import type { AddressInput } from "../gql/graphql";
import { href, navigate } from "../route";
import { useSession } from "../session";
import { AddressForm } from "./AddressForm";
import { ADDRESS_BOOK, ADD_ADDRESS } from "./addressBook";
import { Totals } from "./Totals";

const SHIP_TO = graphql(`
  mutation ShipTo($addressId: ID, $address: AddressInput) {
    cartSetShippingAddress(addressId: $addressId, address: $address) { ...CartFields }
  }
`);

const CHOOSE_METHOD = graphql(`
  mutation ChooseShippingMethod($methodId: ID!) {
    cartSetShippingMethod(methodId: $methodId) { ...CartFields }
  }
`);

const APPLY_VOUCHER = graphql(`
  mutation ApplyVoucher($code: String!) {
    cartApplyVoucher(code: $code) { ...CartFields }
  }
`);

const REMOVE_VOUCHER = graphql(`
  mutation RemoveVoucher {
    cartRemoveVoucher { ...CartFields }
  }
`);

const CHECKOUT = graphql(`
  mutation CheckoutComplete($cartId: ID!, $paymentMethod: String!, $idempotencyKey: String!) {
    checkoutComplete(cartId: $cartId, paymentMethod: $paymentMethod, idempotencyKey: $idempotencyKey) {
      id
      status
      total { amount currency }
    }
  }
`);

// The payments sandbox decides by token (subgraphs/payments/providers.py); a real provider's card form
// would give a token of its own here.
const SANDBOX_TOKENS: [string, string][] = [
  ["tok_approve", "Test card: approved"],
  ["tok_decline", "Test card: declined"],
  ["tok_flaky", "Test card: fails once, then approved"],
  ["tok_timeout", "Test card: slow provider, then approved"],
];

export function CheckoutPage() {
  const session = useSession();
  if (!session) {
    return <p>Please <a href={href("/account", { next: "/checkout" })}>sign in</a> to check out.</p>;
  }
  return <Checkout />;
}

function Checkout() {
  const { cart, loading } = useCart();
  const book = useQuery(ADDRESS_BOOK);
  const [shipTo, shipping] = useMutation(SHIP_TO);
  const [addAddress] = useMutation(ADD_ADDRESS, { refetchQueries: [ADDRESS_BOOK] });
  const [chooseMethod] = useMutation(CHOOSE_METHOD);
  const [applyVoucher] = useMutation(APPLY_VOUCHER);
  const [removeVoucher] = useMutation(REMOVE_VOUCHER);
  const [checkout, placing] = useMutation(CHECKOUT, { refetchQueries: [CART] });
  const [problems, setProblems] = useState<ApiProblem[]>([]);
  const [voucher, setVoucher] = useState("");
  const [payment, setPayment] = useState("tok_approve");
  // The method just chosen shows checked while shipping quotes it (back to the cart's own when refused).
  const [chosenMethod, setChosenMethod] = useState<string | null>(null);
  // One key per attempt of this cart: a retry after a lost answer gets the same order, never a second one.
  const [attempt, setAttempt] = useState(() => crypto.randomUUID());

  const run = async (action: () => Promise<unknown>) => {
    setProblems([]);
    try {
      await action();
      return true;
    } catch (failure) {
      setProblems(problemsOf(failure));
      return false;
    }
  };

  if (loading) return <p aria-live="polite">Loading your cart…</p>;
  if (!cart || cart.lines.length === 0) return <p>Your cart is empty. <a href={href("/")}>Find something</a>.</p>;

  const addresses = book.data?.me?.addresses ?? [];
  const shipToNew = async (address: AddressInput, save: boolean) => {
    await run(async () => {
      if (save) {
        const saved = await addAddress({ variables: { input: address, isDefaultShipping: addresses.length === 0 } });
        await shipTo({ variables: { addressId: saved.data?.addAddress.id } });
      } else {
        await shipTo({ variables: { address } });
      }
    });
  };
  const placeOrder = async () => {
    setProblems([]);
    try {
      const placed = await checkout({ variables: { cartId: cart.id, paymentMethod: payment, idempotencyKey: attempt } });
      const order = placed.data?.checkoutComplete;
      if (order) navigate(`/orders/${order.id}`);
    } catch (failure) {
      setProblems(problemsOf(failure));
      setAttempt(crypto.randomUUID()); // refused: the next try is a new attempt
    }
  };
  const address = cart.shippingAddress;

  return (
    <div className="checkout">
      <h1>Checkout</h1>
      <section aria-labelledby="ship-heading">
        <h2 id="ship-heading">1. Shipping address</h2>
        {address && (
          <p data-testid="shipping-address">
            Shipping to {address.name}, {address.line1}, {address.postalCode} {address.city}, {address.country}
          </p>
        )}
        {addresses.length > 0 && (
          <fieldset>
            <legend>Your addresses</legend>
            {addresses.map((a) => (
              <button key={a.id} type="button" className="address-choice" disabled={shipping.loading} onClick={() => run(() => shipTo({ variables: { addressId: a.id } }))}>
                Ship to {a.name}, {a.line1}, {a.postalCode} {a.city}, {a.country}
              </button>
            ))}
          </fieldset>
        )}
        <details open={!address && addresses.length === 0}>
          <summary>{addresses.length ? "Ship to a new address" : "Enter an address"}</summary>
          <AddressForm idPrefix="ship" submitLabel="Ship to this address" busy={shipping.loading} withSaveOption onSubmit={shipToNew} />
        </details>
      </section>

      <section aria-labelledby="method-heading">
        <h2 id="method-heading">2. Shipping method</h2>
        {!address ? (
          <p>Choose an address first.</p>
        ) : cart.availableShippingMethods.length === 0 ? (
          <p role="alert">No shipping method delivers to {address.country}.</p>
        ) : (
          <fieldset>
            <legend className="visually-hidden">Shipping method</legend>
            {cart.availableShippingMethods.map(({ method, price }) => (
              <label key={method.id}>
                <input
                  type="radio"
                  name="shipping-method"
                  value={method.id}
                  checked={(chosenMethod ?? cart.shippingMethodId) === method.id}
                  onChange={async () => {
                    setChosenMethod(method.id);
                    await run(() => chooseMethod({ variables: { methodId: method.id } }));
                    setChosenMethod(null);
                  }}
                />
                {method.name} — {formatMoney(price)}, {method.minDeliveryDays}–{method.maxDeliveryDays} days
              </label>
            ))}
          </fieldset>
        )}
      </section>

      <section aria-labelledby="voucher-heading">
        <h2 id="voucher-heading">3. Voucher</h2>
        {cart.voucherCode ? (
          <p>
            Voucher <strong>{cart.voucherCode}</strong> applied.{" "}
            <button type="button" onClick={() => run(() => removeVoucher())}>Remove voucher</button>
          </p>
        ) : (
          <form className="inline-form" onSubmit={(e) => { e.preventDefault(); void run(() => applyVoucher({ variables: { code: voucher.trim() } })); }}>
            <label htmlFor="voucher-code">Voucher code</label>
            <input id="voucher-code" value={voucher} onChange={(e) => setVoucher(e.target.value)} required />
            <button type="submit">Apply</button>
          </form>
        )}
      </section>

      <section aria-labelledby="pay-heading">
        <h2 id="pay-heading">4. Payment</h2>
        <Totals cart={cart} />
        <fieldset>
          <legend>Payment method (sandbox)</legend>
          {SANDBOX_TOKENS.map(([token, label]) => (
            <label key={token}>
              <input type="radio" name="payment" value={token} checked={payment === token} onChange={() => setPayment(token)} />
              {label} <code>{token}</code>
            </label>
          ))}
        </fieldset>
        <button type="button" className="primary" disabled={placing.loading || !cart.shippingMethodId} onClick={placeOrder}>
          {placing.loading ? "Placing your order…" : `Pay ${formatMoney(cart.total)} and place order`}
        </button>
      </section>
      {problems.length > 0 && (
        <div role="alert" className="problems">
          {problems.map((p, i) => (
            <p key={i}>
              {describe(p)} {p.orderId && <a href={href(`/orders/${p.orderId}`)}>See the order</a>}
            </p>
          ))}
        </div>
      )}
    </div>
  );
}
