"""Building a service's Strawberry federation schema with the extensions every subgraph runs."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import (
    GraphQLError,
    GraphQLObjectType,
)
from strawberry.exceptions import MissingQueryError
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types import ExecutionResult, Info
from strawberry.types.graphql import OperationType

from shared import argument_conversion, plain_fields
from shared.context import Context
from shared.graphql_lifecycle import RequestLifecycle
from shared.input_hygiene import InputHygieneExecutor


class RequestExecutor(InputHygieneExecutor):
    """graphql-core's executor (with input hygiene) that hands the request's context the set of work it leaves
    running: when a field fails synchronously, its non-null parent is nulled at once and the siblings already
    started settle in the background. They may open or use the request's session, so the transaction ends
    after them (`Context.end`), not before (their new session would never be closed)."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        executor = super().build(*args, **kwargs)
        if not isinstance(executor, list) and isinstance(executor.context_value, Context):
            # The executor's own set (graphql-core >= 3.3), shared with its sub-executors.
            executor.context_value.background_work = getattr(executor, "background_futures", ())
        return executor

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        """A plain field (read by attribute, its whole selection plain too: `shared.plain_fields`) is answered
        directly, without resolve infos or graphql-core's completion chain, when no schema extension resolves
        fields. Anything unusual (a null where none may be, a value a scalar refuses) takes graphql-core's own
        path, which makes its error."""
        resolve, complete = self._plain_plan(parent_type, field_details_list)
        if complete is not None:
            try:
                return complete(resolve(source))
            except Exception:  # graphql-core's path below answers it, errors included
                pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def complete_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        """What a field's resolver returned (a DataLoader's lines, awaited), answered directly when its whole
        selection is plain (`shared.plain_fields.completion`); else, or on anything unusual, graphql-core's
        completion, which makes the error."""
        details = self._plain_details(field_details_list)
        if details is not None and not isinstance(result, Exception):
            complete = _PLAIN_COMPLETIONS.get(return_type, details.node)
            if complete is not None:
                try:
                    return complete(result)
                except Exception:  # graphql-core's path below answers it, errors included
                    pass
        return super().complete_value(return_type, field_details_list, info, path, result, position_context)

    def _plain_plan(self, parent_type: GraphQLObjectType, field_details_list: Any) -> tuple[Any, Any]:
        details = self._plain_details(field_details_list)
        if details is None:
            return _NOT_PLAIN
        return _PLAIN_PLANS.get(parent_type, details.node) or _NOT_PLAIN

    def _plain_details(self, field_details_list: Any) -> Any:
        """The field's one selection when the plain path may answer it: selected once (graphql-core merges a
        key selected twice), not deferred, and no schema extension resolving fields."""
        middleware = self.middleware_manager
        if len(field_details_list) != 1 or (
            middleware is not None and middleware._middleware_resolvers is not None
        ):
            return None
        details = field_details_list[0]
        return None if details.defer_usage is not None else details


_NOT_PLAIN = (None, None)
# Every schema's plans, by the parsed field they answer: `Documents` hands the same nodes for the same
# operation, so a listing's plan is made once, not on every request.
_PLAIN_PLANS = plain_fields.Plans()
_PLAIN_COMPLETIONS = plain_fields.Plans(planner=plain_fields.completion)


_EXECUTABLE = frozenset({OperationType.QUERY, OperationType.MUTATION})


