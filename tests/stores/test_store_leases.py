"""Fenced leases on every store: a stale owner's finish after a takeover changes nothing,
`extend` keeps a delivery, and the receiver finishes with its own claim's token."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from suno_hooks import Event, Receiver, task_completed
from suno_hooks.inbound import InboundRequest
from suno_hooks.leases import current_lease
from suno_hooks.stores import ClaimResult, DeliveryStatus, Store
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.stores import delivery

# A lease of 0 s has ended by the next claim: a takeover without waiting on a timer.
ENDED = 0.0


def test_stale_finish_after_takeover_changes_nothing(store: Store, caplog: Any):
    first = store.claim(delivery(), lease=ENDED)
    second = store.claim(delivery(), lease=60)
    assert (second.result, second.attempts) == (ClaimResult.NEW, 2)
    assert second.token not in ("", first.token)
    assert store.finish("t1:complete", token=first.token) is False
    kept = store.get("t1:complete")
    assert kept is not None and kept.status is DeliveryStatus.PROCESSING
    # The old owner's finish did not free the delivery: a third claim waits for the second.
    assert store.claim(delivery(), lease=60).result is ClaimResult.IN_PROGRESS
    assert store.finish("t1:complete", token=second.token, error="boom") is True
    assert store.finish("t1:complete", token=first.token) is False
    kept = store.get("t1:complete")
    assert kept is not None and (kept.status, kept.error) == (DeliveryStatus.FAILED, "boom")
    assert store.finish("never:complete", token=second.token) is False


def test_extend_keeps_the_delivery(store: Store):
    claim = store.claim(delivery(), lease=ENDED)
    assert store.extend("t1:complete", token=claim.token, lease=60) is True
    assert store.claim(delivery(), lease=60).result is ClaimResult.IN_PROGRESS
    assert store.extend("t1:complete", token="not-the-owner", lease=60) is False
    assert store.extend("t1:complete", token="", lease=60) is False
    assert store.finish("t1:complete", token=claim.token) is True
    assert store.extend("t1:complete", token=claim.token, lease=60) is False
    assert store.claim(delivery(), lease=60).result is ClaimResult.DUPLICATE


def test_extend_after_a_takeover_fails(store: Store):
    first = store.claim(delivery(), lease=ENDED)
    second = store.claim(delivery(), lease=ENDED)
    assert second.result is ClaimResult.NEW
    assert store.extend("t1:complete", token=first.token, lease=60) is False
    assert store.extend("t1:complete", token=second.token, lease=60) is True


def test_tokens_are_unique_per_new_claim(store: Store):
    tokens = {store.claim(delivery(f"u{i}"), lease=60).token for i in range(20)}
    assert len(tokens) == 20 and "" not in tokens
    assert store.claim(delivery("u0"), lease=60).token == ""


STEADY_CLOCK = {
    "memory": True,
    "sqlite": False,
    "redis": True,
    "redis_cluster": True,
    "django": False,
    "django_postgres": True,
    "postgres": True,
}


def test_a_wall_clock_step_never_breaks_the_fence(
    store: Store, make_store: Any, request: pytest.FixtureRequest, monkeypatch: Any
):
    """A forward step of this host's clock: stores on a steady or server clock keep the lease;
    SQLite (this host's clock) lets it be taken over, and then the old owner is fenced off."""
    kind = request.node.callspec.params["make_store"]
    claim = store.claim(delivery(), lease=60)
    stepped = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: stepped)
    again = store.claim(delivery(), lease=60)
    if STEADY_CLOCK[kind]:
        assert again.result is ClaimResult.IN_PROGRESS
        assert store.finish("t1:complete", token=claim.token) is True
    else:
        assert again.result is ClaimResult.NEW
        assert store.finish("t1:complete", token=claim.token) is False
        assert store.finish("t1:complete", token=again.token) is True
    kept = store.get("t1:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE


def test_a_handler_outliving_its_lease_cannot_free_the_delivery(store: Store, caplog: Any):
    """A's lease ends while its handler runs; B takes over; A's finish must not let C in."""
    slow = unverified_receiver(store=store, lease=ENDED)
    normal = unverified_receiver(store=store, lease=60)
    body = encode(make_callback(task_id="fenced"))
    started = {"a": threading.Event(), "b": threading.Event()}
    release = {"a": threading.Event(), "b": threading.Event()}
    runs: list[str] = []

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        name = "a" if sender is slow else "b"
        runs.append(name)
        started[name].set()
        assert release[name].wait(10)

    answers: dict[str, int] = {}

    def post(name: str, receiver: Receiver) -> None:
        answers[name] = receiver.handle(InboundRequest("POST", body)).status

    with task_completed.connected_to(handler), caplog.at_level(logging.WARNING):
        a = threading.Thread(target=post, args=("a", slow))
        a.start()
        assert started["a"].wait(10)
        b = threading.Thread(target=post, args=("b", normal))
        b.start()
        assert started["b"].wait(10)
        release["a"].set()
        a.join()
        assert normal.handle(InboundRequest("POST", body)).status == 409
        release["b"].set()
        b.join()
        assert normal.handle(InboundRequest("POST", body)).body == {"status": "duplicate"}
    assert runs == ["a", "b"]
    assert answers == {"a": 200, "b": 200}
    assert "finish of fenced:complete changed nothing" in caplog.text
    kept = store.get("fenced:complete")
    assert kept is not None and (kept.status, kept.attempts) == (DeliveryStatus.DONE, 2)


def test_a_handler_extends_its_own_lease(store: Store):
    receiver = unverified_receiver(store=store, lease=ENDED)
    body = encode(make_callback(task_id="slow"))
    inside: dict[str, Any] = {}

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        lease = current_lease()
        assert lease is not None and lease.key == "slow:complete"
        inside["extended"] = lease.extend(60)
        inside["answer"] = receiver.handle(InboundRequest("POST", body)).status

    with task_completed.connected_to(handler):
        assert receiver.handle(InboundRequest("POST", body)).status == 200
    assert inside == {"extended": True, "answer": 409}
    assert current_lease() is None
    kept = store.get("slow:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE


async def test_an_async_handler_extends_its_own_lease(store: Store):
    receiver = unverified_receiver(store=store, lease=ENDED)
    body = encode(make_callback(task_id="aslow"))
    inside: dict[str, Any] = {}

    async def handler(sender: Any, event: Event, **extra: Any) -> None:
        lease = current_lease()
        assert lease is not None
        inside["extended"] = await lease.aextend(60)
        inside["answer"] = (await receiver.handle_async(InboundRequest("POST", body))).status

    with task_completed.connected_to(handler):
        assert (await receiver.handle_async(InboundRequest("POST", body))).status == 200
    assert inside == {"extended": True, "answer": 409}
    kept = await store.aget("aslow:complete")  # type: ignore[attr-defined]
    assert kept is not None and kept.status is DeliveryStatus.DONE
