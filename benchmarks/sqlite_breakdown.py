"""Where the SQLite store's claim + finish goes, piece by piece, against the one-INSERT floor.

    .venv/bin/python benchmarks/sqlite_breakdown.py [--n 5000]

The floor, the store's statements and the store each run on a file of their own (WAL,
synchronous=NORMAL); each row times one operation at a time after a warm-up batch, and prints
the mean and the median. A checkpoint (which copies the log into the file and syncs it) lands
on one operation in a few hundred, so the mean carries it and the median does not; it costs in
proportion to the pages written. The last line says how many pages a row takes: the floor's row
fits three to a 4 KiB page, the store's (the body plus the inbox's headers, times and guard) two.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.stores import BODY, deliveries  # noqa: E402
from suno_hooks.stores import Delivery, ReplayCheck, SQLiteStore  # noqa: E402
from suno_hooks.stores.sqlite._statements import FAST_CLAIM, FINISH  # noqa: E402
from suno_hooks.stores.sqlite._writes import claim_params  # noqa: E402

# The claim's columns and values without its checks: what the row itself costs to insert.
PLAIN_ROW = """
INSERT INTO suno_hooks_deliveries (
    key, task_id, stage, terminal, kind, status, lease_until, attempts, error, received_at,
    updated_at, meta, body, lease_token, signature_key, digest, guard_until
)
VALUES (
    ?1, ?2, ?3, ?4, ?5, 'processing', ?6 + ?7, 1, NULL, ?8, ?6, ?9, ?10, ?11, ?12, ?13, ?6 + ?14
)
"""


def params(n: int) -> list[tuple[Any, ...]]:
    """The claim statement's parameters for `n` fresh deliveries."""
    return [claim_params(fresh, 60.0, replay, uuid.uuid4().hex) for fresh, replay in deliveries(n)]


def timed(operation: Callable[[Any], object], items: list[Any]) -> list[float]:
    """Microseconds each call of `operation` took, one per item."""
    took = []
    clock = time.perf_counter
    for item in items:
        started = clock()
        operation(item)
        took.append((clock() - started) * 1e6)
    return took


def wal_connection(path: Path) -> sqlite3.Connection:
    """An autocommit connection to `path` in WAL mode with synchronous=NORMAL, as the store's."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def floor(directory: Path, n: int) -> tuple[list[float], float]:
    """The floor's timings, and its pages per row."""
    conn = wal_connection(directory / "floor.db")
    conn.execute("CREATE TABLE floor (key TEXT PRIMARY KEY, body BLOB)")

    def insert(key: str) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO floor VALUES (?, ?)", (key, BODY))
        conn.execute("COMMIT")

    timed(insert, [uuid.uuid4().hex for _ in range(n)])
    before = conn.execute("PRAGMA page_count").fetchone()[0]
    took = timed(insert, [uuid.uuid4().hex for _ in range(n)])
    pages = (conn.execute("PRAGMA page_count").fetchone()[0] - before) / n
    conn.close()
    return took, pages


@dataclass
class Statements:
    """Timings of the store's statements on their own file, and the row's pages."""

    plain: list[float]
    claim: list[float]
    finish: list[float]
    pages: float


def statements(directory: Path, n: int) -> Statements:
    """The store's row inserted plainly, its claim statement and its finish statement."""
    path = directory / "statements.db"
    SQLiteStore(path).close()
    conn = wal_connection(path)
    for row in params(n):
        conn.execute(FAST_CLAIM, row)
    before = conn.execute("PRAGMA page_count").fetchone()[0]
    plain = timed(lambda row: conn.execute(PLAIN_ROW, row), params(n))
    pages = (conn.execute("PRAGMA page_count").fetchone()[0] - before) / n
    claimed = params(n)
    claim = timed(lambda row: conn.execute(FAST_CLAIM, row), claimed)
    finish = timed(
        lambda row: conn.execute(FINISH, ("done", None, time.time(), row[0], row[10])), claimed
    )
    conn.close()
    return Statements(plain, claim, finish, pages)


def store_path(store: SQLiteStore, n: int) -> list[float]:
    """`claim` + `finish` of fresh deliveries through the store, after a warm-up batch."""

    def both(item: tuple[Delivery, ReplayCheck]) -> None:
        claimed = store.claim(item[0], lease=60, replay=item[1])
        store.finish(item[0].key, token=claimed.token)

    timed(both, deliveries(n))
    took = timed(both, deliveries(n))
    store.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="operations per row")
    args = parser.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        floor_took, floor_pages = floor(directory, n)
        pieces = statements(directory, n)
        whole = store_path(SQLiteStore(directory / "store.db"), n)
    rows: list[tuple[str, list[float]]] = [
        ("floor: INSERT in its own transaction", floor_took),
        ("the store's row, inserted without checks", pieces.plain),
        ("FAST_CLAIM (the claim statement)", pieces.claim),
        ("FINISH (the finish statement)", pieces.finish),
        ("SQLiteStore.claim + finish", whole),
    ]
    floor_mean, floor_median = statistics.fmean(floor_took), statistics.median(floor_took)
    print(f"{'piece':46} {'mean µs':>8} {'× floor':>8} {'median µs':>10} {'× floor':>8}")
    print("-" * 84)
    for name, took in rows:
        mean, median = statistics.fmean(took), statistics.median(took)
        print(
            f"{name:46} {mean:8.1f} {mean / floor_mean:8.2f} {median:10.1f} "
            f"{median / floor_median:8.2f}"
        )
    print(
        f"\npages per row: floor {floor_pages:.2f}, the store's row {pieces.pages:.2f} "
        f"({n} operations per row; one process, one thread)"
    )


if __name__ == "__main__":
    main()
