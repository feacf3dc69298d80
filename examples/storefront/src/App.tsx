// The shell: a header with the search box and links, one page per route, a skip link for keyboards.
import { useState, type FormEvent } from "react";
import { useCart } from "./cart";
import { AccountPage } from "./pages/Account";
import { ConfirmEmailChangePage, ResetPasswordPage, VerifyEmailPage } from "./pages/AccountTokens";
import { CartPage } from "./pages/Cart";
import { CheckoutPage } from "./pages/Checkout";
import { OrderPage } from "./pages/Order";
import { ProductPage } from "./pages/Product";
import { SearchPage } from "./pages/Search";
import { href, navigate, useRoute, type Route } from "./route";
import { useSession } from "./session";

function Page({ route }: { route: Route }) {
  const [first, second] = route.parts;
  switch (first) {
    case undefined:
    case "search":
      return <SearchPage key={route.params.toString()} params={route.params} />;
    case "product":
      return <ProductPage id={second} />;
    case "cart":
      return <CartPage />;
    case "checkout":
      return <CheckoutPage />;
    case "orders":
      return <OrderPage id={second} />;
    case "account":
      return <AccountPage />;
    case "verify-email":
      return <VerifyEmailPage token={route.params.get("token") ?? ""} />;
    case "confirm-email-change":
      return <ConfirmEmailChangePage token={route.params.get("token") ?? ""} />;
    case "reset-password":
      return <ResetPasswordPage token={route.params.get("token") ?? ""} />;
    default:
      return <p role="alert">No such page.</p>;
  }
}

function SearchBox({ initial }: { initial: string }) {
  const [text, setText] = useState(initial);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    navigate("/search", { q: text.trim() || undefined });
  };
  return (
    <form role="search" className="search-box" onSubmit={submit}>
      <label htmlFor="search-input" className="visually-hidden">
        Search products
      </label>
      <input id="search-input" type="search" value={text} placeholder="Search products" onChange={(e) => setText(e.target.value)} />
      <button type="submit">Search</button>
    </form>
  );
}

export function App() {
  const route = useRoute();
  const session = useSession();
  const { cart } = useCart();
  const count = cart?.lines.reduce((sum, line) => sum + line.quantity, 0) ?? 0;
  return (
    <>
      <a className="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header className="site-header">
        <a className="brand" href={href("/")}>MyShop</a>
        <SearchBox key={route.params.get("q") ?? ""} initial={route.params.get("q") ?? ""} />
        <nav aria-label="Main">
          <a href={href("/cart")} aria-label={`Cart, ${count} items`}>
            Cart <span className="badge">{count}</span>
          </a>
          <a href={href("/account")}>{session ? "Account" : "Sign in"}</a>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </>
  );
}
