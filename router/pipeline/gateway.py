"""The gateway: the pipeline's GraphQL stages bound to one supergraph, with everything built from it (the API
schema, the caches of documents and plans, the executor and the subgraph clients). A hot reload swaps in a new
one (router/ops/reload.py); the edge and the telemetry stay (router/pipeline/entry.py).

    parse → bound the work → validate (document.py, cached by text) → select the operation (select.py) →
    coerce variables (variables.py) → demand control (cost.py) → authorize (authorization.py) → normalize →
    plan (plan.py, cached) → execute → shape (execute.py) → the answer's actual cost (cost.py)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from graphql import GraphQLEnumType, GraphQLSchema, OperationDefinitionNode, OperationType
from prometheus_client import CollectorRegistry

from router.execution.entity_cache import EntityCache, EntityCacheConfig
from router.execution.executor import Executor
from router.execution.incremental import IncrementalStream
from router.execution.shaper import Shaper
from router.execution.subscription import SubscriptionStream
from router.ops.telemetry import RouterTelemetry
from router.pipeline.authorization import AuthorizationConfig, AuthorizationStage, Rejected
from router.pipeline.cost import CostStage, DemandControlConfig
from router.pipeline.document import DocumentStages, PreparedDocument, RouterLimits
from router.pipeline.errors import (
    QUERY_PLANNING_FAILED,
    SUBSCRIPTION_TRANSPORT_REQUIRED,
    RequestError,
    error,
)
from router.pipeline.execute import ExecutionStage, PlannedOperation
from router.pipeline.plan import NO_DENIALS, PlanStage
from router.pipeline.request import Door, GraphQLRequest
from router.pipeline.select import check_method, select_operation
from router.pipeline.variables import coerce_variables
from router.planner import PlanningError, QueryPlan, select_defer
from router.supergraph import Supergraph, build_api_schema, load_supergraph
from router.supergraph.overrides import OverrideLabels, OverrideLabelsConfig, OverrideMetrics
from router.upstream.headers import HeaderPropagation
from router.upstream.resilient import ResilientSubgraphClient
from router.upstream.sockets import SubgraphSockets
from router.upstream.traffic_config import TrafficConfig
from router.upstream.transport import SubgraphTransport

__all__ = ["Gateway", "RouterLimits"]

# An answer of the stages: a response, or (a subscription on a streaming door) a stream of them, or (@defer
# for a client taking incremental delivery) its parts.
Answer = dict[str, Any] | SubscriptionStream | IncrementalStream


class Gateway:
    def __init__(
        self,
        supergraph: Supergraph,
        api_schema: GraphQLSchema,
        *,
        limits: RouterLimits = RouterLimits(),
        subgraph_urls: Mapping[str, str] | None = None,
        headers: HeaderPropagation | None = None,
        traffic: TrafficConfig = TrafficConfig(),
        entity_cache: EntityCacheConfig = EntityCacheConfig(),
        demand_control: DemandControlConfig = DemandControlConfig(),
        override_labels: OverrideLabelsConfig | None = None,
        authorization: AuthorizationConfig | None = None,
    ) -> None:
        self.supergraph = supergraph
        self.api_schema = api_schema
        self.limits = limits
        overrides = dict(subgraph_urls or {})
        # Subgraph name -> URL (readiness checks probe these).
        self.subgraphs: dict[str, str] = {
            s.name: overrides.get(s.name, s.url) for s in supergraph.subgraphs.values()
        }
        urls = {graph: self.subgraphs[s.name] for graph, s in supergraph.subgraphs.items()}
        # router.yaml's header and traffic settings name subgraphs; fetches name graphs.
        self.names = {graph: s.name for graph, s in supergraph.subgraphs.items()}
        unknown = sorted(set(traffic.subgraphs) - set(self.names.values()))
        if unknown:
            raise ValueError(f"traffic settings for unknown subgraphs: {', '.join(unknown)}")
        shaping = {graph: traffic.for_subgraph(name) for graph, name in self.names.items()}
        transport = SubgraphTransport(urls, timeouts={graph: c.timeout for graph, c in shaping.items()})
        outgoing = (headers or HeaderPropagation()).keyed(self.names)
        self.client = ResilientSubgraphClient(
            transport, outgoing, shaping, self.names, ignored_headers=traffic.dedup_ignored_headers
        )
        self.executor = Executor(supergraph, self.client, outgoing)
        self.entity_cache: EntityCache | None = None
        if entity_cache.enabled:
            self.entity_cache = EntityCache(entity_cache, self.names, frozenset(supergraph.types))
            self.executor.entity_cache = self.entity_cache
            transport.cache_control_graphs = self.entity_cache.graphs
        self.sockets = SubgraphSockets(urls)
        self.documents = DocumentStages(api_schema, limits)
        self.cost = CostStage(demand_control, api_schema, supergraph, limits.plan_cache_size)
        self.plans = PlanStage(api_schema, supergraph, limits.plan_cache_size)
        self.overrides = OverrideLabels(supergraph, override_labels)
        # None: nothing to authorize (no directive in the supergraph, or not asked to).
        self.authorization: AuthorizationStage | None = None
        if authorization is not None and authorization.enabled and supergraph.has_access_rules:
            self.authorization = AuthorizationStage(
                api_schema, supergraph, authorization, limits.plan_cache_size
            )
        self.execution = ExecutionStage(
            api_schema,
            self.executor,
            _shaper(supergraph, api_schema),
            self.sockets,
            request_timeout=traffic.request_timeout,
        )

    @classmethod
    def from_supergraph(
        cls,
        sdl: str,
        *,
        limits: RouterLimits = RouterLimits(),
        subgraph_urls: Mapping[str, str] | None = None,
        headers: HeaderPropagation | None = None,
        traffic: TrafficConfig = TrafficConfig(),
        entity_cache: EntityCacheConfig = EntityCacheConfig(),
        demand_control: DemandControlConfig = DemandControlConfig(),
        override_labels: OverrideLabelsConfig | None = None,
        authorization: AuthorizationConfig | None = None,
    ) -> Gateway:
        """A gateway over the supergraph SDL `sdl`."""
        supergraph, document, names = load_supergraph(sdl)
        return cls(
            supergraph,
            build_api_schema(document, names),
            limits=limits,
            subgraph_urls=subgraph_urls,
            headers=headers,
            traffic=traffic,
            entity_cache=entity_cache,
            demand_control=demand_control,
            override_labels=override_labels,
            authorization=authorization,
        )

    # -- the stages --------------------------------------------------------------------------------

    async def run(self, request: GraphQLRequest) -> Answer:
        """`request`'s answer; RequestError when it cannot run. Sets `request.operation` once selected."""
        # A document or plan not seen before is made in a worker thread (router/pipeline/document.py's
        # ColdWork), so no request holds the event loop for long. One seen before costs two cache look-ups and
        # no await (the hot path).
        query = request.query
        prepared = self.documents.lookup(query) if query is not None else None
        if prepared is None and query is not None:
            prepared = await self.documents.prepare_off_loop(query)
        try:
            admitted = self._admit(request, prepared)
            text = admitted.prepared.text
            labels = self.overrides.active(request.headers)  # per request, before the plan
            denied, restriction = NO_DENIALS, None
            if self.authorization is not None:
                denied, restriction = await self.authorization.authorize(
                    request, admitted.node, admitted.prepared.text, admitted.prepared.fragments
                )
            if restriction is not None and restriction.operation is None:
                operation, plan = restriction.client, QueryPlan(None)  # nothing left to fetch
            elif (
                planned_before := self.plans.lookup(text, request.operation_name, labels, denied)
            ) is not None:
                operation, plan = planned_before
            else:
                with _planning(admitted.node):
                    operation, plan = await self.plans.plan_off_loop(
                        text,
                        request.operation_name,
                        admitted.prepared,
                        admitted.node,
                        self.documents.cold,
                        labels,
                        denied,
                        restriction.operation if restriction is not None else None,
                    )
        except PlanningError as exc:  # a plan error is no request error: data null, and why
            return {"data": None, "errors": [error(str(exc), QUERY_PLANNING_FAILED)]}
        except Rejected as rejected:  # reject mode: nothing runs
            return {"data": None, "errors": rejected.errors}
        planned = PlannedOperation(
            admitted.prepared, admitted.node, operation, plan, admitted.variables, restriction
        )
        if planned.node.operation is OperationType.SUBSCRIPTION:
            return self.execution.subscribe(planned, request.headers)
        if plan.deferred is not None and request.incremental:
            defer = select_defer(plan.deferred, planned.variables)
            if defer is not None:  # else every fragment's `if` is false: answered whole
                return self.execution.incremental(planned, request.headers, defer)
        response = await self.execution.execute(planned, request.headers)
        prepared = planned.prepared
        self.cost.measure(
            prepared.text,
            request.operation_name,
            planned.node,
            prepared.fragments,
            planned.variables,
            response,
        )
        return response

    def plan(self, request: GraphQLRequest) -> PlannedOperation:
        """Every stage before execution, on the loop; RequestError, or PlanningError for a query or mutation
        that cannot be planned."""
        admitted = self._admit(request)
        with _planning(admitted.node):
            operation, plan = self.plans.plan(
                admitted.prepared.text,
                request.operation_name,
                admitted.prepared,
                admitted.node,
                self.overrides.active(request.headers),
            )
        return PlannedOperation(admitted.prepared, admitted.node, operation, plan, admitted.variables)

    def _admit(self, request: GraphQLRequest, prepared: PreparedDocument | None = None) -> _Admitted:
        """Every stage before the plan: the document, the operation, its variables and its cost."""
        prepared, node = self._select(request, prepared)
        if node.operation is OperationType.SUBSCRIPTION and not request.streams:
            raise RequestError.of(
                "subscriptions are served over WebSocket (graphql-transport-ws), Server-Sent Events"
                " (Accept: text/event-stream) or multipart HTTP"
                " (Accept: multipart/mixed;subscriptionSpec=1.0)",
                SUBSCRIPTION_TRANSPORT_REQUIRED,
            )
        variables = coerce_variables(self.api_schema, node, request.variables)
        # Before the plan: an operation over the cost limit reaches no subgraph (and is not planned).
        self.cost.check(prepared.text, request.operation_name, node, prepared.fragments, variables)
        return _Admitted(prepared, node, variables)

    def _select(
        self, request: GraphQLRequest, prepared: PreparedDocument | None = None
    ) -> tuple[PreparedDocument, OperationDefinitionNode]:
        """parse → bound the work → validate (cached by text; `prepared` when done already) → select the
        operation → check the method."""
        query = request.query
        assert query is not None  # the edge found the text of a persisted query
        if prepared is None:
            prepared = self.documents.prepare(query)
        if prepared.errors:
            raise RequestError(prepared.errors)
        assert prepared.document is not None
        node = request.operation = select_operation(prepared.document, request.operation_name)
        check_method(node, request.method, request.streams)
        return prepared, node

    # -- in process (tests, tools): the stages without the edge -----------------------------------

    async def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The response of a query or mutation; RequestError when it cannot run."""
        request = GraphQLRequest(
            query,
            dict(variables) if variables else None,
            operation_name,
            method=method,
            headers=dict(headers or {}),
        )
        answer = await self.run(request)
        assert isinstance(answer, dict)
        return answer

    def subscribe(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> SubscriptionStream | None:
        """The event stream of a subscription operation (nothing sent yet), None for a query or mutation."""
        request = GraphQLRequest(
            query,
            dict(variables) if variables else None,
            operation_name,
            door=Door.WEBSOCKET,
            headers=dict(headers or {}),
        )
        planned = self.plan(request)
        if planned.node.operation is not OperationType.SUBSCRIPTION:
            return None
        return self.execution.subscribe(planned, request.headers)

    def plan_text(
        self, query: str, operation_name: str | None = None, labels: frozenset[str] | None = None
    ) -> str:
        """The plan of an operation, printed (its variables need no values), with `labels` the active
        override labels (None: as a request without headers draws them)."""
        prepared, node = self._select(GraphQLRequest(query, None, operation_name))
        active = self.overrides.active() if labels is None else labels
        return str(self.plans.plan(query, operation_name, prepared, node, active)[1])

    # -- around it ----------------------------------------------------------------------------------

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """The subgraph client's metrics (breakers, retries, deduplication), the override labels drawn and the
        entity cache's on `/metrics`."""
        self.client.register_metrics(registry)
        registry.register(OverrideMetrics(self.overrides))
        if self.authorization is not None:
            self.authorization.register_metrics(registry)
        if self.entity_cache is not None:
            self.entity_cache.register_metrics(registry)
        self.execution.shared.register_metrics(registry)  # the subscriptions held on subgraphs

    def attach_telemetry(self, telemetry: RouterTelemetry) -> None:
        """Fetch metrics and spans, plan-node spans (router/ops/telemetry.py), the plan cache's hit counts,
        operation costs."""
        telemetry.instrument(self.executor, self.names)
        self.cost.metrics = telemetry.metrics
        plans = self.plans
        telemetry.metrics.watch_plan_cache(lambda: (plans.hits, plans.misses))

    async def close(self) -> None:
        await self.execution.shared.close()
        await self.client.close()
        await self.sockets.close()
        if self.entity_cache is not None:
            await self.entity_cache.close()


class _Admitted(NamedTuple):
    prepared: PreparedDocument
    node: OperationDefinitionNode
    variables: dict[str, Any]


@contextmanager
def _planning(node: OperationDefinitionNode) -> Iterator[None]:
    """A subscription that cannot be planned is a request error (no stream starts); a query or mutation
    answers data null and why (PlanningError goes on)."""
    try:
        yield
    except PlanningError as exc:
        if node.operation is OperationType.SUBSCRIPTION:
            raise RequestError.of(str(exc), QUERY_PLANNING_FAILED) from None
        raise


def _shaper(supergraph: Supergraph, api_schema: GraphQLSchema) -> Shaper:
    """The shaper of `api_schema`'s answers: objects of types outside it answer null, as do enum values."""
    hidden = frozenset(
        name
        for name, info in supergraph.types.items()
        if info.kind == "object" and name not in api_schema.type_map
    )
    enums = {
        name: frozenset(t.values)
        for name, t in api_schema.type_map.items()
        if isinstance(t, GraphQLEnumType) and not name.startswith("__")
    }
    return Shaper(supergraph, hidden, enums)
