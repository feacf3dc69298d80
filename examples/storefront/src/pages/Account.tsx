// Account: sign in or register; signed in, the profile (email verified or not), the address book, the
// orders, and sign out. Signing in brings a guest's cart along (mergeGuestCart).
import { useMutation, useQuery } from "@apollo/client/react";
import { useState, type FormEvent } from "react";
import { useStorefront } from "../context";
import { describe, problemsOf } from "../errors";
import { formatDate, formatMoney } from "../format";
import { graphql } from "../gql";
import { href, navigate, useRoute } from "../route";
import { getCartToken, getSession, setCartToken, setSession, useSession } from "../session";
import { AddressForm } from "./AddressForm";
import { ADDRESS_BOOK, ADD_ADDRESS, REMOVE_ADDRESS } from "./addressBook";

const LOGIN = graphql(`
  mutation Login($email: String!, $password: String!) {
    login(email: $email, password: $password) { accessToken refreshToken expiresAt user { id email } }
  }
`);

const REGISTER = graphql(`
  mutation Register($input: RegisterInput!) {
    register(input: $input) { email verificationRequired message }
  }
`);

const MERGE = graphql(`
  mutation MergeGuestCart($cartToken: String!) {
    mergeGuestCart(cartToken: $cartToken) { ...CartFields }
  }
`);

const LOGOUT = graphql(`
  mutation Logout($refreshToken: String) {
    logout(refreshToken: $refreshToken)
  }
`);

const ME = graphql(`
  query Me {
    me {
      id
      name
      email
      emailVerified
      orders(first: 10) { nodes { id status createdAt total { amount currency } } }
    }
  }
`);

const RESEND = graphql(`
  mutation ResendVerification {
    resendVerification
  }
`);

const CHANGE_EMAIL = graphql(`
  mutation ChangeEmail($newEmail: String!, $password: String!) {
    changeEmail(newEmail: $newEmail, password: $password)
  }
`);

export function AccountPage() {
  const session = useSession();
  return session ? <Profile /> : <SignIn />;
}

function SignIn() {
  const { identityChanged } = useStorefront();
  const next = useRoute().params.get("next") ?? "/account";
  const [login, signingIn] = useMutation(LOGIN);
  const [register, registering] = useMutation(REGISTER);
  const [merge] = useMutation(MERGE);
  const [message, setMessage] = useState<string | null>(null);

  const signIn = async (email: string, password: string) => {
    const answer = await login({ variables: { email, password } });
    const auth = answer.data?.login;
    if (!auth) return;
    setSession({ accessToken: auth.accessToken, refreshToken: auth.refreshToken, expiresAt: auth.expiresAt, email: auth.user.email });
    const guestCart = getCartToken();
    if (guestCart) {
      await merge({ variables: { cartToken: guestCart } }).catch(() => undefined); // an expired guest cart: nothing to bring
      setCartToken(null);
    }
    await identityChanged();
    // Where the sign-in was asked for (the checkout), unless the customer went elsewhere meanwhile.
    if (window.location.hash.startsWith("#/account")) navigate(next);
  };
  const onLogin = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setMessage(null);
    await signIn(String(form.get("email")), String(form.get("password"))).catch((e) => setMessage(problemsOf(e).map(describe).join("; ")));
  };
  const onRegister = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const input = { name: String(form.get("name")), email: String(form.get("email")), password: String(form.get("password")) };
    setMessage(null);
    try {
      const answer = await register({ variables: { input } });
      setMessage(answer.data?.register.message ?? "Registered.");
      await signIn(input.email, input.password);
    } catch (e) {
      setMessage(problemsOf(e).map(describe).join("; "));
    }
  };

  return (
    <div className="account-forms">
      <section aria-labelledby="login-heading">
        <h1 id="login-heading">Sign in</h1>
        <form onSubmit={onLogin}>
          <label>Email <input name="email" type="email" autoComplete="username" required /></label>
          <label>Password <input name="password" type="password" autoComplete="current-password" required /></label>
          <button type="submit" disabled={signingIn.loading}>Sign in</button>
        </form>
        <p><a href={href("/reset-password")}>Forgot your password?</a></p>
      </section>
      <section aria-labelledby="register-heading">
        <h2 id="register-heading">New here? Create an account</h2>
        <form onSubmit={onRegister}>
          <label>Name <input name="name" autoComplete="name" required /></label>
          <label>Email <input name="email" type="email" autoComplete="email" required /></label>
          <label>Password <input name="password" type="password" autoComplete="new-password" minLength={8} required /></label>
          <button type="submit" disabled={registering.loading}>Create account</button>
        </form>
      </section>
      <p role="status">{message}</p>
    </div>
  );
}

