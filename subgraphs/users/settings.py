"""Settings of the users service (`MYSHOP_USERS_*`): token lifetimes, password hashing cost, login limits."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.settings import ServiceSettings, service_config


class UsersSettings(ServiceSettings):
    model_config = service_config("users")
    service_name: ClassVar[str] = "users"

    # --- tokens ---
    # Access tokens are checked without a database round trip, so they live briefly; refresh tokens carry the
    # session and are revocable in Redis.
    access_token_ttl_seconds: int = Field(15 * 60, ge=60, le=24 * 3600)
    # A refresh family lives this long after its last use (sliding): an idle session ends after 14 days.
    refresh_token_ttl_seconds: int = Field(14 * 24 * 3600, ge=300)
    # A refresh token used again this soon after its first use, while the token it was rotated into is still
    # unused, gets the same new pair back (two tabs, a retried request) instead of ending the session as a
    # reuse. 0 turns the window off. See sessions.py for what a thief can do inside it.
    refresh_grace_seconds: float = Field(5.0, ge=0, le=30)
    # Sessions a user keeps at once: a sign-in beyond it ends the least recently used one (its access tokens
    # too), so a script signing in on every run cannot grow a user's sessions, and `mySessions`, without end.
    max_sessions_per_user: int = Field(50, ge=1, le=1000)
    # How long clients and peers may cache /.well-known/jwks.json: short, so a rotated key shows up soon.
    jwks_cache_seconds: int = Field(300, ge=0, le=3600)

    # --- password hashing: argon2id at OWASP's first recommended setting (m=19 MiB, t=2, p=1) ---
    # About 65 ms per hash on one core; a login costs one verification, so the cost is per attempt, which is
    # what makes an offline attack on a leaked table slow. Raising these rehashes each password at its next
    # login.
    argon2_time_cost: int = Field(2, ge=1)
    argon2_memory_cost_kib: int = Field(19 * 1024, ge=8 * 1024)
    argon2_parallelism: int = Field(1, ge=1, le=16)

    # --- rate limits (fixed windows in Redis, shared by every replica) ---
    # Per (account, client address): the first 4 attempts without a success go through at once, then each
    # waits twice as long as the one before (1 s, 2 s, 4 s, ... up to 15 minutes); a success starts afresh,
    # 24 h without an attempt too. Throttles a guesser at one address without touching the owner elsewhere.
    login_free_failures: int = Field(4, ge=0)
    login_backoff_base_seconds: float = Field(1.0, gt=0)
    login_backoff_max_seconds: float = Field(15 * 60, gt=0)
    login_pair_memory_seconds: int = Field(24 * 3600, ge=1)
    # Per account, from addresses it has not signed in from in 30 days: 100 attempts an hour (a guesser spread
    # over many addresses, each backing off). The addresses the owner signed in from are never refused by it.
    login_account_ceiling_attempts: int = Field(100, ge=1)
    login_account_ceiling_window_seconds: int = Field(3600, ge=1)
    login_known_address_seconds: int = Field(30 * 24 * 3600, ge=1)
    # Per client address: 20 attempts per 5 minutes whatever the accounts (credential stuffing from one
    # host), generous enough for a shared office NAT.
    login_address_attempts: int = Field(20, ge=1)
    login_address_window_seconds: int = Field(5 * 60, ge=1)
    # Per client address: 30 registrations per 10 minutes (generous, it only stops scripted sign-ups).
    register_address_attempts: int = Field(30, ge=1)
    register_address_window_seconds: int = Field(10 * 60, ge=1)
    # Failed guesses of the service secret at /oauth/token (a service with the right secret never counts):
    # per client address, 10 per 5 minutes; per client id (a service's name) from any address, 50 per 5
    # minutes. A client over either is refused even with the right secret, or the refusal would tell a
    # guesser when it hit. The per-client cap is looser: a guesser spread over many addresses can lock a
    # service out of new tokens for the window, so it only bounds them (a service renews its token a minute
    # before it expires and keeps working on it meanwhile).
    service_token_address_failures: int = Field(10, ge=1)
    service_token_address_window_seconds: int = Field(5 * 60, ge=1)
    service_token_client_failures: int = Field(50, ge=1)
    service_token_client_window_seconds: int = Field(5 * 60, ge=1)

    # --- account tokens (accounts.py): how long a mailed token works, and how often one is mailed ---
    verification_token_ttl_seconds: int = Field(48 * 3600, ge=60)
    password_reset_token_ttl_seconds: int = Field(3600, ge=60)
    email_change_token_ttl_seconds: int = Field(24 * 3600, ge=60)
    # resendVerification per user: 5 an hour (each one mails the user's own address).
    verification_resend_attempts: int = Field(5, ge=1)
    verification_resend_window_seconds: int = Field(3600, ge=1)
    # requestPasswordReset per client address: 10 per 15 minutes, then RATE_LIMITED (one host probing or
    # mail-bombing many addresses). Per account: 3 mails an hour; past that the answer stays the same and no
    # mail leaves, so nobody can flood an inbox or learn that the address has an account.
    password_reset_address_attempts: int = Field(10, ge=1)
    password_reset_address_window_seconds: int = Field(15 * 60, ge=1)
    password_reset_account_mails: int = Field(3, ge=1)
    password_reset_account_window_seconds: int = Field(3600, ge=1)
    # requestPasswordReset answers no sooner than this, known address or not (accounts.py says why): well
    # above the known path's own work (a few ms), short enough not to hold a connection for long.
    password_reset_answer_floor_seconds: float = Field(0.025, ge=0, le=1)
    # changeEmail per user: 5 an hour (each one mails an address the user names, and the old one).
    email_change_attempts: int = Field(5, ge=1)
    email_change_window_seconds: int = Field(3600, ge=1)
