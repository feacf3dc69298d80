"""The parts without a server: templates (escaping, one-line subjects), the classification of SMTP failures,
the settings' checks, and the development SMTP sink that keeps mails as files."""

from __future__ import annotations

import socket
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import aiosmtplib
import pytest
from pydantic import ValidationError

from myshop.smtp_sink import start_smtp_sink
from subgraphs.notifications.mail import Templates, build_message
from subgraphs.notifications.models import NotificationKind
from subgraphs.notifications.sender import classify
from subgraphs.notifications.settings import NotificationsSettings

DROP = {
    "name": "Ann",
    "product_name": "<b>Bold</b>\nKettle",
    "price": "USD 20.00",
    "previous_price": "USD 25.00",
}


def test_html_escapes_what_users_and_admins_wrote_and_text_keeps_it() -> None:
    mail = Templates().render(NotificationKind.PRICE_DROP, DROP)

    assert "&lt;b&gt;Bold&lt;/b&gt;" in mail.html and "<b>Bold</b>" not in mail.html
    assert "<b>Bold</b>\nKettle, which you watch, now costs USD 20.00" in mail.text


def test_a_subject_is_one_line_whatever_the_names() -> None:
    mail = Templates().render(NotificationKind.PRICE_DROP, DROP)

    assert mail.subject == "Price drop: <b>Bold</b> Kettle now USD 20.00"


def test_a_missing_template_value_is_an_error_not_a_blank() -> None:
    with pytest.raises(Exception, match="product_name"):
        Templates().render(NotificationKind.PRICE_DROP, {"name": "Ann"})


def test_a_message_is_multipart_alternative_with_a_stable_message_id() -> None:
    message = build_message(
        notification_id="abc",
        sender="MyShop <no-reply@shop.example>",
        recipient="ann@example.com",
        subject="Hello",
        text="plain\n",
        html="<p>html</p>",
    )

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == "<notification.abc@shop.example>"


@pytest.mark.parametrize(
    ("error", "permanent", "mentions"),
    [
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@b")]),
            True,
            "550",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(451, "later", "a@b")]),
            False,
            "451",
        ),
        (aiosmtplib.SMTPDataError(554, "spam"), True, "554"),
        (aiosmtplib.SMTPDataError(452, "full"), False, "452"),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), False, "535"),
        (aiosmtplib.SMTPConnectError("refused"), False, "SMTPConnectError"),
        (TimeoutError(), False, "within 15 s"),
    ],
)
def test_only_a_5xx_answer_to_the_message_is_permanent(
    error: Exception, permanent: bool, mentions: str
) -> None:
    failure = classify(error, timeout=15.0)

    assert failure.permanent is permanent
    assert mentions in failure.reason


def test_starttls_and_tls_together_are_refused() -> None:
    with pytest.raises(ValidationError):
        NotificationsSettings(smtp_starttls=True, smtp_tls=True)


def test_a_lease_shorter_than_a_send_is_refused() -> None:
    with pytest.raises(ValidationError):
        NotificationsSettings(smtp_timeout_seconds=30, send_lease_seconds=40)


async def test_the_development_sink_keeps_each_mail_as_an_eml_file(tmp_path: Path) -> None:
    # Given a sink on a free port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lines: list[str] = []
    sink = start_smtp_sink(tmp_path, port=port, log=lines.append)
    try:
        # When a mail is sent to it
        message = build_message(
            notification_id="n1",
            sender="no-reply@myshop.local",
            recipient="ann@example.com",
            subject="Sink check",
            text="hello\n",
            html="<p>hello</p>",
        )
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
    finally:
        sink.stop()

    # Then it is one .eml file under <data_dir>/mail, announced in one line
    [path] = list((tmp_path / "mail").glob("*.eml"))
    assert message_from_bytes(path.read_bytes(), policy=default)["Subject"] == "Sink check"
    assert lines == [f"mail to ann@example.com: 'Sink check' -> {path}"]


def test_a_taken_port_is_refused_clearly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="cannot listen"):
            start_smtp_sink(tmp_path, port=taken.getsockname()[1])
