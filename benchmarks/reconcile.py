"""Reconciler cost per 1,000 pending tasks on SQLite and Redis, in one run.

Two rows per store:
- store only: claim the due tasks in batches and reschedule each (what a pass costs the store
  when every poll finds the task still running), as ms per 1,000 tasks and store calls per
  second;
- full pass: `Reconciler.run_once()` until nothing is due, polling a local sandbox over HTTP
  whose tasks all finished with their callback dropped, so every poll dispatches a result
  through the receiver: ms per 1,000 tasks and polls per second.

    .venv/bin/python benchmarks/reconcile.py [--tasks 1000] [--stores sqlite,redis]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suno_hooks import Receiver
from suno_hooks.client import SunoClient
from suno_hooks.reconcile import Reconciler
from suno_hooks.sandbox import serve_sandbox
from suno_hooks.stores import ExpectedTask, RedisStore, SQLiteStore, TaskStore
from tests.support.services import RedisServer

API_KEY = "bench-key"
WAV = {"taskId": "src", "audioId": "a1"}


def store_only(store: TaskStore, n: int) -> tuple[float, float]:
    """ms per 1,000 tasks and store calls per second for claim + reschedule of `n` tasks."""
    now = time.time()
    for i in range(n):
        store.expect(ExpectedTask.submitted(f"s{i}", "wav", after=0, now=now - 1))
    calls = 0
    started = time.perf_counter()
    while batch := store.claim_due(limit=100, lease=60, now=now):
        calls += 1
        for task in batch:
            store.reschedule(task.task_id, at=now + 3600)
            calls += 1
    elapsed = time.perf_counter() - started
    return elapsed * 1000 * 1000 / n, calls / elapsed


def full_pass(make_store: Callable[[], TaskStore], n: int) -> tuple[float, float]:
    """ms per 1,000 tasks and polls per second for reconciling `n` dropped callbacks."""
    store = make_store()
    receiver = Receiver(store=store, require="none")  # type: ignore[arg-type]
    with serve_sandbox(api_key=API_KEY, scenarios=["drop"]) as api:
        client = SunoClient(
            API_KEY,
            base_url=api.url,
            receiver=receiver,
            callback_base="http://127.0.0.1:9/unused",
        )
        ids = [client.create("wav", **WAV).task_id for _ in range(n)]
        for task_id in ids:
            api.wait(task_id)
        reconciler = Reconciler(receiver, client, after=0, rate=1e6, batch=100)
        polled = 0
        started = time.perf_counter()
        while (report := reconciler.run_once()).claimed:
            polled += report.polled
        elapsed = time.perf_counter() - started
        client.close()
    assert polled == n, f"polled {polled} of {n}"
    return elapsed * 1000 * 1000 / n, polled / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--stores", default="sqlite,redis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis_server: RedisServer | None = None
        factories: dict[str, Callable[[], TaskStore]] = {}
        for name in args.stores.split(","):
            if name == "sqlite":
                factories[name] = lambda: SQLiteStore(Path(tmp) / f"{uuid.uuid4().hex}.db")
            elif name == "redis":
                redis_server = RedisServer(Path(tmp) / "redis", persistent=False).start()
                factories[name] = lambda url=redis_server.url: RedisStore(
                    url, prefix=f"bench-{uuid.uuid4().hex}:"
                )
            else:
                parser.error(f"unknown store {name!r}")
        print(f"{args.tasks} pending tasks per run")
        print("| store | what | ms per 1,000 tasks | per second |")
        print("|---|---|---:|---:|")
        try:
            for name, make in factories.items():
                per_thousand, calls = store_only(make(), args.tasks)
                print(f"| {name} | claim + reschedule | {per_thousand:.1f} | {calls:.0f} calls |")
                per_thousand, polls = full_pass(make, args.tasks)
                row = f"| {name} | full pass (poll + dispatch) | {per_thousand:.1f} |"
                print(f"{row} {polls:.0f} polls |")
        finally:
            if redis_server is not None:
                redis_server.stop()


if __name__ == "__main__":
    main()
