"""`Receiver(..., handoff=...)` on every store: the request path queues and rings, the worker
side (`run_queued`) claims and dispatches as the inline path does, and the sweeper rings again
what is stuck."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from suno_hooks import Event, Receiver, callback_received, task_completed
from suno_hooks.errors import ConfigurationError
from suno_hooks.handoff import ThreadHandoff
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import Delivery, DeliveryStatus, MemoryStore, Store
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY
from ..support.handoff_bell import Bell

QUEUED = {"status": "queued"}


@pytest.fixture
def heard() -> Iterator[list[Event]]:
    events: list[Event] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        events.append(event)

    with callback_received.connected_to(handler):
        yield events


def receiver_on(store: Store, handoff: Any) -> Receiver:
    return Receiver(hmac_keys=[HMAC_KEY], store=store, handoff=handoff)


def post(receiver: Receiver, body: dict[str, Any]) -> Any:
    data = encode(body)
    return receiver.handle(InboundRequest("POST", data, sign_headers(data, HMAC_KEY)))


def status_of(store: Store, key: str) -> DeliveryStatus:
    kept = store.get(key)
    assert kept is not None
    return kept.status


def test_a_callback_is_queued_rung_once_and_run_once_by_the_worker(
    store: Store, heard: list[Event]
):
    bell = Bell()
    receiver = receiver_on(store, bell)
    assert bell.bound == [receiver]
    body = make_callback("music", "complete", task_id="hq1")
    answer = post(receiver, body)
    assert (answer.status, answer.body) == (200, QUEUED)
    assert bell.rings == ["hq1:complete"] and heard == []
    assert status_of(store, "hq1:complete") is DeliveryStatus.QUEUED

    assert post(receiver, body).body == QUEUED  # a redelivery while queued: no second ring
    assert bell.rings == ["hq1:complete"]

    ran = receiver.run_queued("hq1:complete")
    assert (ran.status, ran.body) == (200, {"status": "received"})
    assert [(e.dedupe_key, e.source) for e in heard] == [("hq1:complete", "callback")]
    kept = store.get("hq1:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE and kept.attempts == 1

    assert receiver.run_queued("hq1:complete").body == {"status": "duplicate"}
    assert post(receiver, body).body == {"status": "duplicate"}
    assert len(heard) == 1 and bell.rings == ["hq1:complete"]


def test_a_failed_ring_is_logged_and_the_answer_is_still_queued(
    store: Store, heard: list[Event], caplog: pytest.LogCaptureFixture
):
    bell = Bell()
    bell.down = True
    receiver = receiver_on(store, bell)
    with caplog.at_level(logging.WARNING, "suno_hooks.handoff"):
        answer = post(receiver, make_callback("music", "complete", task_id="hdown"))
    assert (answer.status, answer.body) == (200, QUEUED)
    assert "hand-off of hdown:complete failed" in caplog.text
    assert status_of(store, "hdown:complete") is DeliveryStatus.QUEUED
    assert bell.rings == [] and heard == []


def test_the_sweeper_rings_a_stuck_delivery_again_a_bounded_number_of_times(
    store: Store, heard: list[Event]
):
    bell = Bell()
    bell.down = True
    receiver = receiver_on(store, bell)
    post(receiver, make_callback("music", "complete", task_id="hswept"))
    bell.down = False
    assert receiver.sweep(older_than=60, max_rings=2) == {}  # not old enough yet
    time.sleep(0.05)
    assert receiver.sweep(older_than=0.01, max_rings=2) == {"hswept:complete": True}
    assert bell.rings == ["hswept:complete"]
    kept = store.get("hswept:complete")
    assert kept is not None and kept.rings == 1
    time.sleep(0.05)
    assert receiver.sweep(older_than=0.01, max_rings=2) == {"hswept:complete": True}
    time.sleep(0.05)
    assert receiver.sweep(older_than=0.01, max_rings=2) == {}  # rung twice: left to a person
    assert receiver.run_queued("hswept:complete").body == {"status": "received"}
    assert len(heard) == 1


def test_run_queued_does_nothing_while_a_live_lease_holds_the_delivery(
    store: Store, heard: list[Event]
):
    bell = Bell()
    receiver = receiver_on(store, bell)
    post(receiver, make_callback("music", "complete", task_id="hlive"))
    kept = store.get("hlive:complete")
    assert kept is not None
    assert store.claim(kept, lease=60).result.name == "NEW"  # another worker holds it
    answer = receiver.run_queued("hlive:complete")
    assert (answer.status, answer.body["error"]) == (409, "in_progress")
    assert heard == []


def test_an_unknown_key_is_a_key_error(store: Store):
    receiver = receiver_on(store, Bell())
    with pytest.raises(KeyError, match="nothere"):
        receiver.run_queued("nothere:complete")


def test_a_handler_that_raises_leaves_the_delivery_failed_and_a_repeated_message_runs_nothing(
    store: Store,
):
    runs: list[str] = []

    def boom(sender: Any, event: Event, **extra: Any) -> None:
        runs.append(event.dedupe_key)
        raise RuntimeError("handler failed")

    receiver = receiver_on(store, Bell())
    post(receiver, make_callback("music", "complete", task_id="hboom"))
    with task_completed.connected_to(boom):
        assert receiver.run_queued("hboom:complete").body == {"status": "received"}
        assert receiver.run_queued("hboom:complete").body == {"status": "duplicate"}
    assert runs == ["hboom:complete"]
    assert status_of(store, "hboom:complete") is DeliveryStatus.FAILED


def test_a_terminal_delivery_no_handler_hears_is_kept_failed_no_receiver(store: Store):
    receiver = receiver_on(store, Bell())
    post(receiver, make_callback("music", "complete", task_id="hdeaf"))
    assert receiver.run_queued("hdeaf:complete").ok
    kept = store.get("hdeaf:complete")
    assert kept is not None and kept.status is DeliveryStatus.FAILED
    assert kept.error == "no_receiver"


def test_the_async_paths_queue_run_and_sweep_alike(store: Store, heard: list[Event]):
    bell = Bell()
    receiver = receiver_on(store, bell)
    data = encode(make_callback("music", "complete", task_id="hasync"))

    async def scenario() -> tuple[Any, Any, Any, dict[str, bool]]:
        request = InboundRequest("POST", data, sign_headers(data, HMAC_KEY))
        answer = await receiver.ahandle(request)
        early, after = await receiver.aacknowledge(request)
        ran = await receiver.arun_queued("hasync:complete")
        return answer, (early, after), ran, await receiver.asweep(older_than=0)

    answer, (early, after), ran, swept = asyncio.run(scenario())
    assert answer.body == QUEUED and early.body == QUEUED and after is None
    assert ran.body == {"status": "received"} and swept == {}
    assert bell.rings == ["hasync:complete"] and len(heard) == 1


def test_the_thread_hand_off_runs_the_handlers_after_the_answer(store: Store):
    done = threading.Event()
    seen: list[str] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event.dedupe_key)
        done.set()

    handoff = ThreadHandoff(workers=1)
    receiver = receiver_on(store, handoff)
    with callback_received.connected_to(handler):
        assert post(receiver, make_callback("music", "complete", task_id="hthr")).body == QUEUED
        assert done.wait(10)
        assert handoff.close()
    assert seen == ["hthr:complete"]
    deadline = time.monotonic() + 5
    while status_of(store, "hthr:complete") is not DeliveryStatus.DONE:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_memory_store_is_refused_with_a_hand_off_that_runs_elsewhere():
    with pytest.raises(ConfigurationError, match="memory://"):
        receiver_on(MemoryStore(), Bell(out_of_process=True))
    assert receiver_on(MemoryStore(), Bell()).handoff is not None


def test_the_hand_off_is_a_setting_in_the_environment():
    receiver = Receiver.from_env(
        {"SUNO_HOOKS_HMAC_KEYS": HMAC_KEY, "SUNO_HOOKS_HANDOFF": "thread"}, store=MemoryStore()
    )
    assert isinstance(receiver.handoff, ThreadHandoff)
    with pytest.raises(ConfigurationError, match="SUNO_HOOKS_HANDOFF"):
        Receiver.from_env({"SUNO_HOOKS_HMAC_KEYS": HMAC_KEY, "SUNO_HOOKS_HANDOFF": " "})
    with pytest.raises(ConfigurationError, match="unknown handoff"):
        Receiver.from_env({"SUNO_HOOKS_HMAC_KEYS": HMAC_KEY, "SUNO_HOOKS_HANDOFF": "carrier"})


def test_without_a_hand_off_nothing_changes(store: Store, heard: list[Event]):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=store)
    assert receiver.handoff is None
    assert post(receiver, make_callback("music", "complete", task_id="hinline")).body == {
        "status": "received"
    }
    assert len(heard) == 1


def test_delivery_keeps_its_ring_count(store: Store):
    receiver = receiver_on(store, Bell())
    post(receiver, make_callback("music", "complete", task_id="hcount"))
    kept: Delivery | None = store.get("hcount:complete")
    assert kept is not None and kept.rings == 0
