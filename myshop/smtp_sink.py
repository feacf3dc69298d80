"""A local SMTP sink for development: every mail the services send is kept as an `.eml` file (open it with
any mail reader) and announced with one log line. `myshop up` starts one by default, where the notifications
service sends (127.0.0.1:8025), so a newcomer sees the mails without a mail server.

Independent of `shared`: `start_smtp_sink(data_dir)` returns the running sink; `python -m
myshop.smtp_sink [DATA_DIR]` runs one alone.
"""

from __future__ import annotations

import itertools
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

logger = logging.getLogger("myshop.smtp_sink")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8025


class MailDrop:
    """An aiosmtpd handler writing each message to `<directory>/<time>-<n>.eml` (written whole, then renamed,
    so a reader never sees half a mail)."""

    def __init__(self, directory: Path, log: Callable[[str], None]) -> None:
        self.directory = directory
        self.log = log
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        with self._lock:
            number = next(self._numbers)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{number:06d}.eml"
        partial = path.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(path)
        subject = _subject(content)
        self.log(f"mail to {', '.join(envelope.rcpt_tos)}: {subject!r} -> {path}")
        return "250 Message accepted for delivery"


def _subject(content: bytes) -> str:
    try:
        raw = message_from_bytes(content, policy=default).get("Subject", "")
        return str(make_header(decode_header(str(raw))))
    except Exception:  # a mail we cannot parse is still kept; its log line just has no subject
        return ""


class SmtpSink:
    """A running sink: `host:port` takes mail, `directory` holds it; `stop()` ends it."""

    def __init__(self, controller: Controller, directory: Path, host: str, port: int) -> None:
        self.controller = controller
        self.directory = directory
        self.host = host
        self.port = port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        self.controller.stop()


def _check_free(host: str, port: int) -> None:
    """Fail at once on a taken port (aiosmtpd would only report it after its start-up timeout)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"the SMTP sink cannot listen on {host}:{port}: {exc.strerror}") from exc


def start_smtp_sink(
    data_dir: Path,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    log: Callable[[str], None] | None = None,
) -> SmtpSink:
    """Start a sink keeping mails in `<data_dir>/mail/`; raises OSError when `host:port` is taken."""
    directory = Path(data_dir).expanduser().resolve() / "mail"
    directory.mkdir(parents=True, exist_ok=True)
    _check_free(host, port)
    handler = MailDrop(directory, log or logger.info)
    controller = Controller(handler, hostname=host, port=port, ready_timeout=10.0)
    try:
        controller.start()
    except Exception as exc:  # aiosmtpd wraps the bind failure in its own error types
        raise OSError(f"the SMTP sink cannot listen on {host}:{port}: {exc}") from exc
    return SmtpSink(controller, directory, host, port)


def main(argv: list[str] | None = None) -> None:
    """`python -m myshop.smtp_sink [DATA_DIR [HOST [PORT]]]` (a container binds 0.0.0.0)."""
    args = sys.argv[1:] if argv is None else argv
    data_dir = Path(args[0]) if args else Path(".myshop")
    host = args[1] if len(args) > 1 else DEFAULT_HOST
    port = int(args[2]) if len(args) > 2 else DEFAULT_PORT
    sink = start_smtp_sink(data_dir, host=host, port=port, log=print)
    print(f"SMTP sink on {sink.address}; mails go to {sink.directory} (Ctrl-C stops)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()


def start_for_stack(
    names: list[str], data_dir: Path, address: tuple[str, int], *, log: Callable[[str], None]
) -> Any:
    """`myshop up`'s sink: where notifications (one of `names`) sends, at `address` (its SMTP host and port),
    when that is this machine; None otherwise (a real mail server is configured, or the port is taken, which
    `log` says)."""
    if "notifications" not in names:
        return None
    host, port = address
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None
    try:
        return start_smtp_sink(data_dir, host=host, port=port, log=lambda line: None)
    except OSError as exc:
        log(f"no mail sink started ({exc}); notifications sends to whatever listens there")
        return None


if __name__ == "__main__":
    main()
