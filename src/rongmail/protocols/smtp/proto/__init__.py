"""Sans-IO SMTP: bytes in, events out; no sockets, no clock, no storage."""

from rongmail.protocols.smtp.proto.events import (
    ChunkEnd,
    CommandLine,
    DataChunk,
    DataEnd,
    Event,
    InvalidLineEnding,
    LineTooLong,
)
from rongmail.protocols.smtp.proto.parser import LineEndingCheck, Parser

__all__ = [
    "ChunkEnd",
    "CommandLine",
    "DataChunk",
    "DataEnd",
    "Event",
    "InvalidLineEnding",
    "LineEndingCheck",
    "LineTooLong",
    "Parser",
]
