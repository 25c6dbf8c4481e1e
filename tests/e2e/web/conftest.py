"""Fixtures for the webmail browser tests; the helpers live in ``webtools.py``."""

from webtools import artifacts, browser, web_server  # noqa: F401
