"""Small builders of synthetic messages for the spam tests."""

from __future__ import annotations

import base64
from email.message import EmailMessage

from rongmail.mime.model import ParsedMessage
from rongmail.services.spam.message import parse

DATE = "Fri, 27 Nov 2026 08:00:00 +0800"


def raw_message(
    body: str = "Hello,\nsee you tomorrow.\n",
    *,
    subject: str = "Meeting",
    sender: str = "Li Lei <lilei@example.com>",
    to: str = "Han Meimei <hanmeimei@rongmail.cn>",
    html: str | None = None,
    html_only: bool = False,
    attachments: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    headers: dict[str, str] | None = None,
    date: str | None = DATE,
    message_id: str | None = "<20261127.1@example.com>",
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    for k, v in (headers or {}).items():
        m[k] = v
    if html_only and html is not None:
        m.set_content(html, subtype="html")
    else:
        m.set_content(body)
        if html is not None:
            m.add_alternative(html, subtype="html")
    for name, data in attachments:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    # Date and Message-ID are written verbatim, so tests can use malformed values.
    extra = "".join(
        f"{k}: {v}\r\n" for k, v in (("Date", date), ("Message-ID", message_id)) if v is not None
    )
    return extra.encode() + bytes(m)


def msg(**kw: object) -> ParsedMessage:
    return parse(raw_message(**kw))  # type: ignore[arg-type]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
