"""Where a webhook may POST: http(s) URLs, and (in production) only public addresses.

A URL is refused unless it is an absolute http or https URL of at most 2048 characters without credentials,
fragment, whitespace or control characters. Where private targets are not allowed (production, see
`NotificationsSettings.webhook_private_targets`) its host must resolve only to public addresses: private,
loopback, link-local, multicast, reserved, unspecified and shared (CGNAT) ranges are refused, IPv4-mapped IPv6
addresses judged as the IPv4 address they carry. This is checked at registration (the host resolved then) AND
at every delivery, because a DNS answer can change: the dispatcher's connector resolves through
`GuardedResolver`, which drops refused addresses before aiohttp connects, so what was checked is what is
connected to (no window between a check and the connection).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import SplitResult, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from shared.errors import BadUserInput

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_SECONDS = 5.0
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(OSError):
    """A delivery's host resolves to no address a webhook may reach (an OSError: a failed connection)."""


def public_address(address: IPAddress) -> bool:
    """Whether a webhook may reach `address` where private targets are refused."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def parse_url(url: str, *, field: str = "input.url") -> SplitResult:
    """The URL's parts, or BAD_USER_INPUT naming `field`."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise BadUserInput(f"A webhook URL has 1 to {MAX_URL_LENGTH} characters.", field=field)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise BadUserInput("A webhook URL has no whitespace or control characters.", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadUserInput("Not a URL.", field=field) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise BadUserInput("A webhook URL is http or https.", field=field)
    if not parts.hostname:
        raise BadUserInput("A webhook URL names a host.", field=field)
    if parts.username is not None or parts.password is not None:
        raise BadUserInput("A webhook URL carries no credentials: the signature authenticates.", field=field)
    if parts.fragment or url.endswith("#"):
        raise BadUserInput("A webhook URL has no fragment.", field=field)
    if port == 0:
        raise BadUserInput("Not a URL.", field=field)
    return parts


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (the system resolver, bounded in time)."""
    literal = ip_literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


async def check_url(url: str, *, private_allowed: bool, field: str = "input.url") -> str:
    """A URL a webhook may target (as given), or BAD_USER_INPUT naming `field`."""
    parts = parse_url(url, field=field)
    if private_allowed:
        return url
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        addresses = await resolve(host, port)
    except (OSError, TimeoutError, UnicodeError) as exc:
        raise BadUserInput("The webhook URL's host does not resolve.", field=field) from exc
    if not addresses or not all(public_address(address) for address in addresses):
        raise BadUserInput(
            "The webhook URL's host resolves to a private, loopback or reserved address.", field=field
        )
    return url


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping public addresses only; none left: `TargetRefused`. (aiohttp does not ask a
    resolver about an IP literal: the dispatcher checks those itself.)"""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        allowed = [answer for answer in answers if public_address(ipaddress.ip_address(answer["host"]))]
        if not allowed:
            raise TargetRefused(f"{host} resolves to no public address: refused")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()
