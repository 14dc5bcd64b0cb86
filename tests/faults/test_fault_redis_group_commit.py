"""Redis group commit when answers are lost: a batch whose connection dropped after the server
ran it is sent again and each call answered as its first run; when the retry fails too, every
call of the batch gets the error (none is answered as claimed, its lease ends on its own); on a
cluster a node's lost answers are that node's calls' alone; and a uvicorn server whose Redis is
killed under load loses no callback it answered, and processes each of the others once when the
sender tries again."""

from __future__ import annotations

import asyncio
import itertools
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio.cluster
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from suno_hooks.stores import ClaimResult, DeliveryStatus, RedisStore

from ..support.faults import (
    KieSender,
    Sent,
    Try,
    answers,
    callbacks,
    dumps,
    fault_env,
    fault_server,
    tally,
)
from ..support.group_commit import delivery, wait_abandoned
from ..support.proxy import DelayingProxy
from ..support.services import RedisClusterServers, RedisServer

TIMEOUT = 0.3


def evalsha_calls(port: int) -> int:
    """How many `EVALSHA`s the server on `port` has run."""
    with redis.Redis(port=port) as admin:
        stats = admin.info("commandstats").get("cmdstat_evalsha")
    return int(stats["calls"]) if stats else 0


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[DelayingProxy]:
    proxy = DelayingProxy(redis_server.port)
    yield proxy
    proxy.close()


async def test_a_batch_whose_answer_was_lost_is_answered_as_its_first_run(
    redis_server: RedisServer, proxy: DelayingProxy
) -> None:
    store = RedisStore(proxy.url, prefix=f"lost-{uuid.uuid4().hex}:", socket_timeout=TIMEOUT)
    await asyncio.gather(*(store.aclaim(delivery(f"warm{i}"), lease=60) for i in range(2)))
    before = evalsha_calls(redis_server.port)
    proxy.hold_next_reply(b"EVALSHA", cut=True)
    claims = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in "abac"))
    assert proxy.held.is_set()
    assert evalsha_calls(redis_server.port) - before == 8  # the batch ran twice
    assert [(c.result, c.attempts) for c in claims] == [
        (ClaimResult.NEW, 1),
        (ClaimResult.NEW, 1),
        (ClaimResult.IN_PROGRESS, 0),
        (ClaimResult.NEW, 1),
    ]
    owners = [(f"{t}:complete", c.token) for t, c in zip("abac", claims, strict=True) if c.token]
    assert await asyncio.gather(*(store.afinish(k, token=t) for k, t in owners)) == [True] * 3
    assert store.batch_sizes.claims == Counter({2: 1, 4: 1})
    store.close()


async def test_a_batch_whose_answer_and_retry_were_lost_fails_whole_and_its_leases_end(
    redis_server: RedisServer, proxy: DelayingProxy
) -> None:
    prefix = f"gone-{uuid.uuid4().hex}:"
    store = RedisStore(proxy.url, prefix=prefix, socket_timeout=TIMEOUT)
    await asyncio.gather(*(store.aclaim(delivery(f"warm{i}"), lease=60) for i in range(2)))
    proxy.hold_next_reply(b"EVALSHA", cut=True, then_refuse=True)
    outcomes = await asyncio.gather(
        *(store.aclaim(delivery(t), lease=0.2) for t in "abac"), return_exceptions=True
    )
    assert all(isinstance(o, RedisConnectionError) for o in outcomes), outcomes
    store.close()
    # The scripts ran, and nobody was told: each delivery is leased to no one who will finish
    # it, until its lease ends and a redelivery takes it over.
    direct = RedisStore(redis_server.url, prefix=prefix)
    for key in ("a:complete", "b:complete", "c:complete"):
        kept = direct.get(key)
        assert kept is not None and kept.attempts == 1, kept
        wait_abandoned(direct, key)
    again = [direct.claim(delivery(t), lease=60) for t in "abc"]
    assert [(c.result, c.attempts) for c in again] == [(ClaimResult.NEW, 2)] * 3
    direct.close()


