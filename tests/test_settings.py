"""Settings: every URL, port and secret from the environment, each service's database movable on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from shared.app import create_subgraph_app
from shared.db import create_engine
from shared.settings import DEFAULT_PORTS
from subgraphs import registry

REPO = Path(__file__).resolve().parent.parent


def test_each_service_gets_its_own_database_on_the_shared_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYSHOP_POSTGRES_URL", "postgresql+asyncpg://postgres@db.example:5432/postgres")
    monkeypatch.setenv("MYSHOP_DATABASE_PREFIX", "shop_")
    users = registry.load("users").settings_class()
    assert users.effective_database_url == "postgresql+asyncpg://postgres@db.example:5432/shop_users"
    assert users.port == DEFAULT_PORTS["users"]


def test_a_service_database_url_moves_only_that_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "MYSHOP_PRODUCTS_DATABASE_URL", "postgresql+asyncpg://app:secret@catalog-db:5433/catalog"
    )
    monkeypatch.setenv("MYSHOP_PRODUCTS_PORT", "5002")
    products = registry.load("products").settings_class()
    users = registry.load("users").settings_class()
    assert products.effective_database_url == "postgresql+asyncpg://app:secret@catalog-db:5433/catalog"
    assert products.database_name == "catalog"
    assert products.port == 5002
    assert "catalog-db" not in users.effective_database_url
    assert users.port == DEFAULT_PORTS["users"]


def test_a_unix_socket_server_keeps_its_host_for_every_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYSHOP_POSTGRES_URL", "postgresql+asyncpg://postgres@/postgres?host=/tmp/pg")
    monkeypatch.setenv("MYSHOP_DATABASE_PREFIX", "myshop_")
    url = make_url(registry.load("users").settings_class().effective_database_url)
    assert (url.database, url.query["host"]) == ("myshop_users", "/tmp/pg")


def test_docker_compose_runs_every_service_on_its_port() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis"} <= set(services)
    for name in registry.SUBGRAPHS:
        assert name in services, f"docker-compose.yml lacks {name}"
        port = DEFAULT_PORTS[name]
        assert f"{port}:{port}" in services[name]["ports"]
        assert f"serve {name}" in " ".join(services[name]["command"])
        # the router sends each subgraph's requests to its compose service
        assert (
            f"{name}=http://{name}:{port}/graphql"
            in services["router"]["environment"]["MYSHOP_ROUTER_SUBGRAPH_URLS"]
        )


def test_a_production_users_service_refuses_to_start_without_a_configured_key() -> None:
    definition = registry.load("users")
    settings = definition.settings_class(environment="production", jwt_private_key=None)
    with pytest.raises(RuntimeError, match="MYSHOP_JWT_PRIVATE_KEY"):
        create_subgraph_app(definition, settings)


def test_a_production_service_refuses_to_start_with_no_way_to_verify_tokens() -> None:
    definition = registry.load("products")
    with pytest.raises(RuntimeError, match="MYSHOP_JWKS_URL"):
        create_subgraph_app(definition, definition.settings_class(environment="production", jwks_url=""))
    # With the JWKS of users configured (and a service secret of its own) it starts.
    create_subgraph_app(
        definition, definition.settings_class(environment="production", service_secret="a-real-secret")
    )


def test_a_production_service_refuses_the_development_service_secret() -> None:
    definition = registry.load("orders")
    with pytest.raises(RuntimeError, match="MYSHOP_SERVICE_SECRET"):
        create_subgraph_app(definition, definition.settings_class(environment="production"))


@pytest.mark.parametrize(
    ("environment", "pool", "overflow"),
    [({}, 10, 0), ({"MYSHOP_DB_POOL_SIZE": "4"}, 4, 0), ({"MYSHOP_DB_MAX_OVERFLOW": "3"}, 10, 3)],
    ids=["defaults", "pool only", "overflow"],
)
async def test_a_services_pool_keeps_its_size_and_opens_only_the_overflow_asked_for(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], pool: int, overflow: int
) -> None:
    monkeypatch.delenv("MYSHOP_DB_POOL_SIZE")  # the suite's own small pools (tests/conftest.py)
    monkeypatch.delenv("MYSHOP_DB_MAX_OVERFLOW")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = registry.load("users").settings_class()

    engine = create_engine(
        settings.effective_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )

    assert (engine.pool.size(), engine.pool._max_overflow) == (pool, overflow)  # type: ignore[attr-defined]
    await engine.dispose()
