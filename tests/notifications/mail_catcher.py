"""A real SMTP server for the notifications tests (aiosmtpd on a free loopback port) that keeps what it
receives, and answers some addresses as a troubled server would:

- `...+refuse@...`: 550 at RCPT, every time (a permanent refusal);
- `...+busy@...`: 451 at RCPT, every time (a temporary one);
- `...+flaky@...`: 451 at RCPT the first time, accepted after.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from eventually import eventually


@dataclass(frozen=True)
class Received:
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> str:
        part = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert part is not None, f"no {content_type} part"
        return part.get_content()


class MailCatcher:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refused: list[tuple[str, int]] = []
        self._seen_flaky: set[str] = set()
        self._lock = threading.Lock()
        self.controller: Controller | None = None
        self.port = 0

    # --- aiosmtpd hooks (run on the server's own thread) ---

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        local = address.partition("@")[0]
        with self._lock:
            if local.endswith("+refuse"):
                self.refused.append((address, 550))
                return "550 5.1.1 No such mailbox here"
            if local.endswith("+busy") or (local.endswith("+flaky") and address not in self._seen_flaky):
                self._seen_flaky.add(address)
                self.refused.append((address, 451))
                return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(Received(tuple(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    # --- for the tests ---

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [mail for mail in self.received if address in mail.recipients]

    def refusals(self, address: str) -> list[int]:
        with self._lock:
            return [code for refused, code in self.refused if refused == address]

    async def wait_for(
        self, address: str, wanted: Callable[[Received], bool] = lambda _: True, within: float = 20.0
    ) -> list[Received]:
        """The mails to `address` that are `wanted`, once there is at least one."""
        return await eventually(
            lambda: [mail for mail in self.to(address) if wanted(mail)],
            within=within,
            what=f"a mail to {address}",
        )

    def start(self) -> MailCatcher:
        for _ in range(5):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            controller = Controller(self, hostname="127.0.0.1", port=port, ready_timeout=10.0)
            try:
                controller.start()
            except Exception:  # taken between the probe and the bind: try another port
                continue
            self.controller, self.port = controller, port
            return self
        raise RuntimeError("no free port for the test SMTP server")

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
