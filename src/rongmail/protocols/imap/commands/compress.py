"""COMPRESS DEFLATE (RFC 4978): the shell switches both directions after the tagged OK.

Invariants: compression is enabled at most once per connection (RFC 4978 §3: a second COMPRESS
gets ``NO [COMPRESSIONACTIVE]``); only DEFLATE exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Ok
from ..proto import commands as c
from ..replies import BadCommand, NoCommand

if TYPE_CHECKING:
    from ..session import Session


async def compress(s: Session, cmd: c.Compress) -> Ok:
    if s.compressed:
        raise NoCommand("imap.no.compression_active", code="COMPRESSIONACTIVE")
    if cmd.mechanism != "DEFLATE":
        raise BadCommand("imap.bad.compress_mechanism")
    s.upgrade = "compress"
    return Ok(key="imap.ok.compress")
