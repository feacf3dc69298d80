"""deploy/kubernetes/ rendered offline (kubectl's kustomize from its wheel) and checked: every object valid
against the Kubernetes OpenAPI schemas, every overlay within our policy (manifests.violations), the router's
ConfigMaps the repository's own files, every subgraph deployed, migrated and networked with its real peers.
Each overlay is rendered once for the module."""

from __future__ import annotations

import copy
import os
from typing import Any

import kubernetes_validate
import pytest
import yaml
from manifests import (
    KUBERNETES_VERSION,
    KUSTOMIZE_ROOT,
    OVERLAYS,
    REPO,
    Doc,
    of_kind,
    render,
    strip,
    violations,
)

from myshop.devstack import PEERS
from shared.connection_budget import ServerLimit, check_process, demand_of


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Doc]]:
    """Each overlay's apps (`dev`, `production`) and migration Jobs (`dev/migrations`, ...)."""
    paths = [*OVERLAYS, *(f"{overlay}/migrations" for overlay in OVERLAYS)]
    return {path: render(KUSTOMIZE_ROOT / "overlays" / path) for path in paths}


def subgraphs() -> list[str]:
    return list(yaml.safe_load((REPO / "supergraph.yaml").read_text())["subgraphs"])


def test_every_object_is_valid_against_the_kubernetes_schemas(rendered: dict[str, list[Doc]]) -> None:
    errors = []
    for path, docs in rendered.items():
        for doc in docs:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(
                    f"{path}: {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}"
                )
    assert errors == []
    assert sum(len(docs) for docs in rendered.values()) > 100


def test_the_schema_check_can_fail(rendered: dict[str, list[Doc]]) -> None:
    deployment = copy.deepcopy(of_kind(rendered["production"], "Deployment")["orders"])
    deployment["spec"]["replica"] = 2  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_keeps_the_policy(rendered: dict[str, list[Doc]], overlay: str) -> None:
    production = overlay == "production"
    assert violations(rendered[overlay], production=production) == []
    assert violations(rendered[f"{overlay}/migrations"], production=production) == []


