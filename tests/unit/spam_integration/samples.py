"""Message samples for the spam integration tests (synthetic: no corpus data in the repo)."""

from __future__ import annotations

from email.message import EmailMessage

DATE = "Fri, 27 Nov 2026 08:00:00 +0800"


def _msg(sender: str, to: str, subject: str, text: str, html: str | None = None,
         mid: str = "<s1@example.net>") -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = DATE
    m["Message-ID"] = mid
    if html is None:
        m.set_content(text)
    else:
        m.set_content(text)
        m.add_alternative(html, subtype="html")
    return m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def ham(to: str = "user@acme-corp.cn", n: int = 0) -> bytes:
    return _msg("Zhang Wei <zhangwei@partner.example>", to, f"Project plan {n}",
                f"Hi,\n\nattached is the plan for week {n}. Let us meet on Tuesday.\n\nZhang Wei\n",
                mid=f"<ham{n}@partner.example>")


def spam(to: str = "user@acme-corp.cn", n: int = 0) -> bytes:
    """Chinese invoice spam: junk, not quarantine, on an untrained tenant."""
    return _msg("Sales <sales@promo.example>", to, f"代开发票 优惠 {n}",
                "您好！本公司长期代开各地增值税发票，点数优惠，可验证后付款。\n"
                "详情请加微信 fapiao888 或 QQ 12345678 咨询。\n",
                mid=f"<spam{n}@promo.example>")


def phishing(to: str = "user@acme-corp.cn", boss: str = "Wang Jianguo") -> bytes:
    """The boss's display name from outside, a password form and a deceptive link."""
    html = ("<html><body><p>Please verify your mailbox now.</p>"
            "<a href='http://login.acme-c0rp.top/verify'>https://mail.acme-corp.cn/login</a>"
            "<form action='http://login.acme-c0rp.top/post' method='post'>"
            "<input type='text' name='user'><input type='password' name='password'>"
            "<input type='submit' value='Login'></form></body></html>")
    return _msg(f"{boss} <ceo.office@gmail-secure.example>", to,
                "Urgent: change of supplier bank account / 紧急：供应商银行账户变更",
                "Please change the supplier's bank account before paying today's invoice. "
                "请今天付款前把供应商的收款账户改为新账户，并保密。\n", html,
                mid="<phish1@gmail-secure.example>")
