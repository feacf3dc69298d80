"""Issuing and verifying access tokens (PyJWT), and revoking them before they expire (Redis)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx
import jwt
from redis.asyncio import Redis

from shared.auth.keys import KeyRing, PublicKeyEntry
from shared.auth.principal import Principal, Role
from shared.errors import Unauthenticated
from shared.redis_client import mget

# Never "none", never an HMAC algorithm: a public key must not be usable as a shared secret.
ALLOWED_ALGORITHMS = frozenset({"EdDSA", "RS256"})
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]
# Tokens whose signature and claims a verifier remembers (`TokenVerifier.verify`).
VERIFIED_TOKENS_KEPT = 1024


@dataclass(frozen=True)
class AccessToken:
    token: str
    token_id: str
    expires_at: datetime


class TokenIssuer:
    def __init__(self, keys: KeyRing, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        if keys.signing is None:
            raise ValueError("this process has no JWT signing key")
        self.key = keys.signing
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds

    def issue(
        self,
        subject: str,
        roles: Iterable[str],
        *,
        ttl_seconds: int | None = None,
        session_id: str | None = None,
        email_verified: bool | None = None,
        scopes: Iterable[str] = (),
    ) -> AccessToken:
        """`session_id` (users' sign-ins): the `sid` claim, the opaque id of the token's session.
        `email_verified` (user tokens only): the claim of the same name. `scopes`: the `scope` claim's
        words (none: no claim)."""
        # Sub-second iat: a token issued right after a revocation must stay valid (see RevocationStore).
        now = round(time.time(), 3)
        expires = int(now) + (ttl_seconds or self.ttl_seconds)
        token_id = uuid.uuid4().hex
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "roles": sorted(set(roles)),
            "iat": now,
            "nbf": int(now),
            "exp": expires,
            "jti": token_id,
        }
        if session_id is not None:
            claims["sid"] = session_id
        if email_verified is not None:  # user tokens only: a service has no address to verify
            claims["email_verified"] = email_verified
        if scopes:
            claims["scope"] = " ".join(sorted(set(scopes)))
        token = jwt.encode(
            claims, self.key.private_key, algorithm=self.key.algorithm, headers={"kid": self.key.kid}
        )
        return AccessToken(token, token_id, datetime.fromtimestamp(expires, UTC))

    def issue_service_token(self, service: str, *, ttl_seconds: int = 300) -> AccessToken:
        return self.issue(f"service:{service}", [Role.SERVICE], ttl_seconds=ttl_seconds)


class KeySource(Protocol):
    async def get(self, kid: str) -> PublicKeyEntry | None: ...


class LocalKeySource:
    """The keys this process loaded itself (the users service, or any process sharing the key ring)."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    async def get(self, kid: str) -> PublicKeyEntry | None:
        return self.keys.public.get(kid)


class JwksKeySource:
    """Public keys fetched from the users service's JWKS, cached, refreshed when an unknown kid shows up."""

    def __init__(self, url: str, client: httpx.AsyncClient, *, min_refresh_seconds: float = 30.0) -> None:
        self.url = url
        self.client = client
        self.min_refresh_seconds = min_refresh_seconds
        self._keys: dict[str, PublicKeyEntry] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> PublicKeyEntry | None:
        entry = self._keys.get(kid)
        if entry is not None:
            return entry
        async with self._lock:
            # Forged kids must not turn every request into a JWKS fetch.
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self.min_refresh_seconds:
                await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            response = await self.client.get(self.url, timeout=5.0)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError):
            # Keep the keys we have; the caller answers UNAUTHENTICATED for the unknown kid.
            self._fetched_at = 0.0 if not self._keys else self._fetched_at
            return
        fresh: dict[str, PublicKeyEntry] = {}
        for key in keys:
            algorithm = key.algorithm_name
            if key.key_id and algorithm in ALLOWED_ALGORITHMS:
                fresh[key.key_id] = PublicKeyEntry(key.key_id, algorithm, key.key)
        self._keys = fresh


