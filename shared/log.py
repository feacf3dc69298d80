"""Structured JSON logging: one line per record, with the service name and the request id."""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import traceback
from typing import Any

import orjson

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# The W3C traceparent of the request being served (shared.telemetry sets it): its trace id goes in every line.
traceparent_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent", default=None)

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
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
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = request_id_var.get()
        traceparent = traceparent_var.get()
        if traceparent:
            return f"{line} [request_id={request_id} trace_id={traceparent[3:35]}]"
        return f"{line} [request_id={request_id}]" if request_id else line


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    """Route every logger (ours, uvicorn's, SQLAlchemy's) through one formatter on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json else TextFormatter(service))
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
