"""The parts without a server: templates (escaping, one-line subjects), the classification of SMTP failures,
the settings' checks, and the development SMTP sink that keeps mails as files."""

from __future__ import annotations

import secrets
import socket
import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import aiosmtplib
import pytest
from pydantic import ValidationError

from myshop.smtp_sink import start_smtp_sink
from shared.sealed import seal
from subgraphs.notifications.mail import TOKEN_MASK, Templates, build_message, with_token, without_mask
from subgraphs.notifications.models import Notification, NotificationKind
from subgraphs.notifications.sender import SendFailure, bodies, classify
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


# --- the account's mails: templates, the token put in at the last moment, the link base ---

ACCOUNT_VALUES = {
    "name": "Ann",
    "email": "ann@example.com",
    "account_url": "https://shop.example/account",
    "code": TOKEN_MASK,
    "link": f"https://shop.example/account/verify-email?token={TOKEN_MASK}",
    "expires": "06 December 2026, 08:00 UTC",
    "reason": "RESET",
    "new_email": "new@example.com",
    "previous_email": "old@example.com",
    "order_id": "o",
    "order_number": "O",
    "lines": [],
    "total": "USD 1.00",
    "breakdown": None,
    "subtotal": "USD 1.00",
    "cart_url": "https://shop.example/account/cart",
    "product_name": "Kettle",
    "price": "USD 1.00",
    "previous_price": "USD 2.00",
    # After the sale (issue 18): shipments and returns.
    "carrier": "DHL",
    "tracking_number": "JD1",
    "tracking_url": "https://track.example/JD1",
    "partial": False,
    "shipped_on": None,
    "delivered_on": None,
    "return_id": "r",
    "return_number": "R",
    "rejection_reason": None,
    "refund_total": "USD 1.00",
}
TOKEN_KINDS = [
    NotificationKind.WELCOME,
    NotificationKind.EMAIL_VERIFICATION,
    NotificationKind.PASSWORD_RESET,
    NotificationKind.EMAIL_CHANGE_CONFIRMATION,
]


@pytest.mark.parametrize("kind", list(NotificationKind))
def test_every_kind_has_a_text_and_an_html_template(kind: NotificationKind) -> None:
    mail = Templates().render(kind, ACCOUNT_VALUES)

    assert mail.subject and "Ann" in mail.text and "Ann" in mail.html


@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_a_token_mail_shows_the_mask_as_its_code_and_in_its_link(kind: NotificationKind) -> None:
    mail = Templates().render(kind, ACCOUNT_VALUES)

    for body in (mail.text, mail.html):
        assert body.count(TOKEN_MASK) == 2  # the code and the link
    assert f'href="https://shop.example/account/verify-email?token={TOKEN_MASK}"' in mail.html


def test_a_welcome_without_a_token_asks_for_no_confirmation() -> None:
    mail = Templates().render(NotificationKind.WELCOME, {**ACCOUNT_VALUES, "code": None, "link": None})

    assert TOKEN_MASK not in mail.text + mail.html and "confirm" not in mail.text.lower()


def test_the_token_goes_where_the_mask_is_and_only_a_token_shaped_value_does() -> None:
    token = secrets.token_urlsafe(32)

    text, html = with_token(f"code {TOKEN_MASK}", f'<a href="x?token={TOKEN_MASK}">', token)

    assert (text, html) == (f"code {token}", f'<a href="x?token={token}">')
    for not_a_token in ['x" onclick="alert(1)', "short", "line\nbreak" * 4, ""]:
        with pytest.raises(ValueError):
            with_token(TOKEN_MASK, TOKEN_MASK, not_a_token)


def test_a_name_cannot_pass_for_the_mask() -> None:
    assert TOKEN_MASK not in without_mask(f"Ann {TOKEN_MASK}")


def _token_row(*, sealed: str | None, expires_in: timedelta, purpose: str = "password-reset") -> Notification:
    return Notification(
        id=uuid.uuid4(),
        kind="PASSWORD_RESET",
        subject="Reset",
        body=f"code {TOKEN_MASK}",
        body_html=f"<p>{TOKEN_MASK}</p>",
        token_purpose=purpose,
        sealed_token=sealed,
        token_expires_at=datetime.now(UTC) + expires_in,
    )


def test_the_sender_opens_a_sealed_token_into_the_bodies() -> None:
    token = secrets.token_urlsafe(32)
    row = _token_row(sealed=seal("the-secret", "password-reset", token), expires_in=timedelta(hours=1))

    assert bodies(row, "the-secret") == (f"code {token}", f"<p>{token}</p>")


@pytest.mark.parametrize(
    ("secret", "purpose", "expires_in", "mentions"),
    [
        ("the-secret", "password-reset", timedelta(seconds=-1), "expired"),
        ("another-secret", "password-reset", timedelta(hours=1), "does not open"),
        ("the-secret", "email-change", timedelta(hours=1), "does not open"),
    ],
    ids=["expired", "another secret", "another purpose"],
)
def test_the_sender_fails_for_good_a_token_that_is_expired_or_does_not_open(
    secret: str, purpose: str, expires_in: timedelta, mentions: str
) -> None:
    token = secrets.token_urlsafe(32)
    row = _token_row(
        sealed=seal("the-secret", "password-reset", token), expires_in=expires_in, purpose=purpose
    )

    failure = bodies(row, secret)

    assert isinstance(failure, SendFailure) and failure.permanent
    assert mentions in failure.reason and token not in failure.reason


def test_the_link_base_comes_from_the_environment_without_its_trailing_slash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MYSHOP_NOTIFICATIONS_ACCOUNT_LINK_BASE_URL", "https://shop.example/account/")

    assert NotificationsSettings().account_link_base_url == "https://shop.example/account"


@pytest.mark.parametrize(
    "base", ["javascript:alert(1)", "shop.example/account", "https://shop.example/a?x=1", 'https://a"b']
)
def test_a_link_base_that_is_not_an_absolute_http_url_is_refused(base: str) -> None:
    with pytest.raises(ValidationError):
        NotificationsSettings(account_link_base_url=base)
