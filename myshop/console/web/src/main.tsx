// The admin console: sign in with an ADMIN account, then the shop's figures and chores, one page each.
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { Api, GraphQLFailure, routerUrl } from "./api";
import { BestSellers } from "./pages/BestSellers";
import { DeadLetters } from "./pages/DeadLetters";
import { Orders } from "./pages/Orders";
import { Sales } from "./pages/Sales";
import { Stock } from "./pages/Stock";
import "./styles.css";

const PAGES = [
  { path: "/sales", title: "Sales", Page: Sales },
  { path: "/best-sellers", title: "Best sellers", Page: BestSellers },
  { path: "/stock", title: "Low stock", Page: Stock },
  { path: "/orders", title: "Orders", Page: Orders },
  { path: "/dead-letters", title: "Dead letters", Page: DeadLetters },
];
const TOKEN_KEY = "myshop.console.token";
const LOGIN = `mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken user { email roles } }
}`;

function SignIn({ api, onSignedIn }: { api: Api; onSignedIn: (email: string) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const data = await api.request<{ login: { accessToken: string; user: { email: string; roles: string[] } } }>(
        LOGIN,
        { email, password },
      );
      if (!data.login.user.roles.includes("ADMIN")) {
        setError("This account is not an administrator.");
        return;
      }
      api.token = data.login.accessToken;
      sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ token: api.token, email: data.login.user.email }));
      onSignedIn(data.login.user.email);
    } catch (failure) {
      setError(failure instanceof GraphQLFailure ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="sign-in">
      <h1>MyShop admin console</h1>
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h2 id="sign-in-title">Sign in</h2>
        <label htmlFor="email">Email</label>
        <input id="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <label htmlFor="password">Password</label>
        <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
      <p className="hint">Router: <code>{api.url}</code></p>
    </main>
  );
}

function currentPath(): string {
  const path = window.location.pathname;
  return PAGES.some((page) => page.path === path) ? path : PAGES[0].path;
}

function Console({ api, email, onSignOut }: { api: Api; email: string; onSignOut: () => void }) {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const onPop = () => setPath(currentPath());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const page = PAGES.find((entry) => entry.path === path) ?? PAGES[0];
  useEffect(() => {
    document.title = `${page.title} · MyShop admin`;
  }, [page]);

  function go(event: React.MouseEvent, to: string) {
    event.preventDefault();
    window.history.pushState(null, "", to + window.location.search);
    setPath(to);
  }

  return (
    <>
      <header className="top">
        <span className="brand">MyShop admin</span>
        <nav aria-label="Console pages">
          <ul>
            {PAGES.map((entry) => (
              <li key={entry.path}>
                <a href={entry.path} aria-current={entry.path === page.path ? "page" : undefined} onClick={(e) => go(e, entry.path)}>
                  {entry.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who">{email}</span>
        <button type="button" onClick={onSignOut}>Sign out</button>
      </header>
      <main>
        <h1>{page.title}</h1>
        <page.Page api={api} />
      </main>
    </>
  );
}

function App({ api }: { api: Api }) {
  const [email, setEmail] = useState<string | null>(() => {
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (!saved) return null;
    const { token, email } = JSON.parse(saved) as { token: string; email: string };
    api.token = token;
    return email;
  });

  api.onSignedOut = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    api.token = null;
    setEmail(null);
  };

  function signOut() {
    const token = api.token;
    sessionStorage.removeItem(TOKEN_KEY);
    if (token) api.request("mutation { logout }").catch(() => undefined);
    api.token = null;
    setEmail(null);
  }

  return email ? <Console api={api} email={email} onSignOut={signOut} /> : <SignIn api={api} onSignedIn={setEmail} />;
}

routerUrl().then((url) => {
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <App api={new Api(url)} />
    </StrictMode>,
  );
});
