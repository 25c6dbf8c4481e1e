"""Sequence sets (RFC 9051 §9 ``sequence-set``, RFC 5182 ``$``).

Role: the parsed form of ``1:4,7,10:*`` and of ``$`` (the result saved by ``SEARCH RETURN
(SAVE)``), independent of whether the numbers are message sequence numbers or UIDs.

Invariants:

* ``*`` is kept symbolic (:data:`STAR`) until :meth:`SequenceSet.resolve` is given the largest
  number in use, because its value changes as messages arrive (RFC 9051 §6.4.4 example
  ``UID FETCH 4:* ...`` on a mailbox whose largest UID is 3 matches UID 3).
* A range ``a:b`` means the same as ``b:a`` (RFC 9051 §9, ``seq-range``).
* Numbers are ``nz-number`` (1..2**32-1); the parser rejects 0 and overflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_NUMBER", "STAR", "SequenceSet"]

#: ``*``: the largest number in use (the highest UID or the message count).
STAR: Final = 0
#: ``nz-number`` upper bound (RFC 9051 §9: ``number`` is an unsigned 32-bit integer).
MAX_NUMBER: Final = 2**32 - 1


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A list of inclusive ranges; ``STAR`` (0) stands for ``*``. ``saved`` is ``$``."""

    ranges: tuple[tuple[int, int], ...] = ()
    saved: bool = False

    @staticmethod
    def parse(text: str) -> SequenceSet:
        """Parse ``1:4,7,*`` or ``$``; raise :class:`ValueError` on bad syntax."""
        if text == "$":
            return SequenceSet(saved=True)
        if not text:
            raise ValueError("empty sequence set")
        out: list[tuple[int, int]] = []
        for item in text.split(","):
            lo_s, sep, hi_s = item.partition(":")
            lo = _number(lo_s)
            hi = _number(hi_s) if sep else lo
            out.append((lo, hi))
        return SequenceSet(tuple(out))

    @staticmethod
    def of(numbers: Iterable[int]) -> SequenceSet:
        """The compact set of ``numbers`` (sorted, adjacent numbers merged into ranges)."""
        ranges: list[tuple[int, int]] = []
        for n in sorted(set(numbers)):
            if ranges and ranges[-1][1] == n - 1:
                ranges[-1] = (ranges[-1][0], n)
            else:
                ranges.append((n, n))
        return SequenceSet(tuple(ranges))

    def resolve(self, largest: int) -> Iterator[tuple[int, int]]:
        """Yield normalised ``(lo, hi)`` ranges with ``*`` replaced by ``largest``.

        Ranges are not merged or clipped; callers intersect with what exists. ``$`` yields
        nothing (the session substitutes the saved result before resolving).
        """
        for lo, hi in self.ranges:
            a = largest if lo == STAR else lo
            b = largest if hi == STAR else hi
            yield (a, b) if a <= b else (b, a)

    def contains(self, n: int, largest: int) -> bool:
        return any(lo <= n <= hi for lo, hi in self.resolve(largest))

    def select(self, numbers: Iterable[int], largest: int) -> list[int]:
        """The members of ``numbers`` (any order) that the set matches, in input order."""
        ranges = sorted(self.resolve(largest))
        return [n for n in numbers if any(lo <= n <= hi for lo, hi in ranges)]

    def __str__(self) -> str:
        if self.saved:
            return "$"
        parts = []
        for lo, hi in self.ranges:
            a = "*" if lo == STAR else str(lo)
            if lo == hi:
                parts.append(a)
            else:
                parts.append(f"{a}:{'*' if hi == STAR else hi}")
        return ",".join(parts)


def _number(s: str) -> int:
    if s == "*":
        return STAR
    if not s.isascii() or not s.isdigit() or s[0] == "0" or len(s) > 10:
        raise ValueError(f"bad sequence number {s!r}")
    n = int(s)
    if n > MAX_NUMBER:
        raise ValueError("sequence number out of range")
    return n
