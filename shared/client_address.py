"""Who a request really comes from: the TCP peer, or, when the peer is a proxy we trust, the right-most hop of
its `X-Forwarded-For` that is not itself trusted. One rule for the router (its `trusted_proxies`) and every
subgraph (the routers it trusts), so a rate limit counts the same address wherever it runs.

Why the right-most untrusted hop: each proxy appends the address it saw, so the hops right of the first
untrusted one were written by proxies we trust and that one by the last of them; everything to its left was
written by the client and proves nothing (a client rotating a forged header must not get a fresh bucket per
request).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FORWARDED_FOR = "x-forwarded-for"
UNKNOWN = "unknown"
# Hops examined from the right: a chain of trusted proxies is short; a client padding the header with
# thousands of trusted-looking entries must not make every request parse them all.
MAX_HOPS = 32
_LONGEST_ADDRESS = 72


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """`entries` (addresses or CIDR networks, e.g. `10.0.0.0/8`, `::1`) as networks; ValueError names a bad
    one (a configuration error, refused at start)."""
    networks: list[IPNetwork] = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise ValueError(f"not an IP address or network: {text!r}") from exc
        if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
            mapped = network.network_address.ipv4_mapped
            if mapped is not None:  # ::ffff:10.0.0.1 is 10.0.0.1: trust it under the name peers use
                network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
        networks.append(network)
    return tuple(networks)


def split_networks(value: str | Iterable[str]) -> list[str]:
    """A comma-separated list (an environment variable) or a list (YAML) as a list of entries."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part).strip() for part in value if str(part).strip()]


def trusted_entries(value: str | Iterable[str]) -> tuple[str, ...]:
    """A setting's list of trusted addresses or networks (comma-separated text or a list), each checked: a
    bad entry refuses the start, naming it (the router's `trusted_proxies`, the services' trusted routers)."""
    entries = tuple(split_networks(value))
    parse_networks(entries)
    return entries


def canonical(text: str) -> tuple[IPAddress, str] | None:
    """The address a hop or peer names (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::ffff:1.2.3.4` as IPv4) and
    its usual spelling, None when it names none (`unknown`, garbage)."""
    # No address is longer (an IPv6 with a zone and a port): a long hop is garbage, not worth caching.
    return _canonical(text) if len(text) <= _LONGEST_ADDRESS else None


# Cached, spelling included: a busy client's address is parsed once (str() of an address costs microseconds).
@lru_cache(maxsize=4096)
def _canonical(text: str) -> tuple[IPAddress, str] | None:
    text = text.strip()
    if text.startswith("["):  # [IPv6]:port
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4:port (Azure's and some load balancers' style)
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address, str(address)


class TrustedPeers:
    """The proxies (or routers) whose `X-Forwarded-For` is believed, and the rule that reads it."""

    __slots__ = ("_known", "networks")

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.networks = parse_networks(entries)
        # Address (its spelling: hashing an address object is slow) -> trusted: a bounded cache, so a trusted
        # check costs a dict look-up per request.
        self._known: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, parsed: tuple[IPAddress, str]) -> bool:
        """Whether an address (as `canonical` gives it) is one of ours."""
        known = self._known.get(parsed[1])
        if known is None:
            address = parsed[0]
            known = any(address in network for network in self.networks)
            if len(self._known) >= 4096:
                self._known.clear()
            self._known[parsed[1]] = known
        return known

    def client_address(self, peer: str | None, forwarded: str | None) -> str:
        """The client's address for a request from `peer` carrying `forwarded` (its `X-Forwarded-For`
        values joined by commas, None without one)."""
        if not peer:
            return UNKNOWN
        parsed = canonical(peer)
        if parsed is None:
            return peer  # not an IP peer (a Unix socket's path): nothing to believe or to compare
        if not forwarded or not self.networks or not self.trusts(parsed):
            return parsed[1]
        hops = forwarded.rsplit(",", MAX_HOPS)
        seen = 0
        for hop in reversed(hops):
            if seen == MAX_HOPS:
                break
            seen += 1
            hop_parsed = canonical(hop)
            if hop_parsed is None:
                # A trusted proxy writes addresses only: garbage came from the client, so the last hop we
                # could believe (the proxy that passed it on) is the best we know.
                break
            parsed = hop_parsed
            if not self.trusts(hop_parsed):
                break
        # Every hop trusted (a client inside the proxies' own network): the left-most we examined.
        return parsed[1]