def test_a_container_without_probes_or_limits_fails_the_policy(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["production"]
    no_probes = violations(
        strip(docs, "Deployment", "payments", "readinessProbe", "startupProbe"), production=True
    )
    assert no_probes == [
        "Deployment/payments/myshop: no readinessProbe on /health/ready",
        "Deployment/payments/myshop: no startupProbe on /health",
    ]
    no_limits = copy.deepcopy(docs)
    for doc in no_limits:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "router":
            del doc["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
            doc["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = (
                False
            )
    assert violations(no_limits, production=True) == [
        "Deployment/router/myshop: no cpu limits",
        "Deployment/router/myshop: no memory limits",
        "Deployment/router/myshop: writable root filesystem",
    ]


def test_production_without_an_autoscaler_or_a_budget_fails_the_policy(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = [
        doc
        for doc in rendered["production"]
        if not (
            doc["kind"] in ("HorizontalPodAutoscaler", "PodDisruptionBudget")
            and doc["metadata"]["name"] == "users"
        )
    ]
    assert violations(docs, production=True) == [
        "Deployment/users: no PodDisruptionBudget",
        "Deployment/users: no HorizontalPodAutoscaler",
    ]
    assert "Deployment/users: no HorizontalPodAutoscaler" not in violations(docs, production=False)


def test_a_secret_value_in_a_manifest_fails_the_policy(rendered: dict[str, list[Doc]]) -> None:
    docs = copy.deepcopy(rendered["production"])
    container = of_kind(docs, "Deployment")["orders"]["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "MYSHOP_SERVICE_SECRET", "value": "hunter2"})
    docs.append(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oops"}, "stringData": {"a": "b"}}
    )
    assert violations(docs, production=True) == [
        "Deployment/orders/myshop: MYSHOP_SERVICE_SECRET is a literal value, not a Secret reference",
        "Secret values in the overlay: oops",
    ]


def test_only_dev_carries_a_secret_and_production_references_one(rendered: dict[str, list[Doc]]) -> None:
    for path in ("production", "production/migrations"):
        assert of_kind(rendered[path], "Secret") == {}
    assert list(of_kind(rendered["dev"], "Secret")) == ["myshop-secrets"]
    assert "Secret" not in (KUSTOMIZE_ROOT / "base" / "kustomization.yaml").read_text().replace(
        "secretKeyRef", ""
    )
    referenced = {
        ref["secretKeyRef"]["key"]
        for doc in of_kind(rendered["production"], "Deployment").values()
        for container in doc["spec"]["template"]["spec"]["containers"]
        for ref in (env.get("valueFrom", {}) for env in container.get("env", []))
        if "secretKeyRef" in ref and ref["secretKeyRef"]["name"] == "myshop-secrets"
    }
    assert {
        "postgres-url",
        "redis-url",
        "service-secret",
        "jwt-private-key",
        "router-ops-token",
        "smtp-password",
    } <= referenced


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_subgraph_of_the_supergraph_is_deployed_served_and_migrated(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    names = subgraphs()
    assert set(of_kind(docs, "Deployment")) == {*names, "router", "console"}
    assert set(of_kind(docs, "Service")) == {*names, "router", "console"}
    assert set(of_kind(rendered[f"{overlay}/migrations"], "Job")) == {f"migrate-{name}" for name in names}
    router = of_kind(docs, "Deployment")["router"]["spec"]["template"]["spec"]["containers"][0]
    urls = dict(
        pair.split("=", 1)
        for pair in next(
            e["value"] for e in router["env"] if e["name"] == "MYSHOP_ROUTER_SUBGRAPH_URLS"
        ).split(",")
    )
    services = of_kind(docs, "Service")
    assert urls == {
        name: f"http://{name}:{services[name]['spec']['ports'][0]['port']}/graphql" for name in names
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migrations_run_the_apps_image(rendered: dict[str, list[Doc]], overlay: str) -> None:
    def images(docs: list[Doc]) -> set[str]:
        return {
            container["image"]
            for doc in docs
            if doc["kind"] in ("Deployment", "Job")
            for container in doc["spec"]["template"]["spec"]["containers"]
        }

    assert len(images(rendered[overlay])) == 1
    assert images(rendered[f"{overlay}/migrations"]) == images(rendered[overlay])


def test_the_router_reads_the_repositorys_router_yaml_and_supergraph(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["production"]
    maps = {
        name.rsplit("-", 1)[0] if name.startswith("router-config") else name: m
        for name, m in of_kind(docs, "ConfigMap").items()
    }
    assert (
        maps["supergraph"]["data"]["supergraph.graphql"]
        == (REPO / "schema" / "supergraph.graphql").read_text()
    )
    assert maps["router-config"]["data"]["router.yaml"] == (REPO / "router.yaml").read_text()
    # Mounted as directories: kubelet's symlink swap reaches the router (a subPath mount never changes).
    router = of_kind(docs, "Deployment")["router"]["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in router["containers"][0]["volumeMounts"]}
    assert all("subPath" not in mount for mount in mounts.values())
    args = router["containers"][0]["args"]
    assert args[args.index("--supergraph") + 1] == "/etc/myshop/supergraph/supergraph.graphql"
    assert args[args.index("--config") + 1] == "/etc/myshop/router/router.yaml"
    volumes = {v["name"]: v for v in router["volumes"]}
    assert volumes[mounts["/etc/myshop/supergraph"]["name"]]["configMap"]["name"] == "supergraph"


def _peers_allowed(docs: list[Doc]) -> dict[str, set[str]]:
    """Callee -> the pods (by name) its NetworkPolicy lets in."""
    allowed: dict[str, set[str]] = {}
    for policy in of_kind(docs, "NetworkPolicy").values():
        target = policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in policy["spec"].get("ingress", []):
            for source in rule.get("from", []):
                name = source.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                allowed.setdefault(target, set()).add(name)
    return allowed


def _egress(docs: list[Doc]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for policy in of_kind(docs, "NetworkPolicy").values():
        source = policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in policy["spec"].get("egress", []):
            for target in rule.get("to", []):
                name = target.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                if name:
                    out.setdefault(source, set()).add(name)
    return out


def test_network_policies_follow_who_calls_whom(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["production"]
    ingress, egress = _peers_allowed(docs), _egress(docs)
    names = subgraphs()
    expected_callers: dict[str, set[str]] = {name: {"router"} for name in names}
    for caller, peers in PEERS.items():
        for peer in peers:
            expected_callers[peer].add(caller)
    expected_callers["users"] |= set(names) - {"users"}  # JWKS and SERVICE tokens
    assert {name: ingress[name] for name in names} == expected_callers
    assert egress["router"] == set(names)
    for caller, peers in PEERS.items():
        assert set(peers) <= egress[caller]
    # A subgraph reaches no peer it does not call.
    for name in names:
        assert egress.get(name, set()) <= {*PEERS.get(name, ()), "users"}


def test_production_names_the_connection_settings_the_operator_sets(rendered: dict[str, list[Doc]]) -> None:
    env: dict[str, Any] = next(
        m["data"]
        for name, m in of_kind(rendered["production"], "ConfigMap").items()
        if name.startswith("myshop-env")
    )
    assert env["MYSHOP_ENV"] == "production"
    for name in (
        "MYSHOP_DB_POOL_SIZE",
        "MYSHOP_DB_MAX_OVERFLOW",
        "MYSHOP_DB_PGBOUNCER",
        "MYSHOP_REDIS_CLUSTER",
    ):
        assert name in env


# A default PostgreSQL: 100 connections, 3 for superusers, the default reserve.
DEFAULT_SERVER = ServerLimit(100, 3, 10)


def container_env(docs: list[Doc], deployment: str) -> dict[str, str]:
    """The environment `deployment`'s container starts with; Secret references get stand-in values."""
    spec = of_kind(docs, "Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]
    maps = of_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]]["data"])
    stand_ins = {"postgres-url": "postgresql+asyncpg://u:p@db:5432/postgres", "redis-url": "redis://r:6379/0"}
    for entry in spec.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif (ref := entry["valueFrom"].get("secretKeyRef")) and not ref.get("optional"):
            env[entry["name"]] = stand_ins.get(ref["key"], f"stand-in-{ref['key']}")
    return env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_subgraph_accepts_its_overlays_settings(
    rendered: dict[str, list[Doc]], overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.app import check_settings
    from subgraphs import registry

    docs = rendered[overlay]
    for name in subgraphs():
        with monkeypatch.context() as patch:
            for key in [key for key in os.environ if key.startswith("MYSHOP_")]:
                patch.delenv(key)
            env = container_env(docs, name)
            if name == "users" and overlay == "production":
                env["MYSHOP_JWT_PRIVATE_KEY"] = "stand-in"  # the Secret's optional key production needs
            for key, value in env.items():
                patch.setenv(key, value)
            definition = registry.load(name)
            settings = definition.settings_class()
            assert settings.host == "0.0.0.0"
            assert settings.environment == ("production" if overlay == "production" else "development")
            check_settings(definition, settings)
            # Each overlay's pools fit a default PostgreSQL (100 connections) or go through PgBouncer.
            if not settings.db_pgbouncer:
                check_process(demand_of(settings), DEFAULT_SERVER, settings.db_services_on_server)


def site_settings(docs: list[Doc]) -> dict[str, str]:
    """The overlay's `myshop-sites` ConfigMap: where the browsers reach the router and the console."""
    return next(
        m["data"] for name, m in of_kind(docs, "ConfigMap").items() if name.startswith("myshop-sites-")
    )


def resolved_env(docs: list[Doc], deployment: str) -> dict[str, str]:
    """`deployment`'s own env, ConfigMap references resolved (the rendered names, hash suffix and all)."""
    container = of_kind(docs, "Deployment")[deployment]["spec"]["template"]["spec"]["containers"][0]
    maps = of_kind(docs, "ConfigMap")
    env: dict[str, str] = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif ref := entry["valueFrom"].get("configMapKeyRef"):
            data = maps[ref["name"]]["data"]
            if ref["key"] in data or not ref.get("optional"):
                env[entry["name"]] = data[ref["key"]]
    return env


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_console_is_served_by_myshop_sites_on_its_port_and_probed_on_health(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    docs = rendered[overlay]
    deployment = of_kind(docs, "Deployment")["console"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = resolved_env(docs, "console")

    assert container["args"][:2] == ["myshop", "sites"] and "--console" in container["args"]
    port = container["ports"][0]["containerPort"]
    assert env["MYSHOP_CONSOLE_PORT"] == str(port) and env["MYSHOP_CONSOLE_HOST"] == "0.0.0.0"
    assert of_kind(docs, "Service")["console"]["spec"]["ports"][0]["port"] == port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert env["MYSHOP_SITES_ROUTER_URL"] == site_settings(docs)["router-url"]
    # Only the console (and the router) take traffic from outside; the console calls no pod.
    policy = of_kind(docs, "NetworkPolicy")["console"]
    assert policy["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": port}]}]
    assert "console" not in _egress(docs)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_routers_cors_lets_the_consoles_origin_in(
    rendered: dict[str, list[Doc]], overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from router.config import RouterConfig
    from router.pipeline.edge.cors import CorsPolicy

    docs = rendered[overlay]
    for key in [key for key in os.environ if key.startswith("MYSHOP_ROUTER_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv(
        "MYSHOP_ROUTER_CORS__ORIGINS", resolved_env(docs, "router")["MYSHOP_ROUTER_CORS__ORIGINS"]
    )

    policy = CorsPolicy(RouterConfig.load(REPO / "router.yaml").cors)

    settings = site_settings(docs)
    console_origins = {"dev": "http://localhost:4010", "production": "https://console.shop.example.com"}
    assert policy.allows(console_origins[overlay])
    assert not policy.allows("https://evil.example.com")
    if overlay == "production":  # the overlay's own names, nothing of a laptop's
        assert settings["router-url"].startswith("https://")
        assert "localhost" not in settings["cors-origins"] + settings["router-url"]


def test_a_subgraph_open_to_all_fails_the_policy_where_the_console_may_be(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = copy.deepcopy(rendered["production"])
    policies = of_kind(docs, "NetworkPolicy")
    policies["products"]["spec"]["ingress"].append({"ports": [{"protocol": "TCP", "port": 4002}]})

    assert violations(docs, production=True) == [
        "Deployment/products: reachable from anywhere (only the router and the sites may be)"
    ]
    # A console without its own readiness rule would be probed on /health/ready, which it does not serve.
    console = of_kind(docs, "Deployment")["console"]["spec"]["template"]["spec"]["containers"][0]
    assert console["readinessProbe"]["httpGet"]["path"] == "/health"