class RevocationStore:
    """Access tokens revoked before expiry: one token (logout) or every token of a user (role change)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def _token_key(self, token_id: str) -> str:
        return f"{self.prefix}revoked:token:{token_id}"

    def _user_key(self, subject: str) -> str:
        return f"{self.prefix}revoked:user:{subject}"

    async def revoke_token(self, token_id: str, expires_at: float) -> None:
        ttl = max(1, int(expires_at - time.time()) + 60)
        await self.redis.set(self._token_key(token_id), b"1", ex=ttl)

    async def revoke_user(self, subject: str, *, keep_seconds: int) -> None:
        """Every token of this subject issued until now stops working (kept as long as tokens live)."""
        await self.redis.set(self._user_key(subject), repr(time.time()), ex=keep_seconds + 60)

    async def revoked_among(self, principals: Sequence[Principal]) -> list[bool]:
        """`is_revoked` for many principals in one round trip (a process's subscriptions re-checking)."""
        keys = [key for p in principals for key in (self._token_key(p.token_id), self._user_key(p.subject))]
        # Keys of many users: on a Redis Cluster one MGET per slot (shared.redis_client.mget).
        values = await mget(self.redis, keys)
        return [
            values[2 * i] is not None
            or (values[2 * i + 1] is not None and p.issued_at <= float(values[2 * i + 1]))
            for i, p in enumerate(principals)
        ]

    async def is_revoked(self, principal: Principal) -> bool:
        keys = [self._token_key(principal.token_id), self._user_key(principal.subject)]
        token, user = await mget(self.redis, keys)
        if token is not None:
            return True
        return user is not None and principal.issued_at <= float(user)


class TokenVerifier:
    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = 10,
        revocations: RevocationStore | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_seconds
        self.revocations = revocations
        # Token -> (its principal, the key that verified it), oldest first. One request reaches
        # several subgraphs with the same token, and a client sends it for minutes: PyJWT's decode checks each
        # character of each segment in Python (about 0.3 ms a token). What is remembered is what does not
        # change: signature, issuer, audience, claims. Expiry, revocation and the key are checked every time.
        self._verified: dict[str, tuple[Principal, str, PublicKeyEntry]] = {}

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; `Unauthenticated` (with a reason) for anything else."""
        remembered = self._verified.get(token)
        if remembered is not None:
            principal, kid, entry = remembered
            if time.time() > principal.expires_at + self.leeway:
                self._verified.pop(token, None)
                raise Unauthenticated("Access token has expired.", reason="expired")
            if await self.keys.get(kid) is not entry:  # its key was retired or replaced: verify it again
                self._verified.pop(token, None)
                remembered = None
        if remembered is None:
            principal, kid, entry = await self._decode(token)
            self._verified[token] = (principal, kid, entry)
            if len(self._verified) > VERIFIED_TOKENS_KEPT:  # the oldest goes: it re-verifies when it returns
                self._verified.pop(next(iter(self._verified)), None)
        if self.revocations is not None and await self.revocations.is_revoked(principal):
            raise Unauthenticated("Access token has been revoked.", reason="revoked")
        return principal

    async def _decode(self, token: str) -> tuple[Principal, str, PublicKeyEntry]:
        """The principal of a token whose signature and claims are valid, and the key that verified it."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("Malformed access token.", reason="malformed") from exc
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise Unauthenticated("Access token algorithm is not accepted.", reason="algorithm")
        entry = await self.keys.get(kid) if isinstance(kid, str) else None
        if entry is None:
            raise Unauthenticated("Access token was signed by an unknown key.", reason="unknown_key")
        if entry.algorithm != algorithm:
            raise Unauthenticated("Access token algorithm does not match its key.", reason="algorithm")
        try:
            claims = jwt.decode(
                token,
                entry.key,
                algorithms=[entry.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("Access token has expired.", reason="expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("Access token is for another audience.", reason="audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("Access token is from another issuer.", reason="issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthenticated("Access token signature is invalid.", reason="signature") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("Access token is invalid.", reason="invalid") from exc
        roles = claims.get("roles")
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise Unauthenticated("Access token roles are invalid.", reason="invalid")
        principal = Principal(
            subject=str(claims["sub"]),
            roles=frozenset(roles),
            token_id=str(claims["jti"]),
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
            # Optional: service tokens and tokens issued before sessions were listed have none.
            session_id=sid if isinstance(sid := claims.get("sid"), str) else None,
            email_verified=claims.get("email_verified") is True,
            scopes=_scopes(claims.get("scope")),
        )
        return principal, str(kid), entry


def _scopes(claim: object) -> frozenset[str]:
    """The `scope` claim's words (a space-separated string, or a list of strings); nothing else counts."""
    if isinstance(claim, str):
        return frozenset(claim.split())
    if isinstance(claim, list):
        return frozenset(word for word in claim if isinstance(word, str) and word)
    return frozenset()
