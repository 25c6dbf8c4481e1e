"""The sans-IO query protocol shared by every SQL backend.

An *operation* is a generator that yields :class:`Q` / :class:`QMany` requests and receives
the resulting rows (a ``list`` of tuples) through ``send``; its ``return`` value is the
operation's result. Drivers (``store/sqlite``, ``store/postgres``) run operations inside a
transaction; they never interpret the SQL beyond placeholder translation.

SQL is written for SQLite with ``?`` placeholders; ``pg`` gives a PostgreSQL variant where the
dialects differ (it may use ``?`` or ``$n``; both work). Literal ``?`` characters must not appear in SQL text (use parameters).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")
Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Q:
    """One statement. ``pg``/``pg_params`` replace ``sql``/``params`` on PostgreSQL; an empty
    statement for the running dialect is skipped (returns ``[]``)."""

    sql: str
    params: Sequence[Any] = ()
    pg: str | None = None
    pg_params: Sequence[Any] | None = None


@dataclass(frozen=True, slots=True)
class QMany:
    """``executemany``; ``pg`` replaces ``sql`` on PostgreSQL; empty SQL or no rows is a no-op."""

    sql: str
    rows: Sequence[Sequence[Any]]
    pg: str | None = None


Op = Generator[Q | QMany, list[Row], T]


def one(rows: list[Row]) -> Row | None:
    return rows[0] if rows else None


def scalar(rows: list[Row], default: Any = None) -> Any:
    return rows[0][0] if rows else default


def placeholders(n: int) -> str:
    return ",".join("?" * n)


#: Values bound in one ``IN (...)`` list: below SQLite's default limit of 999 host parameters,
#: with room for the query's other parameters.
IN_BATCH = 500


def batches(values: Sequence[T], size: int = IN_BATCH) -> Iterator[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size`` (one ``IN (...)`` list each)."""
    for i in range(0, len(values), size):
        yield values[i:i + size]


def const(value: T) -> Op[T]:
    """An operation that performs no query (useful in composition)."""
    return value
    yield  # pragma: no cover  (makes this a generator)


_PG_CACHE: dict[str, str] = {}


def to_pg(sql: str) -> str:
    """Rewrite ``?`` placeholders to ``$1..$n`` (cached)."""
    got = _PG_CACHE.get(sql)
    if got is not None:
        return got
    parts = sql.split("?")
    out = parts[0]
    for i, p in enumerate(parts[1:], start=1):
        out += f"${i}" + p
    if len(_PG_CACHE) < 4096:
        _PG_CACHE[sql] = out
    return out
