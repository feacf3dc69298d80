// The pages the account mails link to: confirm an email address with its code, and reset a forgotten
// password (ask for a code, then set a new password with it). A code arrives in the link (`?token=`) or is
// typed in.
import { useMutation } from "@apollo/client/react";
import { useState, type FormEvent } from "react";
import { describe, problemsOf } from "../errors";
import { graphql } from "../gql";
import { href } from "../route";

const VERIFY = graphql(`
  mutation VerifyEmail($token: String!) {
    verifyEmail(token: $token) { id email emailVerified }
  }
`);

const CONFIRM_EMAIL_CHANGE = graphql(`
  mutation ConfirmEmailChange($token: String!) {
    confirmEmailChange(token: $token) { id email emailVerified }
  }
`);

const REQUEST_RESET = graphql(`
  mutation RequestPasswordReset($email: String!) {
    requestPasswordReset(email: $email)
  }
`);

const RESET = graphql(`
  mutation ResetPassword($token: String!, $newPassword: String!) {
    resetPassword(token: $token, newPassword: $newPassword)
  }
`);

function useOutcome() {
  const [message, setMessage] = useState<string | null>(null);
  const run = (action: () => Promise<unknown>, done: string) =>
    action().then(() => setMessage(done), (e) => setMessage(problemsOf(e).map(describe).join("; ")));
  return { message, run };
}

export function VerifyEmailPage({ token }: { token: string }) {
  const [verify, verifying] = useMutation(VERIFY);
  return <CodePage title="Confirm your email address" token={token} busy={verifying.loading} done="Your email address is confirmed." send={(code) => verify({ variables: { token: code } })} />;
}

export function ConfirmEmailChangePage({ token }: { token: string }) {
  const [confirm, confirming] = useMutation(CONFIRM_EMAIL_CHANGE);
  return <CodePage title="Confirm your new email address" token={token} busy={confirming.loading} done="Your account now uses the new address." send={(code) => confirm({ variables: { token: code } })} />;
}

function CodePage({ title, token, busy, done, send }: { title: string; token: string; busy: boolean; done: string; send(code: string): Promise<unknown> }) {
  const { message, run } = useOutcome();
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const code = String(new FormData(event.currentTarget).get("token")).trim();
    void run(() => send(code), done);
  };
  return (
    <section className="narrow">
      <h1>{title}</h1>
      <form onSubmit={submit}>
        <label>Code from the email <input name="token" defaultValue={token} required autoComplete="one-time-code" /></label>
        <button type="submit" disabled={busy}>Confirm</button>
      </form>
      <p role="status">{message}</p>
      <p><a href={href("/account")}>Back to your account</a></p>
    </section>
  );
}

export function ResetPasswordPage({ token }: { token: string }) {
  const [requestReset, requesting] = useMutation(REQUEST_RESET);
  const [reset, resetting] = useMutation(RESET);
  const { message, run } = useOutcome();
  const ask = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const email = String(new FormData(event.currentTarget).get("email")).trim();
    void run(() => requestReset({ variables: { email } }), "If the address has an account, a code is on its way (valid 1 hour).");
  };
  const change = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const variables = { token: String(form.get("token")).trim(), newPassword: String(form.get("newPassword")) };
    void run(() => reset({ variables }), "Your password is changed: sign in with it.");
  };
  return (
    <section className="narrow">
      <h1>Reset your password</h1>
      {!token && (
        <form onSubmit={ask} aria-label="Ask for a code">
          <label>Email <input name="email" type="email" autoComplete="email" required /></label>
          <button type="submit" disabled={requesting.loading}>Mail me a code</button>
        </form>
      )}
      <form onSubmit={change} aria-label="Set a new password">
        <label>Code from the email <input name="token" defaultValue={token} required autoComplete="one-time-code" /></label>
        <label>New password <input name="newPassword" type="password" autoComplete="new-password" minLength={8} required /></label>
        <button type="submit" disabled={resetting.loading}>Set new password</button>
      </form>
      <p role="status">{message}</p>
      <p><a href={href("/account")}>Sign in</a></p>
    </section>
  );
}
