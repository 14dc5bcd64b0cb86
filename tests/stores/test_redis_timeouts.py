"""A Redis command whose reply never arrives in time, though the server ran it: a real socket
timeout (a proxy between the client and redis-server swallows one reply), then redis-py's
automatic retry on a new connection. Every script must answer the repeat as it answered the
first run: the only delivery is `received` and dispatched once, never a spurious 409."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from suno_hooks import callback_received
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import ClaimResult, DeliveryStatus, RedisStore, ReplayCheck
from suno_hooks.stores.redis._keys import shard_of
from suno_hooks.stores.tasks import ExpectedTask, TaskState
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.proxy import DelayingProxy
from ..support.services import RedisServer
from ..support.stores import delivery

TIMEOUT = 0.3


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[DelayingProxy]:
    proxy = DelayingProxy(redis_server.port)
    yield proxy
    proxy.close()


@pytest.fixture
def admin(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
def store(proxy: DelayingProxy) -> Iterator[RedisStore]:
    """A store talking through the proxy, with a short socket timeout; its scripts are loaded
    (a warm-up claim) so a swallowed reply is always the reply of a command the server ran."""
    store = RedisStore(proxy.url, prefix=f"timeout-{uuid.uuid4().hex}:", socket_timeout=TIMEOUT)
    claim = store.claim(delivery("warm-up"), lease=60)
    store.extend("warm-up:complete", token=claim.token, lease=60)
    store.get("warm-up:complete")
    store.finish("warm-up:complete", token=claim.token)
    store.settle("warm-up")
    # The receiver finishes a terminal callback and settles its expected task in one script.
    claim = store.claim(delivery("warm-up", "first"), lease=60)
    store.finish_settling("warm-up:first", token=claim.token, error=None, task_id="warm-up", by="x")
    yield store
    store.close()


def calls(admin: redis.Redis, command: str) -> int:
    stats = admin.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


@contextmanager
def swallowed(
    proxy: DelayingProxy, admin: redis.Redis, command: str, runs: int = 2
) -> Iterator[None]:
    """The server's next reply is swallowed inside the block: the server runs `command` `runs`
    times, two of them for one call (the first copy, then the client's retry after a real
    socket timeout)."""
    before = calls(admin, command)
    proxy.hold_next_reply(f"\r\n{command.upper()}\r\n".encode())
    started = time.monotonic()
    yield
    assert proxy.held.is_set(), "the reply was never swallowed"
    assert time.monotonic() - started >= TIMEOUT
    assert calls(admin, command) - before == runs


def run_twice(
    proxy: DelayingProxy, admin: redis.Redis, command: str, action: Callable[[], Any]
) -> Any:
    """`action()` with its first reply swallowed; what it returned."""
    with swallowed(proxy, admin, command):
        return action()


def test_a_claim_retried_after_a_timeout_is_received_and_dispatched_once(
    proxy: DelayingProxy, admin: redis.Redis, store: RedisStore
):
    receiver = unverified_receiver(store=store)
    body = encode(make_callback(task_id="timed-out"))
    dispatched: list[str] = []
    redelivered: list[Any] = []

    def handler(sender: Any, event: Any, **extra: Any) -> None:
        dispatched.append(event.dedupe_key)
        # Kie sends the callback again while this one is still being handled.
        redelivered.append(receiver.handle(InboundRequest("POST", body)))

    with callback_received.connected_to(handler):
        # The claim twice, the redelivery's claim, the finish settling the expected task.
        with swallowed(proxy, admin, "evalsha", runs=4):
            outcome = receiver.handle(InboundRequest("POST", body))
        again = receiver.handle(InboundRequest("POST", body))
    assert (outcome.status, outcome.body) == (200, {"status": "received"})
    assert dispatched == ["timed-out:complete"]
    assert (redelivered[0].status, redelivered[0].body["error"]) == (409, "in_progress")
    assert (again.status, again.body) == (200, {"status": "duplicate"})
    kept = store.get("timed-out:complete")
    assert kept is not None and (kept.status, kept.attempts) == (DeliveryStatus.DONE, 1)


def test_an_async_claim_retried_after_a_timeout_is_received_once(
    proxy: DelayingProxy, admin: redis.Redis, store: RedisStore
):
    receiver = unverified_receiver(store=store)
    body = encode(make_callback(task_id="async-timed-out"))
    dispatched: list[str] = []

    def handler(sender: Any, event: Any, **extra: Any) -> None:
        dispatched.append(event.dedupe_key)

    async def deliver_twice() -> tuple[Any, Any]:
        await store.aget("warm-up:complete")  # this loop's connection is open
        with swallowed(proxy, admin, "evalsha", runs=3):  # the claim twice, finish settling
            first = await receiver.handle_async(InboundRequest("POST", body))
        return first, await receiver.handle_async(InboundRequest("POST", body))

    with callback_received.connected_to(handler):
        first, again = asyncio.run(deliver_twice())
    assert (first.status, first.body) == (200, {"status": "received"})
    assert (again.status, again.body) == (200, {"status": "duplicate"})
    assert dispatched == ["async-timed-out:complete"]


def test_a_guarded_claim_retried_after_a_timeout_is_not_a_replay(
    proxy: DelayingProxy, admin: redis.Redis, store: RedisStore
):
    guard = ReplayCheck("1700000000:sig", b"body", ttl=600)
    claim = run_twice(
        proxy, admin, "evalsha", lambda: store.claim(delivery("guarded"), lease=60, replay=guard)
    )
    assert claim.result is ClaimResult.NEW and claim.token
    assert store.finish("guarded:complete", token=claim.token)


def test_finish_extend_and_reads_retried_after_a_timeout_answer_as_the_first_run(
    proxy: DelayingProxy, admin: redis.Redis, store: RedisStore
):
    claim = store.claim(delivery("scripts"), lease=60)
    key = "scripts:complete"
    assert run_twice(
        proxy, admin, "evalsha", lambda: store.extend(key, token=claim.token, lease=90)
    )
    kept = run_twice(proxy, admin, "evalsha", lambda: store.get(key))
    assert kept is not None and kept.status is DeliveryStatus.PROCESSING
    assert run_twice(proxy, admin, "evalsha", lambda: store.finish(key, token=claim.token))
    kept = store.get(key)
    assert kept is not None and kept.status is DeliveryStatus.DONE
    assert run_twice(proxy, admin, "set", lambda: store.bind_token("token-1", "scripts", 60))
    assert not store.bind_token("token-1", "another-task", 60)


def test_expected_task_scripts_retried_after_a_timeout_answer_as_the_first_run(
    proxy: DelayingProxy, admin: redis.Redis, store: RedisStore
):
    now = time.time()
    warm = ExpectedTask(task_id="warm-task", feature="music", submitted_at=now - 9, next_poll_at=0)
    store.expect(warm)  # loads each expected-task script once
    store.reschedule("warm-task", at=now - 9)
    assert [task.task_id for task in store.claim_due(now=now - 1)] == ["warm-task"]
    store.mark_lost("warm-task")
    for task_id in ("expected-a", "expected-b"):
        task = ExpectedTask(task_id=task_id, feature="music", submitted_at=now, next_poll_at=now)
        assert run_twice(proxy, admin, "evalsha", lambda task=task: store.expect(task))
    assert not store.expect(ExpectedTask(task_id="expected-a", feature="music"))
    due = run_twice(proxy, admin, "evalsha", lambda: store.claim_due(limit=1, now=now + 1))
    assert [task.task_id for task in due] == ["expected-a"] and due[0].polls == 1
    assert [task.task_id for task in store.claim_due(now=now + 1)] == ["expected-b"]
    later = now + 3600
    assert run_twice(proxy, admin, "evalsha", lambda: store.reschedule("expected-a", at=later))
    assert run_twice(proxy, admin, "evalsha", lambda: store.settle("expected-a"))
    assert not store.settle("expected-a")
    assert run_twice(proxy, admin, "evalsha", lambda: store.mark_lost("expected-b"))
    states = {task.task_id: task.state for task in store.tasks()}
    assert states == {
        "expected-a": TaskState.SETTLED,
        "expected-b": TaskState.LOST,
        "warm-task": TaskState.LOST,
    }


def test_finish_settling_retried_after_a_timeout_answers_as_the_first_run(
    proxy: DelayingProxy, admin: redis.Redis, store: RedisStore
):
    now = time.time()
    for task_id in ("settling-a", "settling-b"):
        store.expect(ExpectedTask(task_id=task_id, feature="music", next_poll_at=now - 1))
    for task_id, error, by in (("settling-a", None, "poll"), ("settling-b", "boom", "x")):
        token = store.claim(delivery(task_id), lease=60).token
        finish = functools.partial(
            store.finish_settling,
            f"{task_id}:complete",
            token=token,
            error=error,
            task_id=task_id,
            by=by,
        )
        assert run_twice(proxy, admin, "evalsha", finish)
    for task_id, by, status in (("settling-a", "poll", "done"), ("settling-b", "x", "failed")):
        task = store.get_task(task_id)
        assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, by)
        kept = store.get(f"{task_id}:complete")
        assert kept is not None and (kept.status.value, kept.attempts) == (status, 1)
    assert store.claim_due(now=now + 1) == []
    assert admin.zcard(store.keys.task_queue(shard_of("settling-a"))) == 0
