"""The expected-task contract: the same assertions for every store."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from suno_hooks.stores.tasks import AsyncTaskStore, ExpectedTask, TaskState, TaskStore

from ..support.stores import STORE_KINDS, StoreFactory

T0 = 1_800_000_000.0


@pytest.fixture
def store(make_store: StoreFactory) -> TaskStore:
    built = make_store()
    assert isinstance(built, TaskStore) and isinstance(built, AsyncTaskStore)
    return built


def submitted(task_id: str, *, at: float = T0, after: float = 600, **extra: object) -> ExpectedTask:
    return ExpectedTask.submitted(task_id, "replace_section", after=after, now=at, **extra)  # type: ignore[arg-type]


def test_expect_remembers_a_pending_task_once(store: TaskStore):
    assert store.expect(submitted("t1", context={"user": 42, "tags": ["a"]}))
    assert not store.expect(submitted("t1", at=T0 + 5))
    task = store.get_task("t1")
    assert task is not None
    assert (task.task_id, task.feature, task.context) == (
        "t1",
        "replace_section",
        {"user": 42, "tags": ["a"]},
    )
    assert (task.state, task.polls, task.settled_by) == (TaskState.PENDING, 0, None)
    assert task.submitted_at == pytest.approx(T0) and task.next_poll_at == pytest.approx(T0 + 600)
    assert store.get_task("unknown") is None


def test_a_context_with_text_postgresql_cannot_hold_is_kept(store: TaskStore):
    context = {"nul": "a\x00b", "lone": "c\ud800d", "k\x00": ["e\x00"]}
    assert store.expect(submitted("t1", context=context))
    task = store.get_task("t1")
    assert task is not None
    # The Django store writes these as the PostgreSQL store writes its text; others keep them.
    assert task.context in (context, {"nul": "a\ufffdb", "lone": "c?d", "k\ufffd": ["e\ufffd"]})


def test_settle_and_lost_change_a_task_once(store: TaskStore):
    for task_id in ("a", "b"):
        store.expect(submitted(task_id))
    assert store.settle("a", by="poll")
    assert not store.settle("a", by="callback")
    assert not store.mark_lost("a")
    settled = store.get_task("a")
    assert settled is not None and (settled.state, settled.settled_by) == (
        TaskState.SETTLED,
        "poll",
    )
    assert store.mark_lost("b")
    assert not store.mark_lost("b")
    lost = store.get_task("b")
    assert lost is not None and (lost.state, lost.settled_by) == (TaskState.LOST, "timeout")
    # A task given up on stays lost (a late result is still dispatched by the receiver).
    assert not store.settle("b")
    assert not store.settle("never-expected")
    assert not store.mark_lost("never-expected")


def test_claim_due_takes_only_due_tasks_and_leases_them(store: TaskStore):
    store.expect(submitted("early", at=T0 - 100))
    store.expect(submitted("due", at=T0))
    store.expect(submitted("later", at=T0 + 100))
    store.expect(submitted("settled", at=T0 - 200))
    store.settle("settled")
    now = T0 + 650
    claimed = store.claim_due(limit=10, lease=30, now=now)
    assert [t.task_id for t in claimed] == ["early", "due"]
    assert all(t.polls == 1 and t.next_poll_at == pytest.approx(now + 30) for t in claimed)
    assert store.claim_due(limit=10, lease=30, now=now + 29) == []
    again = store.claim_due(limit=1, lease=30, now=now + 31)
    assert len(again) == 1 and again[0].polls == 2
    rest = store.claim_due(limit=5, lease=30, now=now + 31)
    assert {t.task_id for t in [*again, *rest]} == {"early", "due"}


def test_reschedule_moves_a_pending_task_only(store: TaskStore):
    store.expect(submitted("t1"))
    assert store.reschedule("t1", at=T0 + 5)
    assert [t.task_id for t in store.claim_due(now=T0 + 6)] == ["t1"]
    store.settle("t1")
    assert not store.reschedule("t1", at=T0)
    assert store.claim_due(now=T0 + 10_000) == []


def test_listings_by_state_newest_first(store: TaskStore):
    for offset, task_id in enumerate(["p-old", "p-new", "s", "l", "future"]):
        store.expect(submitted(task_id, at=T0 + offset, after=10 if task_id != "future" else 1e6))
    store.settle("s", by="poll")
    store.mark_lost("l")

    def ids(state: str | None, **options: float) -> list[str]:
        return [t.task_id for t in store.tasks(state=state, **options)]  # type: ignore[arg-type]

    assert ids(None) == ["future", "l", "s", "p-new", "p-old"]
    assert ids("pending") == ["future", "p-new", "p-old"]
    assert ids("overdue", now=T0 + 100) == ["p-new", "p-old"]
    assert ids("settled") == ["s"]
    assert ids("lost") == ["l"]
    assert [t.task_id for t in store.tasks(limit=2)] == ["future", "l"]
    with pytest.raises(ValueError, match="state must be one of"):
        store.tasks(state="bogus")


def test_purge_forgets_only_old_finished_tasks(store: TaskStore):
    for task_id in ("pending", "settled", "lost"):
        store.expect(submitted(task_id))
    store.settle("settled")
    store.mark_lost("lost")
    assert store.purge_tasks(older_than=time.time() - 3600) == 0
    assert store.purge_tasks(older_than=time.time() + 1) == 2
    assert [t.task_id for t in store.tasks()] == ["pending"]


async def test_async_operations_match(store: TaskStore):
    astore: AsyncTaskStore = store  # type: ignore[assignment]
    assert await astore.aexpect(submitted("a1"))
    assert not await astore.aexpect(submitted("a1"))
    claimed = await astore.aclaim_due(now=T0 + 601, lease=10)
    assert [t.task_id for t in claimed] == ["a1"]
    assert await astore.areschedule("a1", at=T0)
    assert [t.task_id for t in await astore.atasks(state="overdue", now=T0 + 1)] == ["a1"]
    assert await astore.asettle("a1", by="poll")
    assert not await astore.amark_lost("a1")
    task = await astore.aget_task("a1")
    assert task is not None and (task.state, task.settled_by, task.polls) == (
        TaskState.SETTLED,
        "poll",
        1,
    )


@pytest.mark.parametrize("kind", [kind for kind in STORE_KINDS if kind != "django"])
def test_concurrent_claims_take_each_task_once(kind: str, request: pytest.FixtureRequest):
    make: StoreFactory = request.getfixturevalue(f"{kind}_store_factory")
    store = make()
    for n in range(60):
        store.expect(submitted(f"t{n}"))  # type: ignore[attr-defined]
    workers = 6
    barrier = threading.Barrier(workers)

    def claim() -> list[str]:
        barrier.wait()
        taken: list[str] = []
        while batch := store.claim_due(limit=7, lease=300, now=T0 + 601):  # type: ignore[attr-defined]
            taken.extend(t.task_id for t in batch)
        return taken

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: claim(), range(workers)))
    everything = [task_id for taken in results for task_id in taken]
    assert sorted(everything) == sorted(f"t{n}" for n in range(60))
