"""Structured JSON logging: one line per record, with the service name and the request id."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# The service a line is about where one process hosts several (`myshop up`: a thread each, see myshop.host):
# set in each service's thread, it names that service instead of the process's own name.
service_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("service", default=None)
# The W3C traceparent of the request being served (shared.telemetry sets it): its trace id goes in every line.
traceparent_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent", default=None)

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _is_database_error(exc: BaseException) -> bool:
    """A failed statement: SQLAlchemy's wrapper, its driver adapter's error, or asyncpg's own. (SQLAlchemy's
    usage errors, such as `MultipleResultsFound`, quote no values and keep their messages.)"""
    from sqlalchemy.exc import StatementError

    module = type(exc).__module__
    return isinstance(exc, StatementError) or module.startswith(("asyncpg.", "sqlalchemy.dialects."))


def _database_error_line(exc: BaseException) -> str:
    """A database error without its message: PostgreSQL's and asyncpg's messages quote the values of the
    statement (`invalid input for query argument $1: '...'`, `Key (email)=(...)`), which a log must not keep.
    What stays names the failure: the class, the SQLSTATE, the constraint, table and column, the statement."""
    orig = getattr(exc, "orig", None)
    parts = [f"{type(exc).__module__}.{type(exc).__qualname__}"]
    for source in (exc, orig):
        for attribute in ("sqlstate", "constraint_name", "table_name", "column_name"):
            value = getattr(source, attribute, None)
            if isinstance(value, str) and value and f"{attribute}={value}" not in parts:
                parts.append(f"{attribute}={value}")
    statement = getattr(exc, "statement", None)
    if isinstance(statement, str):
        parts.append(f"statement={statement!r}")
    return " ".join(parts) + " (message withheld: it may quote the values)\n"


def format_exception(exc: BaseException | None) -> str:
    """A logged exception's traceback; for a database error (and what caused it), without the messages."""
    if exc is None:
        return ""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    if not any(_is_database_error(link) for link in chain):
        return "".join(traceback.format_exception(exc))
    # Innermost first, as Python prints a chain; from the first database error inward, messages are withheld.
    withheld = False
    blocks: list[str] = []
    for link in chain:
        withheld = withheld or _is_database_error(link)
        text = _database_error_line(link) if withheld else "".join(traceback.format_exception_only(link))
        blocks.append(
            "Traceback (most recent call last):\n" + "".join(traceback.format_tb(link.__traceback__)) + text
        )
    return "\nThe above exception led to the following exception:\n\n".join(reversed(blocks))


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": service_var.get() or self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        traceparent = traceparent_var.get()
        if traceparent:
            entry["trace_id"] = traceparent[3:35]
        # `logger.info("...", extra={...})` fields go in as they are.
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = format_exception(record.exc_info[1])
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(_service)s %(name)s: %(message)s")
        self.service = service

    def formatException(self, ei: Any) -> str:
        return format_exception(ei[1]).rstrip("\n")

    def format(self, record: logging.LogRecord) -> str:
        record._service = service_var.get() or self.service
        line = super().format(record)
        request_id = request_id_var.get()
        traceparent = traceparent_var.get()
        if traceparent:
            return f"{line} [request_id={request_id} trace_id={traceparent[3:35]}]"
        return f"{line} [request_id={request_id}]" if request_id else line


class ByService(logging.Handler):
    """Each hosted service's lines to its handler (its log file), the process's other lines to `default`."""

    def __init__(self, default: logging.Handler, services: dict[str, logging.Handler]) -> None:
        super().__init__()
        self.default = default
        self.services = services

    def emit(self, record: logging.LogRecord) -> None:
        self.services.get(service_var.get() or "", self.default).handle(record)


def configure_logging(
    service: str, *, level: str = "INFO", json: bool = True, files: dict[str, Path] | None = None
) -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one formatter on stderr; with `files` (a
    process hosting several services), each service's lines to its file instead."""

    def formatted(handler: logging.Handler, name: str) -> logging.Handler:
        handler.setFormatter(JsonFormatter(name) if json else TextFormatter(name))
        return handler

    handler = formatted(logging.StreamHandler(sys.stderr), service)
    if files:
        handler = ByService(
            handler,
            {
                name: formatted(logging.FileHandler(path, encoding="utf-8"), name)
                for name, path in files.items()
            },
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Access lines are replaced by our metrics; keep uvicorn's at WARNING.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # Strawberry logs every GraphQL error with a traceback; our error extension logs the unexpected ones.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
