"""Stage: select the operation to run (by `operationName` when the document has several) and check the HTTP
method allows it (GET runs queries only; a subscription may also come as a GET on a streaming door)."""

from __future__ import annotations

from graphql import DocumentNode, OperationDefinitionNode, OperationType

from router.pipeline.errors import METHOD_NOT_ALLOWED, OPERATION_RESOLUTION_FAILURE, RequestError

_ALLOW_POST = ((b"allow", b"POST"),)


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        for operation in operations:
            if operation.name is not None and operation.name.value == operation_name:
                return operation
        raise RequestError.of(f"unknown operation named '{operation_name}'", OPERATION_RESOLUTION_FAILURE)
    if len(operations) != 1:
        raise RequestError.of(
            "the document has several operations: give operationName", OPERATION_RESOLUTION_FAILURE
        )
    return operations[0]


def check_method(operation: OperationDefinitionNode, method: str, streams: bool) -> None:
    """RequestError (405, `allow: POST`) for a mutation over GET, or a subscription over GET on a door that
    cannot stream."""
    kind = operation.operation
    if kind is OperationType.QUERY or method.upper() != "GET":
        return
    if streams and kind is OperationType.SUBSCRIPTION:
        return
    raise RequestError.of("only queries may be sent with GET", METHOD_NOT_ALLOWED, 405, _ALLOW_POST)
