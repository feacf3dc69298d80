"""A subgraph request's steps around its execution: documents parsed and validated once, the transaction, the
span, and every error's code (`RequestLifecycle`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from typing import Any, ClassVar

from graphql import GraphQLError, GraphQLSyntaxError, parse
from graphql import execute as graphql_execute
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from shared import errors
from shared.context import Context
from shared.errors import MyShopError
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
        self.parse()
        yield

    def on_validate(self) -> Iterator[None]:
        self.validate()
        yield

    def parse(self) -> None:
        context = self.execution_context
        context.graphql_document = self._parse(context.query, **context.parse_options)

    def validate(self) -> None:
        context = self.execution_context
        schema, document, rules = context.schema._schema, context.graphql_document, context.validation_rules
        key = (id(schema), id(document), rules)
        known = self._validated.get(key)
        if known is None or known[0] is not schema or known[1] is not document:
            if len(self._validated) >= self.LIMIT:
                self._validated.clear()
            known = self._validated[key] = (schema, document, validate_document(schema, document, rules))
        context.pre_execution_errors = known[2]


class RequestLifecycle(Documents):
    """Every subgraph request's hooks as one extension: its documents parsed and validated once
    (`Documents`), its transaction, its span, and its errors' codes. Strawberry runs it for subscriptions;
    queries and mutations run the same steps without Strawberry's extension runner (`Schema.execute`).

    - The transaction: one per request, committed when the operation has no error, rolled back otherwise; the
      session is closed whatever happens, after the work the operation left running, and none opens after it.
    - The span: the server span is named after the operation (`mutation PlaceOrder`) and marked when it
      erred, with its errors' codes.
    - The codes: every error of an executed operation gets an `extensions.code`; anything unexpected is logged
      and masked as INTERNAL (parse errors are shaped by the HTTP view, `SubgraphGraphQL`)."""

    _streamed = False

    def on_operation(self) -> Iterator[None]:
        yield
        if not self._streamed:  # a subscription's results were shaped one by one
            self.shape(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        # Each event of a subscription (and the error that ends one) is shaped before it is sent.
        self._streamed = True
        self.shape(result)
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        operation_type = self.execution_context.operation_type
        self.begin(operation_type)
        try:
            yield
        except BaseException:
            await self.abort(operation_type)
            raise
        await self.complete(operation_type, self.execution_context.result)

    def shape(self, result: Any) -> None:
        context = self.execution_context.context
        shape_errors(result, context.runtime.metrics if context is not None else None)

    def begin(self, operation_type: OperationType) -> None:
        """Before execution: the span named, and a query's sessions reading in autocommit."""
        execution = self.execution_context
        span = trace.get_current_span()
        if span.is_recording():
            kind = operation_type.value
            name = execution.operation_name
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
            if name:
                span.set_attribute("graphql.operation.name", name)
        if execution.context is not None and operation_type == OperationType.QUERY:
            execution.context.reads_only = True

    async def abort(self, operation_type: OperationType) -> None:
        """Execution raised past the operation, or the request was cancelled (the client went away, the server
        stops): nothing is saved, and the session still goes back to the pool. Shielded: a second
        cancellation must not interrupt the rollback."""
        context = self.execution_context.context
        if context is not None:
            await asyncio.shield(self._end(context, operation_type, commit=False))

    async def complete(self, operation_type: OperationType, result: Any) -> None:
        """After execution: the transaction's end, and the span marked with the errors' codes."""
        await self._settle(self.execution_context.context, operation_type, result)
        if result is not None and result.errors:
            span = trace.get_current_span()
            if span.is_recording():
                codes = sorted({str((e.extensions or {}).get("code", "INTERNAL")) for e in result.errors})
                span.set_attribute("graphql.error.codes", codes)
                span.set_status(Status(StatusCode.ERROR, ", ".join(codes)))

    async def _settle(self, context: Context, operation_type: OperationType, result: Any) -> None:
        """The transaction's end once the operation ran (commit, or roll back what failed), and its count."""
        # A subscription's execution ends once its event stream exists (no result yet); it writes nothing,
        # and its events' fields read through `Context.between_events`.
        subscription = operation_type == OperationType.SUBSCRIPTION
        failed = (result is None and not subscription) or bool(getattr(result, "errors", None))
        try:
            await self._close(context, operation_type, commit=not (failed or subscription))
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
            context.runtime.metrics.graphql_operations.labels(
                context.runtime.metrics.service, operation_type.value, "error" if failed else "ok"
            ).inc()

    async def _end(self, context: Context, operation_type: OperationType, *, commit: bool) -> None:
        try:
            await self._close(context, operation_type, commit=commit)
        except Exception:
            logger.exception("ending the request's transaction failed")

    async def _close(self, context: Context, operation_type: OperationType, *, commit: bool) -> None:
        """A subscription ends its current transaction only (its events open others); a request ends."""
        if operation_type == OperationType.SUBSCRIPTION:
            await context.finish(commit=commit)
        else:
            await context.end(commit=commit)

    @classmethod
    async def run(cls, execution: ExecutionContext, operation_name: str | None) -> ExecutionResult:
        """A query's or a mutation's steps, as Strawberry's `execute` takes them with this extension, without
        Strawberry's extension runner: it built a context manager per hook and an exit stack per phase, four
        phases a request, about half of a `{ __typename }`'s CPU in process. The answers are Strawberry's,
        errors and refusals included (tests/test_graphql_lifecycle.py). `operation_name`: the request's."""
        schema = execution.schema
        lifecycle = cls()
        lifecycle.execution_context = execution
        try:
            lifecycle.parse()
        except Exception as error:  # as Strawberry: a parser failing otherwise is the request's error too
            return lifecycle._refused([_graphql_error(error)])
        try:
            operation_type = execution.operation_type
        except RuntimeError as error:
            raise CannotGetOperationTypeError(execution.operation_name) from error
        if operation_type not in execution.allowed_operations:
            raise InvalidOperationTypeError(operation_type)
        lifecycle.validate()
        if execution.pre_execution_errors:
            return lifecycle._refused(execution.pre_execution_errors)
        lifecycle.begin(operation_type)
        try:
            result = graphql_execute(
                schema._schema,
                execution.graphql_document,  # type: ignore[arg-type]
                root_value=execution.root_value,
                context_value=execution.context,
                variable_values=execution.variables,
                operation_name=operation_name,
                executor_class=schema.execution_context_class,
                is_awaitable=optimized_is_awaitable,
            )
            if optimized_is_awaitable(result):
                result = await result
        except BaseException as exc:
            await lifecycle.abort(operation_type)
            if not isinstance(exc, Exception):
                raise
            return lifecycle._refused([_graphql_error(exc)])
        execution.result = result
        await lifecycle.complete(operation_type, result)
        lifecycle.shape(result)
        return ExecutionResult(data=result.data, errors=result.errors)

    def _refused(self, errors: list[GraphQLError]) -> ExecutionResult:
        """What did not run: its errors, with their codes."""
        result = ExecutionResult(data=None, errors=errors)
        self.execution_context.result = result
        self.shape(result)
        return result


def _graphql_error(error: Exception) -> GraphQLError:
    """What raised, as the request's error (as Strawberry's execute makes it)."""
    return error if isinstance(error, GraphQLError) else GraphQLError(str(error), original_error=error)
