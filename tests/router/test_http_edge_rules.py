"""The HTTP edge's rules in process: which requests CSRF prevention lets through (Apollo's rule), which
origins CORS allows and what it answers them, which encoding an Accept-Encoding value gets, when
introspection is on. The servers' side of each is in tests/security/test_http_edge.py."""

from __future__ import annotations

import gzip

import brotli
import pytest
from pydantic import ValidationError

from router.config import RouterConfig
from router.ops.compression import CompressionConfig, ResponseCompression, chosen_encoding
from router.pipeline.edge.cors import CorsConfig, CorsPolicy, same_origin
from router.pipeline.edge.csrf import CsrfConfig, CsrfPrevention
from router.pipeline.errors import RequestError
from router.pipeline.introspection import IntrospectionConfig

CSRF = CsrfPrevention(CsrfConfig())


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/json"},
        {"content-type": "application/json; charset=utf-8"},
        {"content-type": "application/graphql-response+json"},
        {"content-type": "text/plain garbage"},  # not a media type: the browser preflights it
        {"apollo-require-preflight": "true"},
        {"x-apollo-operation-name": "Products"},
        {"content-type": "text/plain", "apollo-require-preflight": "1"},
        {"content-type": "multipart/form-data; boundary=x", "apollo-require-preflight": "true"},
    ],
)
def test_csrf_lets_through_what_a_browser_would_have_preflighted(headers: dict[str, str]) -> None:
    CSRF.check(headers)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"content-type": "text/plain"},
        {"content-type": "TEXT/PLAIN; charset=utf-8"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "multipart/form-data; boundary=x"},  # an upload needs the header, as in Apollo
        {"apollo-require-preflight": ""},
        {"x-csrf-token": "1"},
    ],
)
def test_csrf_refuses_what_a_browser_sends_cross_site_without_a_preflight(headers: dict[str, str]) -> None:
    with pytest.raises(RequestError) as refused:
        CSRF.check(headers)
    assert refused.value.code == "CSRF_ERROR"
    assert refused.value.status == 400


def test_csrf_takes_configured_header_names_case_insensitively() -> None:
    custom = CsrfPrevention(CsrfConfig(required_headers=("X-CSRF-Token",)))
    custom.check({"x-csrf-token": "1"})
    with pytest.raises(RequestError):
        custom.check({"apollo-require-preflight": "true"})


POLICY = CorsPolicy(
    CorsConfig(
        origins=("https://shop.example.com",),
        match_origins=(r"https://[a-z0-9-]+\.preview\.example\.com",),
        allow_credentials=True,
        max_age_seconds=600,
    )
)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example.com", True),
        ("https://pr-7.preview.example.com", True),
        ("http://shop.example.com", False),
        ("https://shop.example.com.evil.example", False),
        ("https://pr-7.preview.example.com.evil.example", False),  # a regex matches the whole origin
        ("null", False),
    ],
)
def test_cors_allows_listed_and_matching_origins_only(origin: str, allowed: bool) -> None:
    assert POLICY.allows(origin) is allowed
    headers = dict(POLICY.response_headers(origin))
    assert (b"access-control-allow-origin" in headers) is allowed
    assert headers[b"vary"] == b"origin"


def test_cors_credentials_and_preflight_caching() -> None:
    headers = POLICY.preflight_headers("https://shop.example.com", b"content-type, apollo-require-preflight")
    assert (b"access-control-allow-credentials", b"true") in headers
    assert (b"access-control-max-age", b"600") in headers
    assert (b"access-control-allow-headers", b"content-type, apollo-require-preflight") in headers


def test_cors_refuses_credentials_with_any_origin() -> None:
    with pytest.raises(ValidationError):
        CorsConfig(allow_any_origin=True, allow_credentials=True)


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:4000", "127.0.0.1:4000", True),
        ("https://shop.example.com", "shop.example.com", True),
        ("https://shop.example.com", "shop.example.com:443", True),
        ("https://evil.example", "shop.example.com", False),
        ("http://127.0.0.1:4001", "127.0.0.1:4000", False),
    ],
)
def test_same_origin_compares_the_origin_with_the_host(origin: str, host: str, same: bool) -> None:
    assert same_origin(origin, host) is same


@pytest.mark.parametrize(
    ("value", "coding"),
    [
        ("gzip", "gzip"),
        ("gzip, deflate, br", "br"),
        ("br;q=1.0, gzip;q=0.5", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("x-gzip", "gzip"),
        ("*", "br"),
        ("*, br;q=0", "gzip"),
        ("identity", None),
        ("gzip;q=0", None),
        ("*;q=0, deflate", None),
        ("deflate", None),
    ],
)
def test_accept_encoding_chooses_br_then_gzip(value: str, coding: str | None) -> None:
    assert chosen_encoding(value) == coding


async def test_compression_gzips_only_past_the_threshold() -> None:
    compression = ResponseCompression(CompressionConfig(min_bytes=100, thread_min_bytes=1000))
    for size in (2000, 500):  # off the loop, on it
        body, headers = await compression.encode(b"a" * size, "gzip")
        assert gzip.decompress(body) == b"a" * size
        assert (b"content-encoding", b"gzip") in headers
    body, headers = await compression.encode(b"a" * 500, "br")
    assert brotli.decompress(body) == b"a" * 500
    assert (b"content-encoding", b"br") in headers
    body, headers = await compression.encode(b"a" * 99, "gzip")
    assert body == b"a" * 99 and headers == ()
    body, headers = await compression.encode(b"a" * 100, "identity")
    assert body == b"a" * 100 and headers == ((b"vary", b"accept-encoding"),)


@pytest.mark.parametrize(
    ("environment", "enabled", "allowed"),
    [
        ("production", None, False),
        ("Production", None, False),
        ("development", None, True),
        ("test", None, True),
        ("production", True, True),
        ("development", False, False),
    ],
)
def test_introspection_is_off_in_production_unless_configured(
    environment: str, enabled: bool | None, allowed: bool
) -> None:
    assert IntrospectionConfig(enabled=enabled).allowed(environment) is allowed


def test_router_config_reads_the_edge_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYSHOP_ENV", "production")
    monkeypatch.setenv("MYSHOP_ROUTER_CSRF__ENABLED", "false")
    monkeypatch.setenv("MYSHOP_ROUTER_OPS__TOKEN", "t0ken")
    config = RouterConfig()
    assert config.introspection.allowed(config.environment) is False
    assert config.csrf.enabled is False
    assert config.ops.token is not None and config.ops.token.get_secret_value() == "t0ken"
