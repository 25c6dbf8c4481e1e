"""Mail samples for the quarantine tests (protocol and browser): synthetic, no corpus data."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid


def message(
    sender: str,
    to: str,
    subject: str,
    text: str,
    *,
    html: str | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    """A fresh message (own Date and Message-ID); ``attachment`` = (file name, bytes)."""
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = formatdate()
    m["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">"))
    m.set_content(text)
    if html is not None:
        m.add_alternative(html, subtype="html")
    if attachment is not None:
        m.add_attachment(
            attachment[1], maintype="application", subtype="octet-stream", filename=attachment[0]
        )
    return m.as_bytes()


def exe_invoice(to: str, subject: str = "Invoice 2026-11") -> bytes:
    """An "invoice" carrying a Windows executable with a double extension: held as malware
    (ATTACH_DANGEROUS_TYPE / ATTACH_DOUBLE_EXT), which only admins may release."""
    return message(
        "Invoices <billing@vendor.example>",
        to,
        subject,
        "Please see the attached invoice.\n",
        attachment=("invoice.pdf.exe", b"MZ\x90\x00" + b"\x00" * 200),
    )
