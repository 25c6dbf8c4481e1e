"""Loopback addresses of the SMTP end-to-end topology (one place, imported by fixtures and
tests; RongMail's SPF record authorises only ``SENDER_IP``)."""

SENDER_IP = "127.0.0.20"  # RongMail's queue source address
SPOOF_IP = "127.0.0.21"  # a sender that is not authorised
ROUTE_IP = "127.0.0.22"  # source address of the smart-host route
POSTFIX_IP = "127.0.0.30"  # the Postfix peer (mx.peer.test)
STS_IP = "127.0.0.31"  # HTTPS MTA-STS policy host (port 443)
#: ... or the first of these whose port 443 is free (another test run may hold 127.0.0.31:443)
STS_IPS = (STS_IP, "127.0.1.31", "127.0.2.31", "127.0.3.31")
