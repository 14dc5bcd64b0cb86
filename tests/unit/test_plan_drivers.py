"""One plan, two drivers: the receiver's blocking and event-loop paths run the same steps, the
store's capabilities are resolved once when the receiver is built (a sync-only store runs in a
worker thread on the loop, and no request asks the store what it can do), and the old `*_async`
spellings keep working."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from suno_hooks import Event, Receiver, callback_received, current_lease, task_completed
from suno_hooks._pipeline import config as config_module
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import (
    Claim,
    Delivery,
    DeliveryStatus,
    ExpectedTask,
    MemoryStore,
    ReplayCheck,
    TaskState,
)
from suno_hooks.stores import conformance as conformance_module
from suno_hooks.testing import encode, make_callback

from ..conftest import SECRET, unverified_receiver


class SyncOnlyStore:
    """A store with the sync `Store` methods only (no `a*`, no token binding, no expected
    tasks), recording the thread each call runs on."""

    def __init__(self) -> None:
        self.threads: list[tuple[str, int]] = []
        self._inner = MemoryStore()
        self.retention = self._inner.retention

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        self.threads.append(("claim", threading.get_ident()))
        return self._inner.claim(delivery, lease=lease, replay=replay)

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        self.threads.append(("finish", threading.get_ident()))
        return self._inner.finish(key, token=token, error=error)

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        self.threads.append(("extend", threading.get_ident()))
        return self._inner.extend(key, token=token, lease=lease)

    def get(self, key: str) -> Delivery | None:
        self.threads.append(("get", threading.get_ident()))
        return self._inner.get(key)

    def deliveries(self, **filters: Any) -> list[Delivery]:
        return self._inner.deliveries(**filters)

    def count_by_status(self) -> dict[str, int]:
        return self._inner.count_by_status()

    def purge(self, older_than: float | None = None) -> int:
        return self._inner.purge(older_than)

    def close(self) -> None:
        self._inner.close()


class SettlesApart(SyncOnlyStore):
    """`SyncOnlyStore` that keeps expected tasks but cannot settle one in its `finish`."""

    def expect(self, task: ExpectedTask) -> bool:
        return self._inner.expect(task)

    def settle(self, task_id: str, *, by: str = "callback") -> bool:
        self.threads.append(("settle", threading.get_ident()))
        return self._inner.settle(task_id, by=by)

    def claim_due(self, **options: Any) -> list[ExpectedTask]:
        return self._inner.claim_due(**options)

    def reschedule(self, task_id: str, *, at: float) -> bool:
        return self._inner.reschedule(task_id, at=at)

    def mark_lost(self, task_id: str) -> bool:
        return self._inner.mark_lost(task_id)

    def get_task(self, task_id: str) -> ExpectedTask | None:
        return self._inner.get_task(task_id)

    def tasks(self, **options: Any) -> list[ExpectedTask]:
        return self._inner.tasks(**options)

    def purge_tasks(self, older_than: float | None = None) -> int:
        return self._inner.purge_tasks(older_than)


def token_request(receiver: Receiver, body: dict[str, Any]) -> InboundRequest:
    url = receiver.callback_url("https://app.example/suno/callback")
    return InboundRequest("POST", encode(body), query=dict(parse_qsl(urlsplit(url).query)))


def test_the_old_async_spellings_are_the_new_methods():
    assert Receiver.handle_async is Receiver.ahandle
    assert Receiver.acknowledge_async is Receiver.aacknowledge


async def test_the_old_async_spellings_answer_and_dispatch():
    receiver = unverified_receiver(store=MemoryStore())
    seen: list[str] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event.dedupe_key)

    with task_completed.connected_to(handler):
        first = make_callback(task_id="old-handle")
        answer = await receiver.handle_async(InboundRequest("POST", encode(first)))
        assert answer.body == {"status": "received"}
        second = make_callback(task_id="old-acknowledge")
        early, after = await receiver.acknowledge_async(InboundRequest("POST", encode(second)))
        assert early.body == {"status": "received"}
        assert seen == ["old-handle:complete"]
        assert after is not None
        await after()
    assert seen == ["old-handle:complete", "old-acknowledge:complete"]
    kept = receiver.store.get("old-acknowledge:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE


async def test_a_sync_only_store_runs_in_a_worker_thread_on_the_event_loop(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(config_module, "_warned", set())  # warned once per process otherwise
    store = SyncOnlyStore()
    receiver = Receiver(secret_key=SECRET, store=store)  # type: ignore[arg-type]
    loop_thread = threading.get_ident()
    seen: list[str] = []

    async def handler(sender: Any, event: Event, **extra: Any) -> None:
        lease = current_lease()
        assert lease is not None
        assert await lease.aextend(30) is True
        seen.append(event.task_id)

    with task_completed.connected_to(handler), caplog.at_level(logging.WARNING, "suno_hooks"):
        answer = await receiver.ahandle(token_request(receiver, make_callback(task_id="t1")))
    assert answer.body == {"status": "received"}
    cannot_bind = [r for r in caplog.records if "cannot bind tokens" in r.getMessage()]
    assert len(cannot_bind) == 1
    assert seen == ["t1"]
    assert [name for name, _ in store.threads] == ["claim", "extend", "finish"]
    assert all(thread != loop_thread for _, thread in store.threads)
    kept = store._inner.get("t1:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    replayed = await receiver.areplay("t1:complete")
    assert replayed.body == {"status": "duplicate"}
    assert [name for name, _ in store.threads[3:]] == ["get", "claim"]
    assert all(thread != loop_thread for _, thread in store.threads)


class CountingAnswers(dict[Any, bool]):
    """The per-class capability answers, counting each time one is asked for."""

    asked = 0

    def get(self, key: Any, default: Any = None) -> Any:
        type(self).asked += 1
        return super().get(key, default)


@pytest.mark.parametrize("on_the_loop", [False, True])
def test_a_store_that_cannot_finish_settling_settles_just_before_finishing(on_the_loop: bool):
    store = SettlesApart()
    receiver = unverified_receiver(store=store)
    for task_id in ("progress", "terminal"):
        assert store.expect(ExpectedTask.submitted(task_id, "generate"))
    seen: list[str] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event.task_id)

    def post(body: dict[str, Any]) -> dict[str, Any]:
        request = InboundRequest("POST", encode(body))
        if on_the_loop:
            return asyncio.run(receiver.ahandle(request)).body
        return receiver.handle(request).body

    with callback_received.connected_to(handler):
        assert post(make_callback(task_id="progress", stage="first")) == {"status": "received"}
        assert post(make_callback(task_id="terminal")) == {"status": "received"}
    assert seen == ["progress", "terminal"]
    assert [name for name, _ in store.threads] == ["claim", "finish", "claim", "settle", "finish"]
    pending, settled = store.get_task("progress"), store.get_task("terminal")
    assert pending is not None and pending.state is TaskState.PENDING
    assert settled is not None and (settled.state, settled.settled_by) == (
        TaskState.SETTLED,
        "callback",
    )


def test_no_request_asks_the_store_what_it_can_do(monkeypatch: pytest.MonkeyPatch):
    store = SyncOnlyStore()
    receiver = Receiver(secret_key=SECRET, store=store)  # type: ignore[arg-type]
    monkeypatch.setattr(conformance_module, "_KNOWN", CountingAnswers())
    seen: list[str] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event.stage)

    with callback_received.connected_to(handler):
        for stage in ("first", "complete"):
            body = make_callback(task_id="asked", stage=stage)
            assert receiver.handle(token_request(receiver, body)).status == 200
        body = make_callback(task_id="asked-async")
        answer = asyncio.run(receiver.ahandle(token_request(receiver, body)))
        assert answer.status == 200
    assert seen == ["first", "complete", "complete"]
    assert CountingAnswers.asked == 0


async def test_a_cancelled_dispatch_leaves_no_lease_bound():
    receiver = unverified_receiver(store=MemoryStore())
    inside: list[bool] = []

    async def cancelled(sender: Any, event: Event, **extra: Any) -> None:
        inside.append(current_lease() is not None)
        raise asyncio.CancelledError

    with task_completed.connected_to(cancelled), pytest.raises(asyncio.CancelledError):
        await receiver.ahandle(InboundRequest("POST", encode(make_callback(task_id="c"))))
    assert inside == [True]
    assert current_lease() is None
    kept = receiver.store.get("c:complete")
    assert kept is not None and kept.status is DeliveryStatus.PROCESSING


def test_replacing_the_store_resolves_its_operations_again():
    receiver = unverified_receiver(store=MemoryStore())
    replacement = MemoryStore()
    receiver.store = replacement
    answer = receiver.handle(InboundRequest("POST", encode(make_callback(task_id="moved"))))
    assert answer.body == {"status": "received"}
    assert replacement.get("moved:complete") is not None
