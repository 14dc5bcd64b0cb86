"""Shared by the group-commit tests: the claims a batch is checked on (each answered as the
unbatched path answers it), a counter of event-loop turns, the write lock held by another
connection, faults injected into one item of a batch, and a worker process killed in the middle
of a batch."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from suno_hooks.stores import (
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
    SQLiteStore,
    Store,
)
from suno_hooks.stores.sqlite import _batches
from suno_hooks.stores.sqlite._writes import claim_in_transaction


def delivery(task_id: str, stage: str = "complete", body: bytes = b"{}") -> Delivery:
    """A delivery of `task_id:stage`."""
    return Delivery(key=f"{task_id}:{stage}", task_id=task_id, stage=stage, body=body)


Request = tuple[Delivery, ReplayCheck | None]


def signed(task_id: str, stage: str, body: bytes, signature: str) -> Request:
    """A delivery with the replay check of its signature."""
    return delivery(task_id, stage, body), ReplayCheck(signature, body, 600)


def history(store: Store) -> None:
    """What the store holds before the batch: done, failed, lapsed, busy and guarded keys."""
    for i in range(3):
        done = store.claim(delivery(f"done{i}"), lease=60)
        assert store.finish(f"done{i}:complete", token=done.token)
        failed = store.claim(delivery(f"failed{i}"), lease=60)
        assert store.finish(f"failed{i}:complete", token=failed.token, error="boom")
        store.claim(delivery(f"lapsed{i}"), lease=0.001)
        store.claim(delivery(f"busy{i}"), lease=600)
        first = signed(f"guarded{i}", "first", b"first", f"sig-g{i}")
        guarded = store.claim(first[0], lease=60, replay=first[1])
        assert store.finish(f"guarded{i}:first", token=guarded.token)


def requests() -> list[Request]:
    """50 new signed deliveries, with in-flight duplicates, a progress stage after its task's
    end, a signature reused with another body, and claims of every key `history` left."""
    sequence: list[Request] = []
    for i in range(50):
        sequence.append(signed(f"new{i}", "complete", b"new %d" % i, f"sig-n{i}"))
        if i % 5 == 0:
            sequence.append(signed(f"new{i}", "complete", b"new %d" % i, f"sig-n{i}"))
        if i % 7 == 0:
            sequence.append((delivery(f"new{i}", "text"), None))
        if i % 11 == 0:
            sequence.append(signed(f"new{i}", "first", b"another body", f"sig-n{i}"))
    for i in range(3):
        sequence += [(delivery(f"{name}{i}"), None) for name in ("done", "failed", "lapsed")]
        sequence.append((delivery(f"busy{i}"), None))
        sequence.append(signed(f"guarded{i}", "complete", b"other", f"sig-g{i}"))
    return sequence


def answers(claims: list[Claim]) -> list[tuple[ClaimResult, int, bool]]:
    """What a caller learns from each claim: its result, attempt and whether it got a token."""
    return [(claim.result, claim.attempts, bool(claim.token)) for claim in claims]


def kept(store: Store) -> dict[str, tuple[DeliveryStatus, int, str | None]]:
    """Each kept delivery's status, attempts and error, by key."""
    return {d.key: (d.status, d.attempts, d.error) for d in store.deliveries(limit=1000)}


def statuses(store: Store) -> dict[str, DeliveryStatus]:
    """Each kept delivery's status, by key."""
    return {key: status for key, (status, _, _) in kept(store).items()}


def batched(sizes: Counter[int]) -> int:
    """How many requests the batches counted in `sizes` held."""
    return sum(size * count for size, count in sizes.items())


class LoopTurns:
    """Counts the turns of the running event loop: a task that yields once per turn."""

    def __init__(self) -> None:
        self.turns = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopTurns:
        self._task = asyncio.ensure_future(self._count())
        await asyncio.sleep(0)  # the counter's first turn
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _count(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)


@contextmanager
def write_lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holds the file's write lock until the block ends (or it commits)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("COMMIT")
        other.close()


def refuse_rows_of(path: Path, task_id: str) -> None:
    """A trigger that aborts any insert of a delivery of `task_id`, as a constraint would."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            f"CREATE TRIGGER refuse_{task_id} BEFORE INSERT ON suno_hooks_deliveries "
            f"WHEN NEW.task_id = '{task_id}' BEGIN SELECT RAISE(ABORT, 'refused {task_id}'); END"
        )
    conn.close()


class Injected(Exception):
    """The failure a test injects into one item of a batch."""


def fail_after_writing(monkeypatch: pytest.MonkeyPatch, name: str, key: str) -> None:
    """Make `_batches.<name>` (`claim_in_transaction` or `finish_and_settle`) raise `Injected`
    for `key`'s item after it has written it."""
    real: Callable[..., Any] = getattr(_batches, name)

    def write_then_fail(conn: sqlite3.Connection, *args: Any) -> Any:
        answer = real(conn, *args)
        # claim_in_transaction(conn, replay, params) or finish_and_settle(conn, key, ...)
        item_key = args[1][0] if name == "claim_in_transaction" else args[0]
        if item_key == key:
            raise Injected(f"injected after writing {key}")
        return answer

    monkeypatch.setattr(_batches, name, write_then_fail)


def wait_abandoned(store: Store, key: str) -> None:
    """Until `key`'s lease has ended with nobody finishing it (listed as abandoned)."""
    for _ in range(2000):
        kept = store.get(key)
        assert kept is not None and kept.status in (
            DeliveryStatus.PROCESSING,
            DeliveryStatus.ABANDONED,
        ), kept
        if kept.status is DeliveryStatus.ABANDONED:
            return
        time.sleep(0.01)
    pytest.fail(f"{key} was never listed as abandoned")


def hang_mid_batch(path: str, task_ids: list[str], after: int, marker: str) -> None:
    """In a worker process: claim one delivery of each task at once on an event loop, and block
    inside the batch's transaction once `after` of them are written (the test kills it)."""
    written = 0

    def write_then_block(conn: sqlite3.Connection, *args: Any) -> Any:
        nonlocal written
        answer = claim_in_transaction(conn, *args)
        written += 1
        if written == after:
            Path(marker).write_text(str(written))
            time.sleep(600)
        return answer

    store = SQLiteStore(path)

    async def claim_all() -> None:
        await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in task_ids))

    with mock.patch.object(_batches, "claim_in_transaction", write_then_block):
        asyncio.run(claim_all())
