"""Refresh tokens: opaque, stored in Redis only by their SHA-256, rotated on every use, grouped in families.

One login (or registration) starts a family. Using a refresh token marks it used and hands out the next one
of its family. Presenting a used token again means two parties hold it (a thief, or a client replaying it):
the whole family is revoked, so the newest token dies too and the user has to sign in again.

Redis keys (`P` is `settings.redis_prefix`, every TTL is the refresh TTL):
- `P users:refresh:<sha256 hex>`    hash {family, user, used: 0|1}; TTL from the token's issue.
- `P users:family:<family id>`      string: the user id. Deleting it revokes every token of the family.
                                    TTL renewed at each rotation (a session ends after a TTL of idleness).
- `P users:user-families:<user id>` set of the user's family ids, for "sign out everywhere"; TTL renewed at
                                    each login and rotation, so it outlives every family it names.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

# Check and rotate in one step: of two concurrent uses of one token exactly one finds it unused.
_ROTATE = """
local token = redis.call('HMGET', KEYS[1], 'family', 'user', 'used')
if not token[1] or token[1] ~= ARGV[1] or token[2] ~= ARGV[2] then return 'unknown' end
if redis.call('EXISTS', KEYS[3]) == 0 then return 'unknown' end
if token[3] == '1' then
  redis.call('DEL', KEYS[3])
  redis.call('SREM', KEYS[4], ARGV[1])
  return 'reused'
end
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'used', '1')
redis.call('HSET', KEYS[2], 'family', ARGV[1], 'user', ARGV[2], 'used', '0')
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('EXPIRE', KEYS[3], ttl)
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('EXPIRE', KEYS[4], ttl)
return 'rotated'
"""

# Every family of a user at once, atomically: a login racing with it is either revoked or fully kept.
_REVOKE_USER = """
local families = redis.call('SMEMBERS', KEYS[1])
for _, family in ipairs(families) do
  redis.call('DEL', ARGV[1] .. family)
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


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RefreshTokens:
    def __init__(self, redis: Redis, prefix: str, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = f"{prefix}users:"
        self.ttl_seconds = ttl_seconds
        self._rotate = redis.register_script(_ROTATE)
        self._revoke_user = redis.register_script(_REVOKE_USER)

    def _token_key(self, token: str) -> str:
        return f"{self.prefix}refresh:{token_digest(token)}"

    def _family_key(self, family: str) -> str:
        return f"{self.prefix}family:{family}"

    def _user_key(self, user_id: str) -> str:
        return f"{self.prefix}user-families:{user_id}"

    async def start_family(self, user_id: str) -> RefreshToken:
        """A new session (login): a new family with its first token."""
        issued = RefreshToken(secrets.token_urlsafe(32), secrets.token_urlsafe(16), user_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._family_key(issued.family), user_id, ex=self.ttl_seconds)
            pipe.hset(
                self._token_key(issued.token), mapping={"family": issued.family, "user": user_id, "used": 0}
            )
            pipe.expire(self._token_key(issued.token), self.ttl_seconds)
            pipe.sadd(self._user_key(user_id), issued.family)
            pipe.expire(self._user_key(user_id), self.ttl_seconds)
            await pipe.execute()
        return issued

    async def owner(self, token: str) -> tuple[str, str] | None:
        """(family, user id) of a token we issued and still remember, used or not."""
        family, user_id = await self.redis.hmget(self._token_key(token), ["family", "user"])
        if family is None or user_id is None:
            return None
        return family.decode(), user_id.decode()

    async def rotate(self, token: str) -> RefreshOutcome:
        """Spend `token` and get the next one of its family, or learn why not."""
        found = await self.owner(token)
        if found is None:
            return RefreshOutcome(Rotation.UNKNOWN)
        family, user_id = found
        following = RefreshToken(secrets.token_urlsafe(32), family, user_id)
        result = await self._rotate(
            keys=[
                self._token_key(token),
                self._token_key(following.token),
                self._family_key(family),
                self._user_key(user_id),
            ],
            args=[family, user_id, self.ttl_seconds],
        )
        outcome = Rotation(result.decode() if isinstance(result, bytes) else result)
        if outcome is not Rotation.ROTATED:
            return RefreshOutcome(outcome, user_id=user_id, family=family)
        return RefreshOutcome(outcome, user_id=user_id, family=family, token=following)

    async def revoke_family(self, user_id: str, family: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._family_key(family))
            pipe.srem(self._user_key(user_id), family)
            await pipe.execute()

    async def revoke_user(self, user_id: str) -> int:
        """Sign the user out everywhere; the number of families that were still indexed."""
        return int(await self._revoke_user(keys=[self._user_key(user_id)], args=[self._family_key("")]))
