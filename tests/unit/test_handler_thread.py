"""Sync handlers on the async path run in the dispatcher's own handler thread, fed by a queue:
one at a time in the order deliveries hand them over, each with the caller's context variables,
failing only their own delivery, across event loops and in a forked child."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import os
import threading
from collections.abc import Coroutine
from typing import Any

import pytest

from suno_hooks import Event, Receiver, callback_received, current_lease, task_completed
from suno_hooks._pipeline import handler_thread
from suno_hooks._pipeline.handler_thread import HandlerThread
from suno_hooks.inbound import InboundRequest
from suno_hooks.outcome import Outcome
from suno_hooks.stores import DeliveryStatus, MemoryStore
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")

WAIT = 10.0
"""How long a test waits for what should happen at once before it fails (never a limit)."""


@pytest.fixture
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    """No call counts as slow during the test, so every call waits its turn in the thread."""
    monkeypatch.setattr(handler_thread, "SLOW_CALL", WAIT * 10)


def post(receiver: Receiver, task_id: str) -> Coroutine[Any, Any, Outcome]:
    """`receiver.ahandle` of a completed callback for `task_id`."""
    return receiver.ahandle(InboundRequest("POST", encode(make_callback(task_id=task_id))))


async def test_calls_run_in_the_order_they_were_handed_over(patient: None):
    handlers = HandlerThread()
    ran: list[int] = []
    results = await asyncio.gather(
        *(handlers.run(lambda n=n: ran.append(n) or n) for n in range(200))
    )
    assert ran == list(range(200)) and results == list(range(200))


async def test_deliveries_sync_handlers_run_in_the_order_they_reached_the_thread(patient: None):
    receiver = unverified_receiver(store=MemoryStore())
    handed: list[str] = []
    ran: list[str] = []
    threads: set[int] = set()
    first_entered, release = threading.Event(), threading.Event()
    all_handed = asyncio.Event()

    async def hand_over(sender: Any, event: Event, **extra: Any) -> None:
        # Runs on the loop just before the delivery hands its sync handler over.
        handed.append(event.task_id)
        if len(handed) == 31:
            all_handed.set()

    def record(sender: Any, event: Event, **extra: Any) -> None:
        if not ran:
            first_entered.set()
            release.wait(WAIT)  # the others queue up behind the first
        threads.add(threading.get_ident())
        ran.append(event.task_id)

    with callback_received.connected_to(hand_over), task_completed.connected_to(record):
        first = asyncio.create_task(post(receiver, "order-first"))
        assert await asyncio.to_thread(first_entered.wait, WAIT)
        rest = [asyncio.create_task(post(receiver, f"order-{n:02d}")) for n in range(30)]
        await asyncio.wait_for(all_handed.wait(), WAIT)
        release.set()
        outcomes = await asyncio.gather(first, *rest)
    assert [outcome.status for outcome in outcomes] == [200] * 31
    assert ran == handed and len(ran) == 31
    assert len(threads) == 1 and threading.get_ident() not in threads


async def test_a_failing_sync_handler_fails_its_delivery_and_not_its_neighbours():
    store = MemoryStore()
    receiver = unverified_receiver(store=store)
    ran: list[str] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        ran.append(event.task_id)
        if event.task_id == "boom":
            raise RuntimeError("disk full")

    with task_completed.connected_to(handler):
        outcomes = await asyncio.gather(*(post(receiver, t) for t in ("before", "boom", "after")))
    assert [outcome.body for outcome in outcomes] == [{"status": "received"}] * 3
    assert sorted(ran) == ["after", "before", "boom"]
    statuses = {t: store.get(f"{t}:complete") for t in ("before", "boom", "after")}
    assert statuses["before"] is not None and statuses["before"].status is DeliveryStatus.DONE
    assert statuses["after"] is not None and statuses["after"].status is DeliveryStatus.DONE
    failed = statuses["boom"]
    assert failed is not None and failed.status is DeliveryStatus.FAILED
    assert failed.error is not None and "RuntimeError: disk full" in failed.error


class Halt(BaseException):
    """Not an `Exception`: it escapes the dispatcher's per-handler guard, as with `to_thread`."""


async def test_an_exception_reaches_the_caller_and_the_thread_keeps_serving():
    handlers = HandlerThread()

    def boom() -> None:
        raise ValueError("bad")

    def halt() -> None:
        raise Halt

    with pytest.raises(ValueError, match="bad"):
        await handlers.run(boom)
    with pytest.raises(Halt):
        await handlers.run(halt)
    assert await handlers.run(lambda: "still here") == "still here"


async def test_handlers_see_the_callers_context_variables_and_the_lease():
    receiver = unverified_receiver(store=MemoryStore())
    seen: list[tuple[str, str | None]] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        lease = current_lease()
        seen.append((request_id.get(), None if lease is None else lease.key))
        request_id.set("changed in the handler")

    request_id.set("req-7")
    with task_completed.connected_to(handler):
        outcome = await post(receiver, "ctx7")
    assert outcome.status == 200
    assert seen == [("req-7", "ctx7:complete")]
    assert request_id.get() == "req-7"  # the handler ran in a copy, as with `to_thread`


