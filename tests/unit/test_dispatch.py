"""Signal semantics: order, senders, async receivers, failures that never break the answer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from suno_hooks import (
    Event,
    Receiver,
    callback_received,
    callback_rejected,
    task_completed,
    task_failed,
    task_progress,
)
from suno_hooks._pipeline.dispatch import BlinkerDispatcher
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver


def post(receiver: Receiver, body: dict, **kwargs: Any):
    return receiver.handle(InboundRequest("POST", encode(body)), **kwargs)


def test_signals_in_order_with_the_receiver_as_sender():
    receiver = unverified_receiver(store=MemoryStore())
    log: list[tuple[str, Any, str]] = []

    def record(name: str):
        def receiver_fn(sender: Any, event: Event, **extra: Any) -> None:
            log.append((name, sender, event.stage))

        return receiver_fn

    received, progress, completed, failed = (
        record(n) for n in ("received", "progress", "completed", "failed")
    )
    with (
        callback_received.connected_to(received),
        task_progress.connected_to(progress),
        task_completed.connected_to(completed),
        task_failed.connected_to(failed),
    ):
        task_id = "a" * 32
        for stage in ("text", "first", "complete"):
            post(receiver, make_callback(stage=stage, task_id=task_id))
        post(receiver, make_callback(stage="error"))
    assert [(name, stage) for name, _, stage in log] == [
        ("received", "text"),
        ("progress", "text"),
        ("received", "first"),
        ("progress", "first"),
        ("received", "complete"),
        ("completed", "complete"),
        ("received", "error"),
        ("failed", "error"),
    ]
    assert all(sender is receiver for _, sender, _ in log)


def test_custom_sender_and_connect_via():
    receiver = unverified_receiver(store=MemoryStore())
    app = object()
    other = object()
    mine: list[Event] = []
    theirs: list[Event] = []
    with (
        task_completed.connected_to(lambda s, event, **k: mine.append(event), sender=app),
        task_completed.connected_to(lambda s, event, **k: theirs.append(event), sender=other),
    ):
        post(receiver, make_callback(), sender=app)
    assert len(mine) == 1 and theirs == []


def test_one_failing_receiver_does_not_stop_the_others():
    store = MemoryStore()
    receiver = unverified_receiver(store=store)
    ran: list[str] = []

    def first(sender: Any, event: Event, **extra: Any) -> None:
        raise ValueError("first fails")

    def second(sender: Any, event: Event, **extra: Any) -> None:
        ran.append(event.task_id)

    with task_completed.connected_to(first), task_completed.connected_to(second):
        body = make_callback()
        assert post(receiver, body).body == {"status": "received"}
    assert ran == [body["data"]["task_id"]]
    kept = store.get(f"{body['data']['task_id']}:complete")
    assert kept is not None and kept.status == "failed" and "first fails" in (kept.error or "")


async def test_async_receivers_are_awaited_on_the_async_path():
    receiver = unverified_receiver(store=MemoryStore())
    done: list[str] = []

    async def save(sender: Any, event: Event, **extra: Any) -> None:
        done.append(event.stage)

    with task_completed.connected_to(save):
        outcome = await receiver.handle_async(InboundRequest("POST", encode(make_callback())))
    assert outcome.status == 200 and done == ["complete"]


def test_async_receivers_run_on_the_sync_path():
    receiver = unverified_receiver(store=MemoryStore())
    done: list[str] = []

    async def save(sender: Any, event: Event, **extra: Any) -> None:
        done.append(event.stage)

    with task_completed.connected_to(save):
        assert post(receiver, make_callback()).status == 200
    assert done == ["complete"]


async def test_sync_receivers_on_the_async_path_run_through_the_given_thread_hop():
    hops: list[int] = []

    async def hop(call: Callable[[], list[str]]) -> list[str]:
        hops.append(1)
        return await asyncio.to_thread(call)

    receiver = unverified_receiver(store=MemoryStore(), dispatcher=BlinkerDispatcher(to_thread=hop))
    threads: list[int] = []

    def save(sender: Any, event: Event, **extra: Any) -> None:
        threads.append(threading.get_ident())

    with callback_received.connected_to(save), task_completed.connected_to(save):
        outcome = await receiver.handle_async(InboundRequest("POST", encode(make_callback())))
    assert outcome.status == 200
    # Consecutive sync receivers share one hop, off the loop's thread.
    assert hops == [1] and len(threads) == 2
    assert threading.get_ident() not in threads


def test_async_receivers_on_the_sync_path_run_through_the_given_runner():
    ran: list[str] = []

    def runner(awaitable: Awaitable[Any]) -> Any:
        ran.append("runner")
        return asyncio.run(_awaited(awaitable))

    receiver = unverified_receiver(
        store=MemoryStore(), dispatcher=BlinkerDispatcher(run_async=runner)
    )

    async def save(sender: Any, event: Event, **extra: Any) -> None:
        await asyncio.sleep(0)
        ran.append(event.stage)

    with task_completed.connected_to(save):
        assert post(receiver, make_callback()).status == 200
    assert ran == ["runner", "complete"]


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def test_rejections_are_signalled_for_monitoring():
    receiver = Receiver(hmac_keys=["k"], store=MemoryStore())
    seen: list[dict[str, Any]] = []

    def monitor(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs)
        raise RuntimeError("a broken monitor never breaks the answer")

    with callback_rejected.connected_to(monitor):
        outcome = receiver.handle(InboundRequest("POST", encode(make_callback()), peer="1.2.3.4"))
    assert outcome.status == 401
    assert seen == [
        {
            "error": "missing_signature",
            "status": 401,
            "detail": outcome.body["detail"],
            "peer": "1.2.3.4",
        }
    ]


def test_event_to_json_round_trips():
    receiver = unverified_receiver(store=MemoryStore())
    events: list[Event] = []
    with callback_received.connected_to(lambda s, event, **k: events.append(event)):
        post(receiver, make_callback())
    payload = events[0].to_dict()
    assert payload["tracks"][0]["title"] == "Neon Rain"
    assert payload["raw"] == events[0].raw
    assert events[0].to_json().startswith("{")


def test_replay_runs_failed_deliveries_again():
    store = MemoryStore()
    receiver = Receiver(store=store, secret_key="s")
    url = receiver.callback_url("https://x.test/cb", context={"user": 7}, feature="lyrics")
    broken = True
    seen: list[Event] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        if broken:
            raise RuntimeError("down")
        seen.append(event)

    body = make_callback("lyrics", "complete")
    key = f"{body['data']['task_id']}:complete"
    with task_completed.connected_to(handler):
        query = {"token": url.split("token=", 1)[1]}
        receiver.handle(InboundRequest("POST", encode(body), query=query))
        assert store.get(key).status == "failed"  # type: ignore[union-attr]
        broken = False
        outcomes = receiver.replay_failed()
        assert outcomes[key].body == {"status": "received"}
        assert receiver.replay(key).body == {"status": "duplicate"}
    assert len(seen) == 1
    assert seen[0].context == {"user": 7} and seen[0].kind == "lyrics"
    kept = store.get(key)
    assert kept is not None and kept.status == "done" and kept.attempts == 2


@pytest.mark.usefixtures("calls")  # a handler hears it, so the delivery is done
async def test_areplay_and_unknown_key():
    import pytest

    receiver = unverified_receiver(store=MemoryStore())
    with pytest.raises(KeyError):
        await receiver.areplay("nope:complete")
    body = make_callback()
    await receiver.handle_async(InboundRequest("POST", encode(body)))
    outcome = await receiver.areplay(f"{body['data']['task_id']}:complete")
    assert outcome.body == {"status": "duplicate"}
