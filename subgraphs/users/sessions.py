"""Refresh tokens: opaque, stored in Redis only by their SHA-256, rotated on every use, grouped in families.

One login (or registration) starts a family. Using a refresh token marks it used and hands out the next one
of its family. Presenting a used token again means two parties hold it (a thief, or a client replaying it):
the whole family is revoked, so the newest token dies too and the user has to sign in again, and so are the
access tokens handed out with the family's refresh tokens (revoked in `RevocationStore` at once).

Grace window (`refresh_grace_seconds`, 5 s): a second use of a token within that time after its first use,
while the token it was rotated into is still unused, gets the same pair as the first use (two tabs, a retried
request whose answer was lost). The pair is kept sealed (AES-GCM under a key derived from the old token, which
Redis does not hold) for the window only. What a thief holding the old token can do inside the window: get the
same pair as the owner, without the reuse being noticed then. He cannot get a pair of his own, nor keep the
owner out: both hold one token, and whichever of them rotates it first makes the other's next use of it a
reuse (after the window), which ends the family and both access tokens. So theft inside the window is caught
at the next rotation instead of at once; outside it (or once the new token has been used) nothing changed.

Redis keys (`P` is `settings.redis_prefix`, `{U}` the hash tag of the user id, every TTL is the refresh TTL):
- `P users:{U}:refresh:<sha256 hex>`  hash {family, user, used: 0|1}; TTL from the token's issue.
- `P users:{U}:family:<family id>`    string: the user id. Deleting it revokes every token of the family.
                                      TTL renewed at each rotation (a session ends after a TTL of idleness).
- `P users:{U}:refresh-grace:<sha256 hex>` hash {next: digest of the token it was rotated into, pair: sealed};
                                      TTL the grace window.
- `P users:{U}:family-access:<family id>` hash {access token id: expiry}; TTL the newest access token's life.
- `P users:{U}:user-families`         set of the user's family ids, for "sign out everywhere" and the
                                      sessions list; TTL renewed at each login and rotation, so it outlives
                                      every family it names. Ids of expired families leave it when listed.
- `P users:{U}:session:<family id>`   hash {created, created_ip, created_ua, used, ip, ua}: what
                                      `mySessions` shows (sign-in and last use: time, client address, user
                                      agent). Written in the family's own pipeline or Lua step, same TTL,
                                      deleted with it.

Every key of a user shares the tag `{U}`, so the scripts and MULTIs below (which touch several of them, and
keys they build from ARGV) run on a Redis Cluster: one user's keys meet in one slot, users spread. A refresh
token names its user (`<user id>.<random>`: the access token it comes with names the user too), so its key
is found from the token alone. Tokens issued before this layout are unknown (their holders sign in again).

A session is a family. Outside Redis it is named by an opaque id, a keyed hash of the family id
(`session_id`): the id in `mySessions`, `endSession(id)` and the access tokens' `sid` claim is no Redis key,
and knowing it gives no right (ending a session needs its owner's access token).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shared.auth import AccessToken
from shared.redis_client import tagged

# Check and rotate in one step: of concurrent uses of one token exactly one rotates it. The winner leaves the
# pair it was given (sealed, see `_seal`) under KEYS[5] for the grace window; a use of the same token within
# that window, while the next token is still unused, gets that pair back instead of counting as a reuse.
# A rotation notes the use (time, address, user agent) in the session's record (KEYS[6]) in the same step.
_ROTATE = """
local token = redis.call('HMGET', KEYS[1], 'family', 'user', 'used')
if not token[1] or token[1] ~= ARGV[1] or token[2] ~= ARGV[2] then return {'unknown'} end
if redis.call('EXISTS', KEYS[3]) == 0 then return {'unknown'} end
if token[3] == '1' then
  local sealed = redis.call('HMGET', KEYS[5], 'next', 'pair')
  if sealed[1] and redis.call('HGET', ARGV[6] .. sealed[1], 'used') == '0' then
    return {'grace', sealed[2]}
  end
  redis.call('DEL', KEYS[3], KEYS[6])
  redis.call('SREM', KEYS[4], ARGV[1])
  return {'reused'}
