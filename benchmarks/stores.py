"""Microseconds per store operation: memory, SQLite, Redis and PostgreSQL, with their floors.

    python benchmarks/stores.py [--n 3000] [--repeats 5]
    python benchmarks/stores.py --quick        # 200 operations, one batch: a smoke run

Floors measured in the same run: for SQLite one INSERT of the same row into a one-index table
in its own BEGIN IMMEDIATE transaction (same file, WAL, synchronous=NORMAL); for Redis a raw
`SET key body NX` round trip with redis-py (the same body); for PostgreSQL one autocommit
INSERT into a one-index table with psycopg. Starts its own redis-server (no persistence) and
PostgreSQL; redis-server runs on one core and this process on another.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402

from suno_hooks.stores import (  # noqa: E402
    Delivery,
    FinishesSettling,
    MemoryStore,
    PostgresStore,
    RedisStore,
    ReplayCheck,
    SQLiteStore,
    Store,
)
from suno_hooks.stores.conformance import conforms  # noqa: E402
from suno_hooks.testing import encode, make_callback, sign_headers  # noqa: E402
from tests.support.postgres import PostgresServer, running_postgres  # noqa: E402
from tests.support.services import RedisServer  # noqa: E402

BODY = encode(make_callback())
HEADERS = {k.lower(): v for k, v in sign_headers(BODY, "whk_bench").items()}


def deliveries(n: int) -> list[tuple[Delivery, ReplayCheck]]:
    """`n` fresh, signed, terminal deliveries of a two-track music callback."""
    batch = []
    for _ in range(n):
        task_id = uuid.uuid4().hex
        delivery = Delivery(
            key=f"{task_id}:complete",
            task_id=task_id,
            stage="complete",
            body=BODY,
            kind="music",
            headers=HEADERS,
            peer="203.0.113.7",
        )
        batch.append((delivery, ReplayCheck(f"{uuid.uuid4().hex}", b"d" * 1024, 600.0)))
    return batch


def per_op(
    run: Callable[[list[Any]], None], make: Callable[[int], list[Any]], n: int, repeats: int
) -> float:
    """Median over `repeats` batches of the mean µs per item."""
    samples = []
    for _ in range(repeats):
        batch = make(n)
        started = time.perf_counter()
        run(batch)
        samples.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(samples)


def store_rows(name: str, store: Store, n: int, repeats: int) -> list[tuple[str, float]]:
    def claim(batch: list[tuple[Delivery, ReplayCheck]]) -> None:
        for delivery, guard in batch:
            store.claim(delivery, lease=60, replay=guard)

    def claim_finish(batch: list[tuple[Delivery, ReplayCheck]]) -> None:
        for delivery, guard in batch:
            claim = store.claim(delivery, lease=60, replay=guard)
            store.finish(delivery.key, token=claim.token)

    def claim_finish_settling(batch: list[tuple[Delivery, ReplayCheck]]) -> None:
        settling = cast(FinishesSettling, store)
        for delivery, guard in batch:
            claim = store.claim(delivery, lease=60, replay=guard)
            settling.finish_settling(
                delivery.key, token=claim.token, error=None, task_id=delivery.task_id, by="callback"
            )

    duplicates = deliveries(n)
    claim_finish(duplicates)
    settling_row = []
    if conforms(store, FinishesSettling):
        settling_row = [
            (
                f"{name} claim + finish_settling (the receiver's)",
                per_op(claim_finish_settling, deliveries, n, repeats),
            )
        ]

    def duplicate(batch: list[tuple[Delivery, ReplayCheck]]) -> None:
        for delivery, guard in batch:
            store.claim(delivery, lease=60, replay=guard)

    return [
        (f"{name} claim (new, signed, terminal)", per_op(claim, deliveries, n, repeats)),
        (f"{name} claim + finish", per_op(claim_finish, deliveries, n, repeats)),
        *settling_row,
        (f"{name} claim of a duplicate", per_op(duplicate, lambda _: duplicates, n, repeats)),
    ]


def sqlite_floor(path: Path, n: int, repeats: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE floor (key TEXT PRIMARY KEY, body BLOB)")

    def insert(keys: list[str]) -> None:
        for key in keys:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO floor VALUES (?, ?)", (key, BODY))
            conn.execute("COMMIT")

    try:
        return per_op(insert, lambda k: [uuid.uuid4().hex for _ in range(k)], n, repeats)
    finally:
        conn.close()


def redis_floor(url: str, n: int, repeats: int) -> float:
    client = redis.Redis.from_url(url)

    def set_nx(keys: list[str]) -> None:
        for key in keys:
            client.set(key, BODY, nx=True)

    try:
        return per_op(set_nx, lambda k: [f"floor:{uuid.uuid4().hex}" for _ in range(k)], n, repeats)
    finally:
        client.close()


def postgres_floor(server: PostgresServer, n: int, repeats: int) -> float:
    conn = psycopg.connect(
        host=server.host, port=server.port, user=server.user, dbname=server.name, autocommit=True
    )
    conn.execute("CREATE TABLE floor (id bigserial PRIMARY KEY, key text UNIQUE, body bytea)")

    def insert(keys: list[str]) -> None:
        for key in keys:
            conn.execute("INSERT INTO floor (key, body) VALUES (%s, %s)", (key, BODY))

    try:
        return per_op(insert, lambda k: [uuid.uuid4().hex for _ in range(k)], n, repeats)
    finally:
        conn.close()


def pin_apart(server: RedisServer) -> bool:
    """Run redis-server on core 1 and this process on core 0, as a load generator and a server
    are kept apart (unpinned, the scheduler moves them and the Redis rows swing by a third);
    False where there are fewer than two cores."""
    cores = os.sched_getaffinity(0)
    if len(cores) < 2 or server.process is None:
        return False
    first, second = sorted(cores)[:2]
    os.sched_setaffinity(server.process.pid, {second})
    os.sched_setaffinity(0, {first})
    return True


def async_claim(store: Any, n: int, repeats: int) -> float:
    async def main() -> float:
        samples = []
        for _ in range(repeats):
            batch = deliveries(n)
            started = time.perf_counter()
            for delivery, guard in batch:
                await store.aclaim(delivery, lease=60, replay=guard)
            samples.append((time.perf_counter() - started) / n * 1e6)
        await store.aclose()
        return statistics.median(samples)

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="operations per batch")
    parser.add_argument("--repeats", type=int, default=5, help="batches per figure (median)")
    parser.add_argument("--quick", action="store_true", help="200 operations, one batch")
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeats = 200, 1
    n, repeats = args.n, args.repeats

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        server = RedisServer(directory / "redis", persistent=False).start()
        pinned = pin_apart(server)
        try:
            memory = MemoryStore(max_keys=10 * n * repeats, max_deliveries=10 * n * repeats)
            sqlite_store = SQLiteStore(directory / "bench.db")
            redis_store = RedisStore(server.url, prefix="bench:")
            redis_store.claim(deliveries(1)[0][0], lease=60)  # load the script once
            rows = store_rows("memory", memory, n, repeats)
            sqlite_base = sqlite_floor(directory / "floor.db", n, repeats)
            rows += [("SQLite floor: INSERT in its own transaction", sqlite_base)]
            rows += store_rows("SQLite", sqlite_store, n, repeats)
            redis_base = redis_floor(server.url, n, repeats)
            rows += [("Redis floor: SET NX round trip", redis_base)]
            rows += store_rows("Redis", redis_store, n, repeats)
            rows += [("Redis asyncio claim (new)", async_claim(redis_store, n, repeats))]
            sqlite_store.close()
            redis_store.close()
        finally:
            server.stop()
        with running_postgres() as postgres:
            url = f"postgresql://{postgres.user}@{postgres.host}:{postgres.port}/{postgres.name}"
            postgres_store = PostgresStore(url)
            postgres_store.claim(deliveries(1)[0][0], lease=60)  # creates the schema
            postgres_base = postgres_floor(postgres, n, repeats)
            rows += [("PostgreSQL floor: INSERT round trip", postgres_base)]
            rows += store_rows("PostgreSQL", postgres_store, n, repeats)
            rows += [("PostgreSQL asyncio claim (new)", async_claim(postgres_store, n, repeats))]
            postgres_store.close()

    print(f"{'operation':52} {'µs/op':>8} {'× floor':>8}")
    print("-" * 70)
    for name, micros in rows:
        floor = sqlite_base if name.startswith("SQLite") else None
        floor = redis_base if name.startswith("Redis") else floor
        floor = postgres_base if name.startswith("PostgreSQL") else floor
        ratio = f"{micros / floor:8.2f}" if floor else f"{'':8}"
        print(f"{name:52} {micros:8.1f} {ratio}")
    print(f"\n{n} operations per batch, median of {repeats} batches; one process, one thread.")
    if pinned:
        print("redis-server pinned to one core and this process to another (PostgreSQL is not).")
    figures = dict(rows)
    print("\nclaim + finish of a new callback against the store's one-write floor (target ≤ 2×):")
    for name, floor in (
        ("SQLite", sqlite_base),
        ("Redis", redis_base),
        ("PostgreSQL", postgres_base),
    ):
        both = figures[f"{name} claim + finish"]
        print(f"  {name:10} {both:8.1f} µs / {floor:6.1f} µs = {both / floor:5.2f}×", end="")
        settling = figures.get(f"{name} claim + finish_settling (the receiver's)")
        if settling is not None:
            print(f"   (with the expected-task settle: {settling / floor:5.2f}×)", end="")
        print()


if __name__ == "__main__":
    main()
