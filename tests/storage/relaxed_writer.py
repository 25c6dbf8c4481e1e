"""Child process for the SIGKILL test of relaxed writes: inserts rows with
``SqliteMeta.write(op, durable=False)`` forever, printing "ACK <n>" only after each write
returned."""

from __future__ import annotations

import asyncio
import sys

from rongmail.store.sql.q import Op, Q
from rongmail.store.sqlite.meta import SqliteMeta


def create() -> Op[None]:
    yield Q("CREATE TABLE IF NOT EXISTS relaxed_probe (n INTEGER PRIMARY KEY)")


def insert(n: int) -> Op[None]:
    yield Q("INSERT INTO relaxed_probe (n) VALUES (?)", (n,))


async def main(path: str) -> None:
    meta = SqliteMeta(path)
    await meta.open()
    await meta.write(create())
    print("READY", flush=True)
    n = 0
    while True:
        n += 1
        await meta.write(insert(n), durable=False)
        sys.stdout.write(f"ACK {n}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
