"""Login throttling without lockout: back-off per (account, client address), a ceiling per account that the
account's known addresses are exempt from. Checked, and the attempt claimed, before the password is hashed.

Redis keys (`P` is `settings.redis_prefix`; accounts and addresses only as SHA-256, never in clear):
- `P users:login:{A}:pair:<sha256(account, address)>`  hash {failures, wake}: attempts not followed by a
  success, and the time before which the next one is refused. Forgotten `login_pair_memory_seconds` after
  the last.
- `P users:login:{A}:known:<sha256(account, address)>` an address this account signed in from (for 30 days).
- `P users:login:{A}:ceiling`                           attempts from unknown addresses in the current window.
`{A}` is the hash tag `{sha256(account)}`: an account's keys meet in one Redis Cluster slot (the scripts touch
all three), different accounts spread.

An attempt is counted as a failure when it is let through (before the password is checked) and the count is
wiped by a success: concurrent guesses from one address cannot all pass the check before one of them fails.
The owner is never locked out by someone elsewhere: the back-off is per address, and the ceiling (reached only
by an attacker spread over many addresses, each backing off) spares the addresses the owner signed in from.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from shared.errors import RateLimited
from shared.redis_client import tagged

# KEYS: pair, ceiling, known. ARGV: now, free failures, base delay, max delay, pair memory, ceiling, window.
_CLAIM = """
local now = tonumber(ARGV[1])
local wake = tonumber(redis.call('HGET', KEYS[1], 'wake') or '0')
if wake > now then return {'pair', tostring(wake - now)} end
if redis.call('EXISTS', KEYS[3]) == 0 then
  local count = tonumber(redis.call('GET', KEYS[2]) or '0')
  if count >= tonumber(ARGV[6]) then return {'account', tostring(redis.call('TTL', KEYS[2]))} end
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[7]), 'NX')
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local delay = 0
local free = tonumber(ARGV[2])
if failures > free then
  delay = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (failures - free - 1))
end
redis.call('HSET', KEYS[1], 'wake', tostring(now + delay))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return {'allowed', tostring(delay)}
"""

# KEYS: pair, ceiling, known. ARGV: how long the address stays known. A success was no guess: an attempt from
# an address not yet known is taken back from the ceiling.
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[3]) == 0 and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
end
redis.call('SET', KEYS[3], '1', 'EX', tonumber(ARGV[1]))
return 1
"""


@dataclass(frozen=True, slots=True)
class Backoff:
    free_failures: int  # attempts from one address at an account before any wait
    base_seconds: float  # the first wait, doubled at each further attempt
    max_seconds: float
    pair_memory_seconds: int
    ceiling_attempts: int  # per account per window, from addresses it never signed in from
    ceiling_window_seconds: int
    known_address_seconds: int

    def delay_after(self, failures: int) -> float:
        """The wait before the next attempt after `failures` attempts without success (as `_CLAIM` does)."""
        if failures <= self.free_failures:
            return 0.0
        return min(self.max_seconds, self.base_seconds * 2 ** (failures - self.free_failures - 1))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class LoginThrottle:
    def __init__(self, redis: Redis, prefix: str, backoff: Backoff) -> None:
        self.redis = redis
        self.prefix = f"{prefix}users:login:"
        self.backoff = backoff
        self.clock = time.time  # a test's stand-in walks the back-off without waiting it
        self._claim = redis.register_script(_CLAIM)
        self._succeeded = redis.register_script(_SUCCEEDED)

    def _keys(self, account: str, address: str) -> tuple[str, str, str]:
        of_account = f"{self.prefix}{tagged(_digest(account))}:"
        return (
            f"{of_account}pair:{_digest(account, address)}",
            f"{of_account}ceiling",
            f"{of_account}known:{_digest(account, address)}",
        )

    async def claim(self, account: str, address: str) -> None:
        """Let one attempt at `account` from `address` through, counted as a failure until `succeeded`, or
        refuse it with `RATE_LIMITED` and `retryAfter` (seconds)."""
        b = self.backoff
        result = await self._claim(
            keys=list(self._keys(account, address)),
            args=[
                repr(self.clock()),
                b.free_failures,
                b.base_seconds,
                b.max_seconds,
                b.pair_memory_seconds,
                b.ceiling_attempts,
                b.ceiling_window_seconds,
            ],
        )
        status, wait = (item.decode() if isinstance(item, bytes) else str(item) for item in result)
        retry_after = max(1, math.ceil(float(wait)))
        if status == "pair":
            raise RateLimited("Too many sign-in attempts; wait before trying again.", retry_after=retry_after)
        if status == "account":
            raise RateLimited(
                "Too many sign-in attempts for this account; try again later.", retry_after=retry_after
            )

    async def succeeded(self, account: str, address: str) -> None:
        """The attempt signed in: its address starts afresh and is known to the account from now on."""
        await self._succeeded(
            keys=list(self._keys(account, address)), args=[self.backoff.known_address_seconds]
        )