class Schema(strawberry.federation.Schema):
    async def execute(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Strawberry's `execute`, its steps taken by `RequestLifecycle.run` without Strawberry's extension
        runner (a schema with other extensions, as tests build, runs Strawberry's own).

        A subscription is never executed as a request: it streams over WebSocket (`subscribe`). Strawberry
        lets one through over HTTP, where its resolver ran as a plain field and failed INTERNAL; refused here,
        the HTTP view answers 400 "subscriptions are not allowed when using POST"."""
        allowed = set(allowed_operation_types or _EXECUTABLE) - {OperationType.SUBSCRIPTION}
        if tuple(self.extensions) != (RequestLifecycle,):
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types=allowed,
                operation_extensions=operation_extensions,
            )
        if not query:
            raise MissingQueryError
        execution = self._create_execution_context(
            query=query,
            allowed_operation_types=allowed,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            operation_extensions=operation_extensions,
        )
        return await RequestLifecycle.run(execution, operation_name)

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # RequestLifecycle logs what is unexpected; expected domain errors are not log lines.
        return None

    async def entities_resolver(  # type: ignore[override]
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """`_entities`, its references resolved together. Strawberry's resolver answers one awaitable per
        representation, which graphql-core completes one by one (a coroutine, a task, a future and a
        completion chain per entity). Here an entity type with a `resolve_references(info, representations)`
        classmethod resolves all of its representations in one call, and the other types' awaitables are
        gathered, so the list reaches graphql-core resolved. A reference that failed is its entity's error."""
        results: list[Any] = [None] * len(representations)
        batches: dict[type, list[int]] = {}
        singles: list[Any] = []
        for index, representation in enumerate(representations):
            origin = self._entity_origin(representation)
            if origin is not None and hasattr(origin, "resolve_references"):
                batches.setdefault(origin, []).append(index)
            else:
                singles.append(index)
        # (where the answers go, the awaitable, whether it answers a list for them all)
        work: list[tuple[list[int], Any, bool]] = []
        if singles:
            resolved = super().entities_resolver(info, [representations[index] for index in singles])
            for index, result in zip(singles, resolved, strict=True):
                if inspect.isawaitable(result):
                    work.append(([index], result, False))
                else:
                    results[index] = result
        for origin, indexes in batches.items():
            group = [dict(representations[index]) for index in indexes]
            for representation in group:
                representation.pop("__typename", None)
            work.append((indexes, origin.resolve_references(info, group), True))
        if work:
            answers = await asyncio.gather(*(awaitable for _, awaitable, _ in work), return_exceptions=True)
            for (indexes, _, batch), answer in zip(work, answers, strict=True):
                if isinstance(answer, BaseException) and not isinstance(answer, Exception):
                    raise answer  # cancelled: the request ends, not one entity
                if not batch or isinstance(answer, Exception):
                    for index in indexes:
                        results[index] = answer
                elif not isinstance(answer, list) or len(answer) != len(indexes):
                    raise TypeError(
                        f"resolve_references answered {len(answer)} for {len(indexes)} references"
                    )
                else:
                    for index, entity in zip(indexes, answer, strict=True):
                        results[index] = entity
        return results

    def _entity_origin(self, representation: Any) -> type | None:
        type_ = self.schema_converter.type_map.get(representation.get("__typename"))
        return getattr(getattr(type_, "definition", None), "origin", None) if type_ is not None else None


class _ArgumentNames(NameConverter):
    """Strawberry's names, an argument's kept once made: Strawberry asks again for every argument of every
    field it resolves, on every request (7 camel-casings for a listing). An argument's name never changes."""

    def __init__(self) -> None:
        super().__init__()
        self._arguments: dict[int, tuple[Any, str]] = {}

    def from_argument(self, argument: Any) -> str:
        known = self._arguments.get(id(argument))
        if known is None or known[0] is not argument:  # kept with its argument: an id is never reused
            known = self._arguments[id(argument)] = (argument, super().from_argument(argument))
        return known[1]


# Strawberry's argument conversion answers built-in scalars directly (shared.argument_conversion).
argument_conversion.install()


def build_schema(
    *, query: type, mutation: type | None = None, subscription: type | None = None, types: Iterable[type] = ()
) -> Schema:
    return Schema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=list(types),
        # Every argument's strings checked once, after variable coercion, before any resolver runs.
        execution_context_class=RequestExecutor,
        # Strawberry builds extensions per request; the caches live at class level.
        extensions=[RequestLifecycle],
        config=StrawberryConfig(name_converter=_ArgumentNames()),
    )
