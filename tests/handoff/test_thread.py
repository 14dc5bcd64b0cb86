"""`ThreadHandoff`: a bounded pool under WSGI, tasks on the serving loop under ASGI."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from suno_hooks.handoff import HandoffError, ThreadHandoff, ring_or_log

from ..support.browser import asgi_server, wsgi_server
from ..support.handoff_ledger import Ledger, RecordingReceiver


def bound(ledger: Ledger, **options: int) -> ThreadHandoff:
    handoff = ThreadHandoff(**options)
    handoff.bind(RecordingReceiver(ledger))
    return handoff


def wsgi_ringing(handoff: ThreadHandoff) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        key = parse_qs(environ["QUERY_STRING"])["key"][0]
        handoff.ring(key)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"queued"]

    return app


def asgi_ringing(handoff: ThreadHandoff) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        key = parse_qs(scope["query_string"].decode())["key"][0]
        handoff.ring(key)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"queued"})

    return app


def test_under_wsgi_each_ring_runs_once_in_the_pool_after_the_answer(ledger: Ledger):
    handoff = bound(ledger, workers=3, queue_size=50)
    keys = [f"key-{n}" for n in range(20)]
    with wsgi_server(wsgi_ringing(handoff)) as url:
        answer = httpx.get(url, params={"key": "slow:first"}, timeout=5)
        assert answer.status_code == 200
        assert ledger.phases("done")["slow:first"] == 0  # answered while its handler waits
        for key in keys:
            assert httpx.get(url, params={"key": key}, timeout=5).status_code == 200
    ledger.release("slow:first")
    done = ledger.wait_for("done", [*keys, "slow:first"])
    assert set(done.values()) == {1}
    assert not ledger.phases("awaited")  # the pool calls run_queued, never arun_queued
    assert handoff.close(timeout=5)


def test_under_asgi_a_ring_is_a_task_on_the_serving_loop(ledger: Ledger):
    handoff = bound(ledger, workers=2, queue_size=50)
    keys = [f"key-{n}" for n in range(20)]
    with asgi_server(asgi_ringing(handoff)) as url:
        assert httpx.get(url, params={"key": "slow:first"}, timeout=5).status_code == 200
        for key in keys:
            assert httpx.get(url, params={"key": key}, timeout=5).status_code == 200
        ledger.release("slow:first")
        done = ledger.wait_for("done", [*keys, "slow:first"])
    assert set(done.values()) == {1}
    assert ledger.phases("awaited") == ledger.phases("started")
    assert not handoff._threads  # nothing went through the pool


def test_a_full_pool_refuses_the_ring_and_the_caller_logs_it(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
):
    handoff = bound(ledger, workers=2, queue_size=3)
    busy = ["slow:a", "slow:b"]
    for key in busy:
        handoff.ring(key)
    ledger.wait_for("started", busy)
    waiting = ["w1", "w2", "w3"]
    for key in waiting:
        handoff.ring(key)
    with pytest.raises(HandoffError, match="full"):
        handoff.ring("one-too-many")
    with caplog.at_level(logging.WARNING, logger="suno_hooks.handoff"):
        assert ring_or_log(handoff, "one-too-many") is False
    assert "one-too-many" in caplog.text and "sweeper" in caplog.text
    assert not ledger.phases("done")  # two running, three waiting: no more than that
    assert len(handoff._threads) == 2
    for key in busy:
        ledger.release(key)
    done = ledger.wait_for("done", busy + waiting)
    assert done["one-too-many"] == 0
    assert handoff.close(timeout=5)


def test_a_failing_handler_leaves_its_thread_working(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
):
    handoff = bound(ledger, workers=1, queue_size=5)
    with caplog.at_level(logging.ERROR, logger="suno_hooks.handoff"):
        handoff.ring("fail:boom")
        handoff.ring("after")
        ledger.wait_for("done", ["after"])
    assert "fail:boom" in caplog.text
    assert handoff.close(timeout=5)


def test_close_lets_queued_work_finish_then_refuses_rings(ledger: Ledger):
    handoff = bound(ledger, workers=1, queue_size=10)
    keys = [f"k{n}" for n in range(5)]
    for key in keys:
        handoff.ring(key)
    assert handoff.close(timeout=10)
    assert ledger.phases("done") == dict.fromkeys(keys, 1)
    with pytest.raises(HandoffError, match="closed"):
        handoff.ring("late")


def test_close_gives_up_after_its_timeout(ledger: Ledger):
    handoff = bound(ledger, workers=1, queue_size=2)
    handoff.ring("slow:stuck")
    ledger.wait_for("started", ["slow:stuck"])
    assert handoff.close(timeout=0.2) is False
    ledger.release("slow:stuck")
    ledger.wait_for("done", ["slow:stuck"])


async def test_aclose_drains_the_loop_tasks_within_its_timeout(ledger: Ledger):
    handoff = bound(ledger, workers=2, queue_size=10)
    handoff.ring("slow:held")
    handoff.ring("quick")
    assert await handoff.aclose(timeout=0.3) is False  # slow:held is still running
    releaser = threading.Timer(0.2, ledger.release, ["slow:held"])
    releaser.start()
    assert await handoff.aclose(timeout=10) is True
    assert ledger.phases("done") == {"slow:held": 1, "quick": 1}


async def test_the_loop_runs_at_most_workers_tasks_at_once(ledger: Ledger):
    handoff = bound(ledger, workers=2, queue_size=1)
    for key in ("slow:1", "slow:2", "slow:3"):
        handoff.ring(key)
    with pytest.raises(HandoffError, match="full"):
        handoff.ring("slow:4")
    await asyncio.sleep(0.3)
    assert sum(ledger.phases("started").values()) == 2
    for key in ("slow:1", "slow:2", "slow:3"):
        ledger.release(key)
    assert await handoff.aclose(timeout=10)
    assert ledger.phases("done") == {"slow:1": 1, "slow:2": 1, "slow:3": 1}


def test_a_ring_before_bind_fails_clearly():
    with pytest.raises(HandoffError, match="not bound"):
        ThreadHandoff().ring("k")


@pytest.mark.parametrize("options", [{"workers": 0}, {"queue_size": 0}])
def test_bounds_must_be_positive(options: dict[str, int]):
    with pytest.raises(ValueError, match=">= 1"):
        ThreadHandoff(**options)
