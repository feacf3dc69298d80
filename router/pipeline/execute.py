"""Stage: execute the plan and shape the answer. A query or mutation runs its plan
(router/execution/executor.py), the root introspection fields are answered from the API schema, and the
merged data is projected onto the client's selections (router/execution/shaper.py). A subscription opens its
event stream instead, and a query with @defer, for a client taking incremental delivery, its parts
(router/execution/incremental.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLSchema, OperationDefinitionNode, OperationType

from router.execution.executor import Executor
from router.execution.incremental import IncrementalStream
from router.execution.shaper import Shaper
from router.execution.shared_subscriptions import SharedSubscriptions
from router.execution.subscription import SubscriptionStream, UpstreamSubscription
from router.pipeline.document import PreparedDocument
from router.pipeline.errors import QUERY_PLANNING_FAILED, RequestError
from router.pipeline.introspection import introspect, introspection_disabled
from router.planner import Defer, QueryPlan, Subscription
from router.planner.operation import Operation
from router.upstream.sockets import SubgraphSockets


@dataclass(slots=True)
class PlannedOperation:
    """What the stages before execution made of a request."""

    prepared: PreparedDocument
    node: OperationDefinitionNode
    operation: Operation
    plan: QueryPlan
    variables: dict[str, Any]
    # What the authorization stage removed (router/pipeline/authorization.py's Restriction), None: nothing.
    restriction: Any = None


class ExecutionStage:
    def __init__(
        self,
        schema: GraphQLSchema,
        executor: Executor,
        shaper: Shaper,
        sockets: SubgraphSockets,
        *,
        request_timeout: float | None,
    ) -> None:
        self.schema = schema
        self.executor = executor
        self.shaper = shaper
        self.sockets = sockets
        self.request_timeout = request_timeout
        # `__schema`/`__type` answered, or refused before any fetch; router/server.py sets it from the config.
        self.introspection = True
        # One upstream per identical subscription (router/server.py sets it from the config).
        self.shared = SharedSubscriptions()

    async def execute(self, planned: PlannedOperation, headers: dict[str, str]) -> dict[str, Any]:
        """The response of a query or mutation: data (null-bubbled where a non-null field failed), and the
        errors of the fetches and of introspection."""
        errors: list[dict[str, Any]] = []
        local: dict[str, Any] | None = None
        variables = planned.variables
        if planned.plan.introspection:
            if not self.introspection:
                raise introspection_disabled()
            assert planned.prepared.document is not None
            local, local_errors = introspect(self.schema, planned.prepared.document, planned.node, variables)
            errors.extend(local_errors)
        data, fetch_errors = await self.executor.run(
            planned.plan.node,
            variables,
            headers,
            time_limit=self.request_timeout,
            cache_reads=planned.node.operation is not OperationType.MUTATION,
        )
        if planned.restriction is not None:  # null and an error where a field was removed
            errors[:0] = planned.restriction.apply(data, variables)
        errors.extend(fetch_errors)
        operation = planned.operation
        shaped = self.shaper.shape(
            operation.selections, data, operation.root_type, variables, local, errors=errors
        )
        response: dict[str, Any] = {"data": shaped}
        if errors:
            response["errors"] = errors
        return response

    def incremental(
        self, planned: PlannedOperation, headers: dict[str, str], defer: Defer
    ) -> IncrementalStream:
        """The parts of a query with @defer (nothing runs until the first is asked for); the request timeout
        bounds them all, the introspection fields answer in the primary part."""
        local: dict[str, Any] | None = None
        local_errors: list[dict[str, Any]] = []
        if planned.plan.introspection:
            if not self.introspection:
                raise introspection_disabled()
            assert planned.prepared.document is not None
            local, local_errors = introspect(
                self.schema, planned.prepared.document, planned.node, planned.variables
            )
        return IncrementalStream(
            self.executor,
            self.shaper,
            planned.operation,
            defer,
            planned.variables,
            headers,
            time_limit=self.request_timeout,
            local=local,
            local_errors=local_errors,
        )

    def subscribe(self, planned: PlannedOperation, headers: dict[str, str]) -> SubscriptionStream:
        """The event stream of a subscription (nothing sent to the subgraph until it is iterated)."""
        plan = planned.plan.node
        if not isinstance(plan, Subscription):
            raise RequestError.of("the subscription selects no subgraph field", QUERY_PLANNING_FAILED)
        variables = planned.variables

        def upstream() -> UpstreamSubscription:
            return UpstreamSubscription(
                self.sockets, self.executor, self.shaper, planned.operation, plan, variables, headers
            )

        text = planned.prepared.text
        name = planned.node.name.value if planned.node.name is not None else None
        key = self.shared.key(plan, text, name, variables, headers, self.executor.headers)
        return self.shared.subscribe(key, plan.primary.service, upstream)
