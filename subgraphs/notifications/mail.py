"""Mails rendered from the Jinja2 templates in `templates/` (per kind: `<kind>.txt` with a `subject` and a
`body` block, and `<kind>.html`, autoescaped), and the multipart/alternative message the sender puts on the
wire.

A mail that carries a one-time token is rendered with `TOKEN_MASK` where the token goes (the code and the
link) and stored so; `with_token` puts the token in just before the mail is sent (sender.py).
"""

from __future__ import annotations

import html as html_escaping
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from shared.money import Money
from subgraphs.notifications.models import NotificationKind

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# What a stored mail (and `Notification.body`) shows where its token goes; URL- and HTML-safe as it is.
TOKEN_MASK = "••••••••"
# The tokens users mints (`secrets.token_urlsafe`): anything else from an unsealed value is not put in a mail.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,256}")


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def format_money(amount: int, currency: str) -> str:
    """`USD 12.34`, exact for any currency's minor units."""
    return Money(int(amount), currency).format()


class Templates:
    """The mail templates, loaded once per process (Jinja2 caches the compiled templates)."""

    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self.environment = Environment(
            loader=FileSystemLoader(directory),
            # HTML escapes every value (names and product names come from users and admins); text does not.
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, kind: NotificationKind, values: dict[str, Any]) -> RenderedMail:
        name = kind.value.lower()
        text = self.environment.get_template(f"{name}.txt")
        html = self.environment.get_template(f"{name}.html")
        subject = " ".join(_block(text, "subject", values).split())  # one line: a header cannot break
        return RenderedMail(
            subject=subject, text=_block(text, "body", values).strip() + "\n", html=html.render(values)
        )


def without_mask(value: str) -> str:
    """A value from a user (a name, an address) that cannot pass for the mask: the token goes where the
    template put the mask, nowhere else."""
    return value.replace(TOKEN_MASK, "********")


def with_token(text: str, html: str, token: str) -> tuple[str, str]:
    """The stored bodies with the token where the mask is; the token must have `TOKEN_SHAPE` (nothing to
    escape in a URL or HTML, though the HTML is escaped anyway)."""
    if not TOKEN_SHAPE.fullmatch(token):
        raise ValueError("not a token")
    return text.replace(TOKEN_MASK, token), html.replace(TOKEN_MASK, html_escaping.escape(token))


def _block(template: Template, block: str, values: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(values)))


def build_message(
    *, notification_id: object, sender: str, recipient: str, subject: str, text: str, html: str
) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML preferred by mail readers that can.

    Its Message-ID is the notification's, so a mail sent again after a crash is recognisably the same one.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "myshop.local"
    message["Message-ID"] = f"<notification.{notification_id}@{domain}>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