end
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'used', '1')
redis.call('HSET', KEYS[2], 'family', ARGV[1], 'user', ARGV[2], 'used', '0')
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('HSET', KEYS[6], 'used', ARGV[8], 'ip', ARGV[9], 'ua', ARGV[10])
redis.call('EXPIRE', KEYS[6], ttl)
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('EXPIRE', KEYS[4], ttl)
if tonumber(ARGV[5]) > 0 then
  redis.call('HSET', KEYS[5], 'next', ARGV[7], 'pair', ARGV[4])
  redis.call('PEXPIRE', KEYS[5], math.floor(tonumber(ARGV[5]) * 1000))
end
return {'rotated'}
"""

# Every family of a user at once, atomically: a login racing with it is either revoked or fully kept.
_REVOKE_USER = """
local families = redis.call('SMEMBERS', KEYS[1])
for _, family in ipairs(families) do
  redis.call('DEL', ARGV[1] .. family, ARGV[2] .. family)
end
redis.call('DEL', KEYS[1])
return #families
"""


class Rotation(enum.Enum):
    ROTATED = "rotated"
    # No such token, or its family expired or was revoked.
    UNKNOWN = "unknown"
    # The token had been used before: its family has just been revoked.
    REUSED = "reused"
    # Used again within the grace window (a second tab, a retried request): the same pair as the first use.
    GRACE = "grace"


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token: str
    family: str
    user_id: str


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    result: Rotation
    user_id: str | None = None
    family: str | None = None
    token: RefreshToken | None = None
    # The access token handed out with `token` (ROTATED: the one given to `rotate`; GRACE: the first use's).
    access: AccessToken | None = None


# What is kept of a client's User-Agent header: enough to tell devices apart, bounded in Redis and in answers.
USER_AGENT_MAX_LENGTH = 256


@dataclass(frozen=True, slots=True)
class SeenFrom:
    """Where a session was used from: the client address and its User-Agent header (trimmed, or empty)."""

    ip: str
    user_agent: str

    @classmethod
    def of(cls, ip: str, user_agent: str | None) -> SeenFrom:
        printable = "".join(ch for ch in user_agent or "" if ch.isprintable()).strip()
        return cls(ip, printable[:USER_AGENT_MAX_LENGTH])


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A live session of a user, as `mySessions` shows it (user agent and address: empty when unknown)."""

    id: str
    created_at: datetime
    created_ip: str
    created_user_agent: str
    last_used_at: datetime
    ip: str
    user_agent: str