async def test_a_cluster_nodes_lost_answers_are_its_calls_alone_sent_again(
    redis_cluster: RedisClusterServers,
) -> None:
    proxies = {node.port: DelayingProxy(node.port) for node in redis_cluster.nodes}

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        proxy = proxies.get(address[1])
        return proxy.remap(address) if proxy is not None else address

    first = redis_cluster.nodes[0].port
    options: dict[str, Any] = {"address_remap": remap, "socket_timeout": TIMEOUT}
    client = RedisCluster(host="127.0.0.1", port=first, **options)
    async_client = redis.asyncio.cluster.RedisCluster(host="127.0.0.1", port=first, **options)
    store = RedisStore(client=client, async_client=async_client, prefix=f"node-{uuid.uuid4()}:")
    try:
        await asyncio.gather(*(store.aclaim(delivery(f"warm{i}"), lease=60) for i in range(9)))
        ports = list(proxies)
        before = [evalsha_calls(port) for port in ports]
        proxies[ports[0]].hold_next_reply(b"EVALSHA")  # that node's answers time out
        tasks = [f"t{i}" for i in range(30)]
        claims = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in tasks))
        assert proxies[ports[0]].held.is_set()
        assert [(c.result, c.attempts) for c in claims] == [(ClaimResult.NEW, 1)] * 30
        ran = [evalsha_calls(port) - old for port, old in zip(ports, before, strict=True)]
        # The held node ran each of its calls twice (the batch, then each call alone); the
        # others ran theirs once.
        assert ran[0] > 0 and ran[0] % 2 == 0 and ran[0] // 2 + sum(ran[1:]) == 30, ran
        owners = zip(tasks, claims, strict=True)
        finishes = [store.afinish(f"{t}:complete", token=c.token) for t, c in owners]
        assert await asyncio.gather(*finishes) == [True] * 30
        assert store.batch_sizes.claims == Counter({9: 1, 30: 1})
    finally:
        await store.aclose()
        await async_client.aclose()
        client.close()
        for proxy in proxies.values():
            proxy.close()


LEASE = 1.0


def test_a_uvicorn_server_whose_redis_is_killed_under_load_loses_no_callback(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path / "redis").start()  # every write on disk before its answer
    url = f"{server.url}?prefix=load:"
    env = fault_env(tmp_path, url, FAULT_LEASE=str(LEASE))
    bodies = callbacks("load", 400)
    keys = [f"load{i}:complete" for i in range(len(bodies))]
    acknowledged = itertools.count(1)
    store = RedisStore(url)
    try:
        with fault_server("uvicorn", "tests.support.fault_app:asgi", env) as app:
            # Each refused callback is logged: read the output, or a full pipe stalls the app.
            threading.Thread(target=app.process.stdout.read, daemon=True).start()
            kill = threading.Lock()

            def kill_redis_after_a_hundred(sent: Sent, attempt: Try) -> None:
                if attempt.ok and next(acknowledged) == 100 and kill.acquire(blocking=False):
                    assert server.process is not None
                    server.process.send_signal(signal.SIGKILL)
                    server.process.wait(10)

            with KieSender(app.url, after_try=kill_redis_after_a_hundred) as sender:
                first = sender.send_all(bodies, concurrency=32)
            # Every try was answered: 200 before the kill, 503 after it; none hung.
            assert set(answers(first)) <= {"200 received", "503 store_unavailable"}, answers(first)
            answered = [s for s in first if s.acknowledged]
            unanswered = [s for s in first if not s.acknowledged]
            assert len(answered) >= 100 and unanswered, answers(first)

            server.start()  # the same port and append-only file
            for sent in answered:
                kept = store.get(sent.key)
                assert kept is not None and kept.status is DeliveryStatus.DONE, (sent.key, kept)
            for sent in unanswered:
                kept = store.get(sent.key)
                if kept is not None and kept.status is DeliveryStatus.PROCESSING:
                    wait_abandoned(store, sent.key)
            abandoned = [d.key for d in store.deliveries(status="abandoned", limit=1000)]

            by_key = dict(zip(keys, bodies, strict=True))
            with KieSender(app.url) as sender:
                retried = sender.send_all([by_key[s.key] for s in unanswered], concurrency=32)
            assert all(s.acknowledged for s in retried), dumps(retried)
            assert set(answers(retried)) <= {"200 received", "200 duplicate"}, answers(retried)
            # A handler that ran but whose done mark was never written (Redis was gone) ran once
            # more: that delivery's lease ended, and the sender's retry took it over.
            assert tally(app.log, keys, rerun=abandoned).counts() == {
                "dispatched": len(keys),
                "lost": 0,
                "doubled": 0,
            }
        assert store.count_by_status() == {"done": len(keys)}
    finally:
        store.close()
        server.stop()
