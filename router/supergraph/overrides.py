"""Progressive override (Federation 2.7, join v0.5): `@override(from: "a", label: "...")` moves a field to the
overriding subgraph only while its label is active. Labels are chosen per request before planning:
`percent(N)` is active with probability N/100 (N up to 9 decimals, as Apollo's spec allows); any other label
is active when router.yaml's `override_labels.active` names it, or when the request's allow-listed header
(`override_labels.header`) names one of `override_labels.from_header`. The plan cache keys on the active set,
so each combination is planned once (router/pipeline/plan.py)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict, Field, model_validator

from router.supergraph.model import FieldInfo, Supergraph

NO_LABELS: frozenset[str] = frozenset()
_PERCENT = re.compile(r"percent\((\d{1,3}(?:\.\d{1,9})?)\)")


class OverrideLabelsConfig(BaseModel):
    """router.yaml's `override_labels:` a list (the custom labels always active) or
    `{active: [...], header: x-override-labels, from_header: [...]}`."""

    model_config = ConfigDict(extra="forbid")

    active: list[str] = Field(default_factory=list)
    # A request header naming labels (comma-separated); only those in `from_header` count, so a client
    # cannot move any field it likes onto an unfinished subgraph.
    header: str | None = None
    from_header: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _a_list_is_active(cls, value: Any) -> Any:
        return {"active": value} if isinstance(value, list | tuple) else value


def percent_of(label: str) -> float | None:
    """N of a `percent(N)` label, None for a custom one."""
    match = _PERCENT.fullmatch(label)
    return float(match.group(1)) if match else None


class OverrideLabels:
    """The labels of one supergraph and how a request activates them."""

    def __init__(
        self,
        supergraph: Supergraph,
        config: OverrideLabelsConfig | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        config = config or OverrideLabelsConfig()
        self.labels = supergraph.override_labels
        self._percents = [(label, p) for label in sorted(self.labels) if (p := percent_of(label)) is not None]
        custom = self.labels - {label for label, _ in self._percents}
        self._always = frozenset(custom & set(config.active))
        self._header = config.header.lower() if config.header and custom else None
        self._from_header = frozenset(custom & set(config.from_header))
        self._rng = rng
        # Requests drawn (`active` calls), and how many of them had each label active: the share a field has
        # moved so far, on `/metrics`.
        self.requests = 0
        self.activations: dict[str, int] = dict.fromkeys(sorted(self.labels), 0)

    def active(self, headers: Mapping[str, str] | None = None) -> frozenset[str]:
        """The labels active for one request (`headers` lower-cased, as the edge keeps them)."""
        if not self.labels:
            return NO_LABELS
        active = set(self._always)
        for label, percent in self._percents:
            # rng() is in [0, 1): percent(0) is never active, percent(100) always.
            if self._rng() * 100 < percent:
                active.add(label)
        if self._header and headers:
            named = headers.get(self._header)
            if named:
                active.update(self._from_header.intersection(n.strip() for n in named.split(",")))
        self.requests += 1
        for label in active:
            self.activations[label] += 1
        return frozenset(active) if active else NO_LABELS


class OverrideMetrics(Collector):
    """Requests planned with each override label active, beside all requests of a labelled supergraph."""

    def __init__(self, labels: OverrideLabels) -> None:
        self.labels = labels

    def collect(self) -> Iterator[Metric]:
        if not self.labels.labels:
            return
        requests = CounterMetricFamily(
            "myshop_router_override_requests", "Requests planned over a supergraph with override labels."
        )
        requests.add_metric([], self.labels.requests)
        active = CounterMetricFamily(
            "myshop_router_override_label_active",
            "Requests planned with the label active (its field on the overriding subgraph).",
            labels=["label"],
        )
        for label, count in self.labels.activations.items():
            active.add_metric([label], count)
        yield requests
        yield active


def labelled_view(supergraph: Supergraph, active: frozenset[str]) -> Supergraph:
    """`supergraph` as the planner sees it with `active` labels: a labelled field is resolved by the
    overriding subgraph while its label is active, else by the one it overrides (the loader counts both)."""
    if not supergraph.override_labels:
        return supergraph
    graph_of = {s.name: graph for graph, s in supergraph.subgraphs.items()}
    types = dict(supergraph.types)
    for name, info in supergraph.types.items():
        fields: dict[str, FieldInfo] | None = None
        for field_name, field_info in info.fields.items():
            moved = _resolvers(field_info, active, graph_of)
            if moved is None:
                continue
            if fields is None:
                fields = dict(info.fields)
            fields[field_name] = replace(field_info, resolvers=moved)
        if fields is not None:
            types[name] = replace(info, fields=fields)
    return replace(supergraph, types=types)


def _resolvers(info: FieldInfo, active: frozenset[str], graph_of: Mapping[str, str]) -> frozenset[str] | None:
    """The field's resolvers with its labels applied, None for a field without a labelled override."""
    result: frozenset[str] | None = None
    for join in info.joins:
        if not (join.override and join.override_label):
            continue
        resolvers = result if result is not None else info.resolvers
        source = graph_of.get(join.override)
        if join.override_label in active:
            result = resolvers - {source} if source else resolvers
        else:
            result = resolvers - {join.graph}
    return result