async def test_a_sync_handler_holds_later_sync_handlers_but_not_the_loop(patient: None):
    receiver = unverified_receiver(store=MemoryStore())
    entered, release = threading.Event(), threading.Event()
    ran: list[str] = []

    later_heard = asyncio.Event()

    async def on_loop(sender: Any, event: Event, **extra: Any) -> None:
        if event.task_id == "later":
            later_heard.set()

    def slow(sender: Any, event: Event, **extra: Any) -> None:
        if event.task_id == "slow":
            entered.set()
            release.wait(WAIT)
        ran.append(event.task_id)

    with callback_received.connected_to(on_loop), task_completed.connected_to(slow):
        held = asyncio.create_task(post(receiver, "slow"))
        assert await asyncio.to_thread(entered.wait, WAIT)
        later = asyncio.create_task(post(receiver, "later"))
        await asyncio.wait_for(later_heard.wait(), WAIT)
        # The loop is free (the second delivery's async handler ran), but the second
        # delivery's sync handler waits for the first one's to end.
        assert ran == [] and not later.done()
        release.set()
        outcomes = await asyncio.gather(held, later)
    assert [outcome.status for outcome in outcomes] == [200, 200]
    assert ran == ["slow", "later"]


def test_one_thread_serves_event_loops_one_after_another():
    receiver = unverified_receiver(store=MemoryStore())
    threads: list[int] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        threads.append(threading.get_ident())

    with task_completed.connected_to(handler):
        first = asyncio.run(post(receiver, "loop1"))
        second = asyncio.run(post(receiver, "loop2"))
    assert first.status == second.status == 200
    assert len(threads) == 2 and threads[0] == threads[1] != threading.get_ident()


async def test_a_call_that_awaits_the_same_thread_on_the_loop_does_not_deadlock():
    handlers = HandlerThread()
    loop = asyncio.get_running_loop()

    async def inner() -> str:
        return await handlers.run(lambda: "inner")

    def outer() -> str:
        return asyncio.run_coroutine_threadsafe(inner(), loop).result(WAIT)

    assert await asyncio.wait_for(handlers.run(outer), WAIT) == "inner"


async def test_a_sync_handler_returning_an_awaitable_that_needs_the_thread_completes():
    receiver = unverified_receiver(store=MemoryStore())
    ran: list[str] = []

    def nested(sender: Any, event: Event, **extra: Any) -> None:
        ran.append(event.task_id)

    async def deliver_another() -> None:
        with task_completed.connected_to(nested):
            assert (await post(receiver, "inner")).status == 200

    def returns_awaitable(sender: Any, event: Event, **extra: Any) -> Any:
        # A sync handler whose awaitable is awaited on the loop while the thread waits for it.
        return deliver_another() if event.task_id == "outer" else None

    with callback_received.connected_to(returns_awaitable):
        outcome = await asyncio.wait_for(post(receiver, "outer"), WAIT)
    assert outcome.body == {"status": "received"} and ran == ["inner"]


async def test_a_parked_call_gets_its_result_and_its_exception():
    handlers = HandlerThread()
    release = threading.Event()

    def slow_value() -> str:
        release.wait(WAIT)
        return "slow"

    def slow_boom() -> None:
        release.wait(WAIT)
        raise ValueError("late")

    value = asyncio.create_task(handlers.run(slow_value))
    boom = asyncio.create_task(handlers.run(slow_boom))
    for _ in range(20):  # long enough for both to stop yielding and wait for the thread
        await asyncio.sleep(0)
    release.set()
    assert await value == "slow"
    with pytest.raises(ValueError, match="late"):
        await boom


async def test_a_call_cancelled_before_it_starts_never_runs():
    handlers = HandlerThread()
    entered, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def block() -> None:
        entered.set()
        release.wait(WAIT)

    blocking = asyncio.create_task(handlers.run(block))
    assert await asyncio.to_thread(entered.wait, WAIT)
    early = asyncio.create_task(handlers.run(lambda: ran.append("early")))
    parked = asyncio.create_task(handlers.run(lambda: ran.append("parked")))
    await asyncio.sleep(0)
    early.cancel()  # while it still yields to the loop
    for _ in range(20):
        await asyncio.sleep(0)
    parked.cancel()  # while it waits for the thread to wake it
    release.set()
    await blocking
    assert await handlers.run(lambda: "after") == "after"
    assert early.cancelled() and parked.cancelled() and ran == []


def test_the_thread_ends_when_its_owner_is_collected():
    handlers = HandlerThread()
    thread = asyncio.run(handlers.run(threading.current_thread))
    assert thread.is_alive() and thread.daemon and thread is not threading.current_thread()
    del handlers
    gc.collect()
    thread.join(WAIT)
    assert not thread.is_alive()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_hands_its_sync_handlers_to_a_thread_of_its_own():
    receiver = unverified_receiver(store=MemoryStore())
    threads: list[tuple[int, int]] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        threads.append((os.getpid(), threading.get_ident()))

    with task_completed.connected_to(handler):
        assert asyncio.run(post(receiver, "parent")).status == 200
        reading, writing = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            try:
                outcome = asyncio.run(asyncio.wait_for(post(receiver, "child"), WAIT))
                pid, ident = threads[-1]
                ok = (
                    outcome.status == 200
                    and len(threads) == 2
                    and pid == os.getpid()
                    and ident != threading.get_ident()
                )
                os.write(writing, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(writing)
        answer = os.read(reading, 1)
        os.close(reading)
        os.waitpid(child, 0)
    assert answer == b"1"
    assert threads == [(os.getpid(), threads[0][1])]


async def test_a_call_handed_over_while_a_slow_one_runs_does_not_wait_behind_it():
    receiver = unverified_receiver(store=MemoryStore())
    entered, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        if event.task_id == "slow":
            entered.set()
            release.wait(WAIT)
        ran.append(event.task_id)

    with task_completed.connected_to(handler):
        held = asyncio.create_task(post(receiver, "slow"))
        assert await asyncio.to_thread(entered.wait, WAIT)
        await asyncio.sleep(handler_thread.SLOW_CALL * 2)  # the first call is slow by now
        later = await asyncio.wait_for(post(receiver, "later"), WAIT)
        assert later.status == 200 and ran == ["later"]
        release.set()
        assert (await held).status == 200
    assert ran == ["later", "slow"]
