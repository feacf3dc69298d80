"""The router's pipeline, one stage after the other: parse → check limits → validate → select the
operation → coerce variables → normalize and plan → execute → shape. Parsing, validation and
planning are cached by the query text."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    parse,
    validate,
    value_from_ast_untyped,
)
from graphql.execution.values import get_variable_values
from prometheus_client import CollectorRegistry

from router.entity_cache import EntityCache, EntityCacheConfig
from router.executor import Executor
from router.headers import HeaderPropagation
from router.limits import alias_count, operation_depth
from router.planner import PlanningError, QueryPlan, QueryPlanner, Subscription
from router.planner.operation import Operation, normalize
from router.shaper import Shaper
from router.subscriptions import SubgraphSockets, SubscriptionStream
from router.supergraph import Supergraph, build_api_schema, load_supergraph
from router.telemetry import RouterTelemetry, current_request
from router.traffic import Traffic
from router.traffic_config import TrafficConfig
from router.transport import SubgraphClients

__all__ = ["Gateway", "RequestError", "RouterLimits"]


@dataclass(frozen=True)
class RouterLimits:
    max_depth: int = 100
    max_aliases: int = 1000
    max_tokens: int = 15000
    plan_cache_size: int = 1000


class RequestError(Exception):
    """The request cannot run at all: parse, validation, variables, limits, or a mutation over GET."""

    def __init__(self, errors: list[dict[str, Any]], status: int = 400) -> None:
        super().__init__(errors[0]["message"] if errors else "bad request")
        self.errors = errors
        self.status = status


def _error(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, **extra, "extensions": {"code": code}}


def _graphql_error(error: GraphQLError, code: str) -> dict[str, Any]:
    formatted = error.formatted
    formatted.setdefault("extensions", {})
    formatted["extensions"] = {**(formatted.get("extensions") or {}), "code": code}
    return dict(formatted)


class _LRU(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.hits = self.misses = 0

    def lookup(self, key: Any) -> Any:
        value = self.get(key)
        if value is not None:
            self.hits += 1
            self.move_to_end(key)
        else:
            self.misses += 1
        return value

    def store(self, key: Any, value: Any) -> Any:
        if self.size > 0:
            self[key] = value
            if len(self) > self.size:
                self.popitem(last=False)
        return value


@dataclass(slots=True)
class _Prepared:
    """A validated document (or the errors that refuse it)."""

    document: DocumentNode | None
    errors: list[dict[str, Any]] | None
    fragments: dict[str, FragmentDefinitionNode]


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
    ) -> None:
        self.supergraph = supergraph
        self.api_schema = api_schema
        self.limits = limits
        overrides = dict(subgraph_urls or {})
        self.subgraphs: dict[str, str] = {
            s.name: overrides.get(s.name, s.url) for s in supergraph.subgraphs.values()
        }
        urls = {graph: self.subgraphs[s.name] for graph, s in supergraph.subgraphs.items()}
        # router.yaml's header rules name subgraphs; fetches name graphs.
        names = {graph: s.name for graph, s in supergraph.subgraphs.items()}
        unknown = sorted(set(traffic.subgraphs) - set(names.values()))
        if unknown:
            raise ValueError(f"traffic settings for unknown subgraphs: {', '.join(unknown)}")
        shaping = {graph: traffic.for_subgraph(name) for graph, name in names.items()}
        self._clients = SubgraphClients(
            urls,
            headers=(headers or HeaderPropagation()).keyed(names),
            timeouts={graph: config.timeout for graph, config in shaping.items()},
        )
        self._traffic = Traffic(self._clients, shaping, names, ignored_headers=traffic.dedup_ignored_headers)
        self._request_timeout = traffic.request_timeout
        self._executor = Executor(supergraph, self._traffic)
        self._entity_cache: EntityCache | None = None
        if entity_cache.enabled:
            self._entity_cache = EntityCache(entity_cache, names, frozenset(supergraph.types))
            self._executor.entity_cache = self._entity_cache
            self._clients.cache_control_graphs = self._entity_cache.graphs
        self._sockets = SubgraphSockets(urls)
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
        self._shaper = Shaper(supergraph, hidden, enums)
        self._planner = QueryPlanner(supergraph, cache_size=0)
        self._documents = _LRU(limits.plan_cache_size)
        self._plans = _LRU(limits.plan_cache_size)

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
    ) -> Gateway:
        supergraph, document, names = load_supergraph(sdl)
        api_schema = build_api_schema(document, names)
        return cls(
            supergraph,
            api_schema,
            limits=limits,
            subgraph_urls=subgraph_urls,
            headers=headers,
            traffic=traffic,
            entity_cache=entity_cache,
        )

    # -- stages ----------------------------------------------------------------------------------

    def _prepare(self, query: str) -> _Prepared:
        prepared = self._documents.lookup(query)
        if prepared is not None:
            return prepared
        try:
            document = parse(query, no_location=False, max_tokens=self.limits.max_tokens)
        except GraphQLError as error:
            return self._documents.store(
                query, _Prepared(None, [_graphql_error(error, "GRAPHQL_PARSE_FAILED")], {})
            )
        errors: list[dict[str, Any]] = []
        depth = operation_depth(document)
        if depth > self.limits.max_depth:
            errors.append(
                _error(
                    f"query depth {depth} exceeds the limit of {self.limits.max_depth}", "MAX_DEPTH_EXCEEDED"
                )
            )
        aliases = alias_count(document)
        if aliases > self.limits.max_aliases:
            errors.append(
                _error(
                    f"{aliases} aliases exceed the limit of {self.limits.max_aliases}", "MAX_ALIASES_EXCEEDED"
                )
            )
        if not errors:
            errors = [
                _graphql_error(e, "GRAPHQL_VALIDATION_FAILED") for e in validate(self.api_schema, document)
            ]
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        return self._documents.store(query, _Prepared(document, errors or None, fragments))

    @staticmethod
    def _select(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name:
            for operation in operations:
                if operation.name is not None and operation.name.value == operation_name:
                    return operation
            raise RequestError(
                [_error(f"unknown operation named '{operation_name}'", "OPERATION_RESOLUTION_FAILURE")]
            )
        if len(operations) != 1:
            raise RequestError(
                [
                    _error(
                        "the document has several operations: give operationName",
                        "OPERATION_RESOLUTION_FAILURE",
                    )
                ]
            )
        return operations[0]

    def _variables(
        self, operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        inputs = dict(variables or {})
        definitions = operation.variable_definitions or ()
        coerced = get_variable_values(self.api_schema, definitions, inputs)
        if isinstance(coerced, list):
            raise RequestError([_graphql_error(e, "BAD_USER_INPUT") for e in coerced])
        # Subgraphs get the client's own JSON values (custom scalars stay as sent), defaults filled in.
        for definition in definitions:
            name = definition.variable.name.value
            if name not in inputs and definition.default_value is not None:
                inputs[name] = value_from_ast_untyped(definition.default_value)
        return inputs

    def _plan(
        self, query: str, operation_name: str | None, prepared: _Prepared, node: OperationDefinitionNode
    ) -> tuple[Operation, QueryPlan]:
        key = (query, operation_name)
        cached = self._plans.lookup(key)
        if cached is not None:
            return cached
        operation = normalize(self.api_schema, node, prepared.fragments)
        plan = self._planner.plan(key, operation)
        return self._plans.store(key, (operation, plan))

    # -- the pipeline ----------------------------------------------------------------------------

    def _checked(
        self, query: str, operation_name: str | None, method: str
    ) -> tuple[_Prepared, OperationDefinitionNode]:
        prepared = self._prepare(query)
        if prepared.errors:
            raise RequestError(prepared.errors)
        assert prepared.document is not None
        node = self._select(prepared.document, operation_name)
        if method.upper() == "GET" and node.operation is not OperationType.QUERY:
            raise RequestError(
                [_error("only queries may be sent with GET", "METHOD_NOT_ALLOWED")], status=405
            )
        return prepared, node

    async def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        prepared, node = self._checked(query, operation_name, method)
        request = current_request.get()
        if request is not None:  # the operation's type and name, for the request's metrics and span
            request.operation = node
        if node.operation is OperationType.SUBSCRIPTION:
            raise RequestError(
                [
                    _error(
                        "subscriptions are served over WebSocket (graphql-transport-ws) or Server-Sent Events"
                        " (Accept: text/event-stream)",
                        "SUBSCRIPTION_TRANSPORT_REQUIRED",
                    )
                ]
            )
        values = self._variables(node, variables)
        try:
            operation, plan = self._plan(query, operation_name, prepared, node)
        except PlanningError as error:
            return {"data": None, "errors": [_error(str(error), "QUERY_PLANNING_FAILED")]}
        errors: list[dict[str, Any]] = []
        local: dict[str, Any] | None = None
        if plan.introspection:
            local, local_errors = self._introspect(prepared.document, node, values)
            errors.extend(local_errors)
        data, fetch_errors = await self._executor.run(
            plan.node,
            values,
            headers,
            time_limit=self._request_timeout,
            cache_reads=node.operation is not OperationType.MUTATION,
        )
        errors.extend(fetch_errors)
        shaped = self._shaper.shape(operation.selections, data, operation.root_type, values, local)
        response: dict[str, Any] = {"data": shaped}
        if errors:
            response["errors"] = errors
        return response

    def subscribe(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> SubscriptionStream | None:
        """The event stream of a subscription operation (nothing sent yet), None for a query or mutation
        (run those with ``execute``). Raises RequestError like ``execute``."""
        prepared, node = self._checked(query, operation_name, "POST")
        if node.operation is not OperationType.SUBSCRIPTION:
            return None
        values = self._variables(node, variables)
        try:
            operation, plan = self._plan(query, operation_name, prepared, node)
        except PlanningError as error:
            raise RequestError([_error(str(error), "QUERY_PLANNING_FAILED")]) from None
        if not isinstance(plan.node, Subscription):
            error = _error("the subscription selects no subgraph field", "QUERY_PLANNING_FAILED")
            raise RequestError([error])
        return SubscriptionStream(
            self._sockets, self._executor, self._shaper, operation, plan.node, values, headers
        )

    def _introspect(
        self, document: DocumentNode | None, node: OperationDefinitionNode, values: dict[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Answers the root ``__schema``/``__type`` fields from the API schema."""
        assert document is not None
        selections = tuple(
            s
            for s in node.selection_set.selections
            if isinstance(s, FieldNode) and s.name.value in ("__schema", "__type")
        )
        attrs = {k: getattr(node, k) for k in node.keys if k != "loc"}
        only = node.__class__(**{**attrs, "selection_set": SelectionSetNode(selections=selections)})
        definitions = tuple(d if d is not node else only for d in document.definitions)
        result = execute(
            self.api_schema,
            DocumentNode(definitions=definitions),
            variable_values=values,
            operation_name=node.name.value if node.name else None,
        )
        errors = [dict(e.formatted) for e in result.errors or ()]
        return dict(result.data or {}), errors  # type: ignore[arg-type]

    def plan_text(self, query: str, operation_name: str | None = None) -> str:
        prepared, node = self._checked(query, operation_name, "POST")
        return str(self._plan(query, operation_name, prepared, node)[1])

    def register_metrics(self, registry: CollectorRegistry) -> None:
        """The subgraph traffic's metrics (breakers, retries, deduplication) and the entity cache's on
        `/metrics`."""
        self._traffic.register_metrics(registry)
        if self._entity_cache is not None:
            self._entity_cache.register_metrics(registry)

    def attach_telemetry(self, telemetry: RouterTelemetry) -> None:
        """Fetch metrics and spans, plan-node spans (router/telemetry.py), and the plan cache's hit counts."""
        names = {graph: subgraph.name for graph, subgraph in self.supergraph.subgraphs.items()}
        telemetry.instrument(self._executor, names)
        plans = self._plans
        telemetry.metrics.watch_plan_cache(lambda: (plans.hits, plans.misses))

    async def close(self) -> None:
        await self._traffic.close()
        await self._sockets.close()
        if self._entity_cache is not None:
            await self._entity_cache.close()
