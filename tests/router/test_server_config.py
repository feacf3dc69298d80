"""RouterConfig: defaults, a YAML file, the environment over the file, arguments over both."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import ConfigError, RouterConfig


def test_defaults_listen_on_4000_with_a_two_megabyte_body_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MYSHOP_ROUTER_PORT", "MYSHOP_ROUTER_HOST", "MYSHOP_ROUTER_MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    config = RouterConfig.load()
    assert (config.host, config.port) == ("127.0.0.1", 4000)
    assert config.max_body_bytes == 2 * 1024 * 1024
    assert config.limits().max_depth == 100


def test_yaml_then_environment_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "router.yaml"
    path.write_text(
        "listen: {host: 0.0.0.0, port: 4100}\n"
        "limits: {max_depth: 12, max_aliases: 30, max_body_bytes: 5000}\n"
        "subgraph_urls: {users: http://users:4001/graphql}\n"
    )
    monkeypatch.setenv("MYSHOP_ROUTER_MAX_DEPTH", "20")
    config = RouterConfig.load(path, port=4200)
    assert config.host == "0.0.0.0"
    assert config.port == 4200
    assert config.max_body_bytes == 5000
    assert config.limits().max_depth == 20
    assert config.limits().max_aliases == 30
    assert config.subgraph_urls == {"users": "http://users:4001/graphql"}


@pytest.mark.parametrize(
    "value",
    [
        "users=http://users:4001/graphql,products=http://products:4002/graphql",
        '{"users": "http://users:4001/graphql", "products": "http://products:4002/graphql"}',
    ],
)
def test_subgraph_urls_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("MYSHOP_ROUTER_SUBGRAPH_URLS", value)
    assert RouterConfig.load().subgraph_urls == {
        "users": "http://users:4001/graphql",
        "products": "http://products:4002/graphql",
    }


def test_malformed_subgraph_urls_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYSHOP_ROUTER_SUBGRAPH_URLS", "users")
    with pytest.raises(ValueError, match="name=url"):
        RouterConfig.load()


def test_unknown_yaml_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    path.write_text("limits: {max_dept: 3}\n")
    with pytest.raises(ConfigError, match="max_dept"):
        RouterConfig.load(path)
