"""Building a service's Strawberry federation schema with the extensions every subgraph runs."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from functools import lru_cache
from typing import Any, ClassVar

import strawberry
from graphql import (
    GraphQLError,
    GraphQLObjectType,
    GraphQLSyntaxError,
    parse,
)
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from strawberry.extensions import SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.schema.schema import validate_document
from strawberry.types import Info
from strawberry.types.graphql import OperationType

from shared import errors, plain_fields
from shared.context import Context
from shared.errors import MyShopError
from shared.input_hygiene import InputHygieneExecutor
from shared.metrics import Metrics
from shared.unreachable import unavailable

logger = logging.getLogger("myshop.graphql")

UNAVAILABLE_MESSAGE = "The service is briefly unavailable; try again (a write with the same idempotency key)."


def shape_errors(result: Any, metrics: Metrics | None) -> None:
    """Give every error of `result` an `extensions.code`; log and mask anything unexpected as INTERNAL."""
    if result is None or not result.errors:
        return
    result.errors = [shape_error(error) for error in result.errors]
    if metrics is not None:
        for error in result.errors:
            code = (error.extensions or {}).get("code", errors.INTERNAL)
            metrics.graphql_errors.labels(metrics.service, code).inc()


def shape_error(error: GraphQLError) -> GraphQLError:
    extensions = error.extensions or {}
    original = error.original_error
    if isinstance(original, MyShopError) or (original is None and extensions.get("code")):
        return error
    if original is None or (isinstance(original, GraphQLError) and error.path is None):
        if isinstance(error, GraphQLSyntaxError) or isinstance(original, GraphQLSyntaxError):
            code = errors.GRAPHQL_PARSE_FAILED
        elif error.message.startswith("Variable '$"):
            code = errors.BAD_USER_INPUT
        else:
            code = errors.GRAPHQL_VALIDATION_FAILED
        error.extensions = {**extensions, "code": code}
        return error
    if error.path is None and isinstance(original, ValueError | TypeError):
        # A custom scalar refusing a variable's value: the client's input, not our bug.
        return GraphQLError(
            error.message, nodes=error.nodes, path=error.path, extensions={"code": errors.BAD_USER_INPUT}
        )
    where = ".".join(map(str, error.path or [])) or "operation"
    if unavailable(original):
        logger.warning("database or Redis unavailable in %s: %s", where, type(original).__name__)
        return GraphQLError(
            UNAVAILABLE_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": errors.SERVICE_UNAVAILABLE},
        )
    logger.error("unexpected error in %s", where, exc_info=original)
    return GraphQLError(
        "Internal server error.",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": errors.INTERNAL},
    )


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


class Documents(SchemaExtension):
    """Each operation's text parsed once, and each parsed document validated once (at most `LIMIT` of each;
    past that, the least recent parses go, and all validations are dropped and made again).

    One extension for both: Strawberry runs each extension's hooks for each phase of every request (one
    extension fewer: 2.5% fewer instructions for a trivial request). Validation is kept by the document's
    identity, which the parse cache hands again for the same text (Strawberry's ValidationCache keys an
    `lru_cache` by the document, and graphql-core's nodes are dataclasses hashing every field: the whole
    document was hashed again on every request, 68 nodes for a listing)."""

    LIMIT = 1024
    _parse = staticmethod(lru_cache(maxsize=LIMIT)(parse))
    # (id(schema), id(document), rules) -> (schema, document: kept so the ids stay theirs; errors)
    _validated: ClassVar[dict[tuple[int, int, Any], tuple[Any, Any, list[GraphQLError]]]] = {}

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = self._parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document, rules = context.schema._schema, context.graphql_document, context.validation_rules
        key = (id(schema), id(document), rules)
        known = self._validated.get(key)
        if known is None or known[0] is not schema or known[1] is not document:
            if len(self._validated) >= self.LIMIT:
                self._validated.clear()
            known = self._validated[key] = (schema, document, validate_document(schema, document, rules))
        context.pre_execution_errors = known[2]
        yield


class RequestLifecycle(Documents):
    """Every subgraph request's hooks as one extension: its documents parsed and validated once
    (`Documents`), its transaction, its span, and its errors' codes. Strawberry builds each extension's hooks
    for each phase of every request (a context manager per hook, an exit stack per phase); as four extensions
    they cost a `{ __typename }` about a tenth more CPU.

    - The transaction: one per request, committed when the operation has no error, rolled back otherwise; the
      session is closed whatever happens, after the work the operation left running, and none opens after it.
    - The span: the server span is named after the operation (`mutation PlaceOrder`) and marked when it
      erred, with its errors' codes.
    - The codes: every error of an executed operation gets an `extensions.code`; anything unexpected is logged
      and masked as INTERNAL (parse errors are shaped by the HTTP view, `SubgraphGraphQL`)."""

    _streamed = False

    def on_operation(self) -> Iterator[None]:
        yield
        if self._streamed:  # a subscription's results were shaped one by one
            return
        context = self.execution_context.context
        shape_errors(self.execution_context.result, context.runtime.metrics if context is not None else None)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Each event of a subscription (and the error that ends one) is shaped before it is sent.
        self._streamed = True
        context = self.execution_context.context
        shape_errors(result, context.runtime.metrics if context is not None else None)
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        span = trace.get_current_span()
        recording = span.is_recording()
        if recording:
            kind = execution.operation_type.value
            name = execution.operation_name
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
            if name:
                span.set_attribute("graphql.operation.name", name)
        context = execution.context
        if context is not None and execution.operation_type == OperationType.QUERY:
            context.reads_only = True
        try:
            yield
        except BaseException:
            # Execution raised past the hook, or the request was cancelled (the client went away, the server
            # stops): nothing is saved, and the session still goes back to the pool. Shielded: a second
            # cancellation must not interrupt the rollback.
            context = execution.context
            if context is not None:
                await asyncio.shield(self._end(context, commit=False))
            raise
        await self._settle(execution.context, execution.result)
        result = execution.result
        if recording and result is not None and result.errors:
            codes = sorted({str((e.extensions or {}).get("code", "INTERNAL")) for e in result.errors})
            span.set_attribute("graphql.error.codes", codes)
            span.set_status(Status(StatusCode.ERROR, ", ".join(codes)))

    async def _settle(self, context: Context, result: Any) -> None:
        """The transaction's end once the operation ran (commit, or roll back what failed), and its count."""
        # A subscription's execution ends once its event stream exists (no result yet); it writes nothing,
        # and its events' fields read through `Context.between_events`.
        subscription = self.execution_context.operation_type == OperationType.SUBSCRIPTION
        failed = (result is None and not subscription) or bool(getattr(result, "errors", None))
        try:
            await self._close(context, commit=not (failed or subscription))
        except Exception as exc:
            cut_off = unavailable(exc)
            if cut_off:
                logger.warning("commit failed: database unavailable (%s)", type(exc).__name__)
            else:
                logger.exception("commit failed")
            if result is not None:
                # Nothing was saved (or, the connection cut during the commit, we cannot know): the answer
                # must not claim it was. A retry with the same idempotency key is safe either way.
                result.data = None
                failure = (
                    GraphQLError(UNAVAILABLE_MESSAGE, extensions={"code": errors.SERVICE_UNAVAILABLE})
                    if cut_off
                    else GraphQLError("Internal server error.", extensions={"code": errors.INTERNAL})
                )
                result.errors = [*(result.errors or []), failure]
        if context.runtime.metrics is not None and result is not None:
            operation = self.execution_context.operation_type.value
            context.runtime.metrics.graphql_operations.labels(
                context.runtime.metrics.service, operation, "error" if failed else "ok"
            ).inc()

    async def _end(self, context: Context, *, commit: bool) -> None:
        try:
            await self._close(context, commit=commit)
        except Exception:
            logger.exception("ending the request's transaction failed")

    async def _close(self, context: Context, *, commit: bool) -> None:
        """A subscription ends its current transaction only (its events open others); a request ends."""
        if self.execution_context.operation_type == OperationType.SUBSCRIPTION:
            await context.finish(commit=commit)
        else:
            await context.end(commit=commit)


class Schema(strawberry.federation.Schema):
    async def execute(  # type: ignore[override]
        self, *args: Any, allowed_operation_types: Iterable[OperationType] | None = None, **kwargs: Any
    ) -> Any:
        """A subscription is never executed as a request: it streams over WebSocket (`subscribe`). Strawberry
        lets one through over HTTP, where its resolver ran as a plain field and failed INTERNAL; refused here,
        the HTTP view answers 400 "subscriptions are not allowed when using POST"."""
        allowed = set(allowed_operation_types or _EXECUTABLE) - {OperationType.SUBSCRIPTION}
        return await super().execute(*args, allowed_operation_types=allowed, **kwargs)

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