def session_id_key(service_secret: str) -> bytes:
    """The key of `RefreshTokens.session_id`'s hash: derived from the service secret for this purpose only."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"myshop users", info=b"session id v1").derive(
        service_secret.encode()
    )


def _text(value: bytes | None) -> str:
    return value.decode() if value is not None else ""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _sealing_key(token: str) -> bytes:
    # Another derivation of the old token than its Redis key: what Redis holds cannot open the pair, only the
    # holder of the old token can (a Redis dump or a MONITOR does not leak live tokens).
    return hashlib.sha256(b"myshop refresh grace\0" + token.encode()).digest()


def _seal(old_token: str, following: RefreshToken, access: AccessToken) -> str:
    pair = json.dumps(
        {
            "refresh": following.token,
            "access": access.token,
            "jti": access.token_id,
            "exp": access.expires_at.isoformat(),
        }
    ).encode()
    nonce = secrets.token_bytes(12)
    return base64.b64encode(nonce + AESGCM(_sealing_key(old_token)).encrypt(nonce, pair, None)).decode()


def _unseal(old_token: str, sealed: bytes) -> tuple[str, AccessToken] | None:
    raw = base64.b64decode(sealed)
    try:
        pair = json.loads(AESGCM(_sealing_key(old_token)).decrypt(raw[:12], raw[12:], None))
    except InvalidTag:
        return None
    access = AccessToken(pair["access"], pair["jti"], datetime.fromisoformat(pair["exp"]))
    return pair["refresh"], access


class RefreshTokens:
    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        ttl_seconds: int,
        session_id_key: bytes,
        grace_seconds: float = 0.0,
    ) -> None:
        self.redis = redis
        self.prefix = f"{prefix}users:"
        self.ttl_seconds = ttl_seconds
        self.grace_seconds = grace_seconds
        self._session_id_key = session_id_key
        self._rotate = redis.register_script(_ROTATE)
        self._revoke_user = redis.register_script(_REVOKE_USER)

    def _of(self, user_id: str) -> str:
        """The start of every key of `user_id` (its hash tag decides their Redis Cluster slot)."""
        return f"{self.prefix}{tagged(user_id)}:"

    def _token_key(self, token: str, user_id: str) -> str:
        return f"{self._of(user_id)}refresh:{token_digest(token)}"

    def _grace_key(self, token: str, user_id: str) -> str:
        return f"{self._of(user_id)}refresh-grace:{token_digest(token)}"

    def _family_access_key(self, user_id: str, family: str) -> str:
        return f"{self._of(user_id)}family-access:{family}"

    def _family_key(self, user_id: str, family: str) -> str:
        return f"{self._of(user_id)}family:{family}"

    def _user_key(self, user_id: str) -> str:
        return f"{self._of(user_id)}user-families"

    def _session_key(self, user_id: str, family: str) -> str:
        return f"{self._of(user_id)}session:{family}"

    @staticmethod
    def token_user(token: str) -> str | None:
        """The user a refresh token names (`<user id>.<random>`), None for anything else."""
        user_id, dot, rest = token.partition(".")
        if not dot or not rest or not user_id or "{" in user_id or "}" in user_id or len(user_id) > 64:
            return None
        return user_id

    @staticmethod
    def _new_token(user_id: str) -> str:
        return f"{user_id}.{secrets.token_urlsafe(32)}"

    @staticmethod
    def new_family() -> str:
        """The id of a session about to start (its access token names it before `start_family` runs)."""
        return secrets.token_urlsafe(16)

    def session_id(self, family: str) -> str:
        """The public, opaque id of the session `family`: a keyed hash, so it names no Redis key."""
        digest = hmac.new(self._session_id_key, family.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    async def start_family(
        self, user_id: str, access: AccessToken, *, family: str, seen: SeenFrom
    ) -> RefreshToken:
        """A new session (login): the family `family` (from `new_family`) with its first token, handed out
        with `access`, signed in from `seen`."""
        issued = RefreshToken(self._new_token(user_id), family, user_id)
        now = repr(time.time())
        session_key = self._session_key(user_id, issued.family)
        token_key = self._token_key(issued.token, user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            self._remember_access(pipe, user_id, issued.family, access)
            pipe.set(self._family_key(user_id, issued.family), user_id, ex=self.ttl_seconds)
            pipe.hset(
                session_key,
                mapping={
                    "created": now,
                    "created_ip": seen.ip,
                    "created_ua": seen.user_agent,
                    "used": now,
                    "ip": seen.ip,
                    "ua": seen.user_agent,
                },
            )
            pipe.expire(session_key, self.ttl_seconds)
            pipe.hset(token_key, mapping={"family": issued.family, "user": user_id, "used": 0})
            pipe.expire(token_key, self.ttl_seconds)
            pipe.sadd(self._user_key(user_id), issued.family)
            pipe.expire(self._user_key(user_id), self.ttl_seconds)
            await pipe.execute()
        return issued

    def _remember_access(self, pipe: Pipeline, user_id: str, family: str, access: AccessToken) -> None:
        # The family's access tokens (id -> expiry), so a reuse can revoke them, not only the refresh tokens.
        # Recorded before the token is handed out: a reuse detected meanwhile finds it.
        key = self._family_access_key(user_id, family)
        pipe.hset(key, access.token_id, repr(access.expires_at.timestamp()))
        # Each token outlives the ones before it: the newest expiry is the hash's.
        pipe.expire(key, max(1, int(access.expires_at.timestamp() - time.time()) + 60))

    async def family_access_tokens(self, user_id: str, family: str) -> list[tuple[str, float]]:
        """(token id, expiry) of the access tokens handed out with this family's refresh tokens."""
        found = await self.redis.hgetall(self._family_access_key(user_id, family))
        return [(jti.decode(), float(exp)) for jti, exp in found.items()]

    async def owner(self, token: str) -> tuple[str, str] | None:
        """(family, user id) of a token we issued and still remember, used or not."""
        named = self.token_user(token)
        if named is None:
            return None
        family, user_id = await self.redis.hmget(self._token_key(token, named), ["family", "user"])
        if family is None or user_id is None or user_id.decode() != named:
            return None
        return family.decode(), user_id.decode()

    async def rotate(
        self, token: str, owner: tuple[str, str], access: AccessToken, seen: SeenFrom
    ) -> RefreshOutcome:
        """Spend `token` (of `owner`, (family, user id)) from `seen` and get the next one of its family to
        hand out with `access`, or the pair a use of it within the grace window got, or learn why not."""
        family, user_id = owner
        following = RefreshToken(self._new_token(user_id), family, user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            self._remember_access(pipe, user_id, family, access)
            await pipe.execute()
        result = await self._rotate(
            keys=[
                self._token_key(token, user_id),
                self._token_key(following.token, user_id),
                self._family_key(user_id, family),
                self._user_key(user_id),
                self._grace_key(token, user_id),
                self._session_key(user_id, family),
            ],
            args=[
                family,
                user_id,
                self.ttl_seconds,
                _seal(token, following, access),
                self.grace_seconds,
                f"{self._of(user_id)}refresh:",
                token_digest(following.token),
                repr(time.time()),
                seen.ip,
                seen.user_agent,
            ],
        )
        status = result[0].decode() if isinstance(result[0], bytes) else result[0]
        outcome = Rotation(status)
        if outcome is Rotation.ROTATED:
            return RefreshOutcome(outcome, user_id=user_id, family=family, token=following, access=access)
        if outcome is Rotation.GRACE:
            unsealed = _unseal(token, result[1])
            if unsealed is None:
                return RefreshOutcome(Rotation.UNKNOWN, user_id=user_id, family=family)
            earlier = RefreshToken(unsealed[0], family, user_id)
            return RefreshOutcome(outcome, user_id=user_id, family=family, token=earlier, access=unsealed[1])
        return RefreshOutcome(outcome, user_id=user_id, family=family)

    async def revoke_family(self, user_id: str, family: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._family_key(user_id, family), self._session_key(user_id, family))
            pipe.srem(self._user_key(user_id), family)
            await pipe.execute()

    async def revoke_user(self, user_id: str) -> int:
        """Sign the user out everywhere; the number of families that were still indexed."""
        return int(
            await self._revoke_user(
                keys=[self._user_key(user_id)],
                args=[self._family_key(user_id, ""), self._session_key(user_id, "")],
            )
        )

    async def find_family(self, user_id: str, session_id: str) -> str | None:
        """The family of the user's session `session_id`, None when the user has no such session."""
        wanted = session_id.encode()
        for family in await self.redis.smembers(self._user_key(user_id)):
            if hmac.compare_digest(self.session_id(family.decode()).encode(), wanted):
                return family.decode()
        return None

    async def sessions(self, user_id: str) -> list[SessionRecord]:
        """The user's live sessions, last used first; ids of expired families leave the user's index."""
        return [record for _, record in await self._live(user_id)]

    async def least_recently_used(self, user_id: str, *, keeping: int) -> list[str]:
        """The families of the user's sessions beyond the `keeping` most recently used (none while the user
        has no more than that: one SCARD)."""
        if await self.redis.scard(self._user_key(user_id)) <= keeping:
            return []
        return [family for family, _ in (await self._live(user_id))[keeping:]]

    async def _live(self, user_id: str) -> list[tuple[str, SessionRecord]]:
        families = [family.decode() for family in await self.redis.smembers(self._user_key(user_id))]
        if not families:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for family in families:
                pipe.pttl(self._family_key(user_id, family))
                pipe.hgetall(self._session_key(user_id, family))
            found = await pipe.execute()
        now = time.time()
        live, stale = [], []
        for family, ttl_ms, info in zip(families, found[0::2], found[1::2], strict=True):
            if ttl_ms < 0:  # -2: expired or revoked (-1, no TTL, never happens: the key is set with one)
                stale.append(family)
                continue
            live.append((family, self._record(family, info, now - (self.ttl_seconds - ttl_ms / 1000))))
        if stale:
            await self.redis.srem(self._user_key(user_id), *stale)
        return sorted(live, key=lambda pair: pair[1].last_used_at, reverse=True)

    def _record(self, family: str, info: dict[bytes, bytes], renewed_at: float) -> SessionRecord:
        # A family started before sessions were recorded has no (or, once rotated, a partial) record: its last
        # renewal, read off its TTL, stands in for the times.
        used = float(info.get(b"used", renewed_at))
        created = float(info.get(b"created", used))
        return SessionRecord(
            id=self.session_id(family),
            created_at=datetime.fromtimestamp(created, UTC),
            created_ip=_text(info.get(b"created_ip")),
            created_user_agent=_text(info.get(b"created_ua")),
            last_used_at=datetime.fromtimestamp(used, UTC),
            ip=_text(info.get(b"ip")),
            user_agent=_text(info.get(b"ua")),
        )