function Profile() {
  const { identityChanged } = useStorefront();
  const me = useQuery(ME);
  const book = useQuery(ADDRESS_BOOK);
  const [resend] = useMutation(RESEND);
  const [logout] = useMutation(LOGOUT);
  const [addAddress, adding] = useMutation(ADD_ADDRESS, { refetchQueries: [ADDRESS_BOOK] });
  const [removeAddress] = useMutation(REMOVE_ADDRESS, { refetchQueries: [ADDRESS_BOOK] });
  const [changeEmail, changingEmail] = useMutation(CHANGE_EMAIL);
  const [message, setMessage] = useState<string | null>(null);
  const run = (action: () => Promise<unknown>, done?: string) =>
    action().then(() => done && setMessage(done), (e) => setMessage(problemsOf(e).map(describe).join("; ")));

  const signOut = async () => {
    await logout({ variables: { refreshToken: getSession()?.refreshToken ?? null } }).catch(() => undefined);
    setSession(null);
    await identityChanged();
    navigate("/");
  };
  const user = me.data?.me;
  return (
    <div className="account">
      <h1>Your account</h1>
      {user && (
        <section aria-labelledby="profile-heading">
          <h2 id="profile-heading">{user.name}</h2>
          <p>
            {user.email} — {user.emailVerified ? "verified" : "not verified yet. "}
            {!user.emailVerified && (
              <>
                <a href={href("/verify-email")}>Enter the code we mailed you</a>{" "}
                <button type="button" onClick={() => run(() => resend(), "A new code is on its way.")}>Send a new code</button>
              </>
            )}
          </p>
        </section>
      )}
      <p role="status">{message}</p>
      <section aria-labelledby="orders-heading">
        <h2 id="orders-heading">Orders</h2>
        {user?.orders.nodes.length ? (
          <ul>
            {user.orders.nodes.map((o) => (
              <li key={o.id}><a href={href(`/orders/${o.id}`)}>{formatDate(o.createdAt)} — {formatMoney(o.total)} — {o.status}</a></li>
            ))}
          </ul>
        ) : <p>No orders yet.</p>}
      </section>
      <section aria-labelledby="addresses-heading">
        <h2 id="addresses-heading">Address book</h2>
        <ul>
          {book.data?.me?.addresses.map((a) => (
            <li key={a.id}>
              {a.name}, {a.line1}, {a.postalCode} {a.city}, {a.country}{a.isDefaultShipping ? " (default)" : ""}{" "}
              <button type="button" onClick={() => run(() => removeAddress({ variables: { id: a.id } }))}>Remove<span className="visually-hidden"> {a.line1}</span></button>
            </li>
          ))}
        </ul>
        <details>
          <summary>Add an address</summary>
          <AddressForm idPrefix="book" submitLabel="Save address" busy={adding.loading} onSubmit={(input) => run(() => addAddress({ variables: { input, isDefaultShipping: false } }), "Address saved.")} />
        </details>
      </section>
      <section aria-labelledby="email-heading">
        <h2 id="email-heading">Change your email address</h2>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            const form = new FormData(event.currentTarget);
            const variables = { newEmail: String(form.get("newEmail")), password: String(form.get("password")) };
            void run(() => changeEmail({ variables }), "A code is on its way to the new address: open its link to switch.");
          }}
        >
          <label>New email <input name="newEmail" type="email" autoComplete="email" required /></label>
          <label>Your password <input name="password" type="password" autoComplete="current-password" required /></label>
          <button type="submit" disabled={changingEmail.loading}>Change email</button>
        </form>
      </section>
      <button type="button" onClick={signOut}>Sign out</button>
    </div>
  );
}
