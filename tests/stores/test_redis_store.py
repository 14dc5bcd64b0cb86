"""RedisStore specifics: one round trip per claim, TTLs, prefixes, URLs, a server that goes
away during traffic, and a receiver using it end to end through the ASGI app."""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.connection import Connection
from redis.crc import key_slot

from suno_hooks import Receiver, callback_received
from suno_hooks.asgi import asgi_app
from suno_hooks.errors import ConfigurationError
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import (
    ClaimResult,
    Delivery,
    DeliveryStatus,
    RedisStore,
    ReplayCheck,
    store_from_url,
)
from suno_hooks.stores.redis._inbox import SWEEP_EVERY
from suno_hooks.stores.redis._keys import SHARDS, shard_of
from suno_hooks.stores.tasks import ExpectedTask, TaskState
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY, unverified_receiver
from ..support.services import RedisServer, free_port
from ..support.stores import finish


def delivery(task_id: str, stage: str = "complete") -> Delivery:
    return Delivery(key=f"{task_id}:{stage}", task_id=task_id, stage=stage, body=b"{}")


def prefix() -> str:
    return f"test-{uuid.uuid4().hex}:"


def commandstat(client: Any, command: str) -> int:
    stats = client.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def test_a_claim_is_one_round_trip(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch):
    store = RedisStore(redis_server.url, prefix=prefix())
    store.claim(delivery("warm-up"), lease=60)  # loads the script once (NOSCRIPT, then LOAD)
    sent: list[int] = []
    real_send = Connection.send_packed_command

    def counting_send(self: Connection, *args: Any, **kwargs: Any) -> None:
        sent.append(1)
        real_send(self, *args, **kwargs)

    admin = redis.Redis.from_url(redis_server.url)
    evalsha_before = commandstat(admin, "evalsha")
    monkeypatch.setattr(Connection, "send_packed_command", counting_send)
    guard = ReplayCheck("1700000000:sig", b"body", ttl=600)
    assert store.claim(delivery("one-trip"), lease=60, replay=guard).result is ClaimResult.NEW
    assert len(sent) == 1
    assert store.claim(delivery("one-trip"), lease=60, replay=guard).result is (
        ClaimResult.IN_PROGRESS
    )
    assert len(sent) == 2
    monkeypatch.undo()
    assert commandstat(admin, "evalsha") - evalsha_before == 2
    admin.close()
    store.close()


def test_keys_carry_the_prefix_share_a_slot_and_expire(redis_server: RedisServer):
    name = prefix()
    store = RedisStore(redis_server.url, prefix=name, retention=3600)
    guard = ReplayCheck("1700000000:sig", b"body", ttl=600)
    claimed = delivery("ttl-task")
    claim = store.claim(claimed, lease=60, replay=guard)
    store.finish("ttl-task:complete", token=claim.token, error="boom")
    admin = redis.Redis.from_url(redis_server.url)
    keys = {key.decode() for key in admin.scan_iter(match="*")}
    mine = {key for key in keys if name in key}
    tag = "{" + name + f"{shard_of('ttl-task'):02x}" + "}"
    assert mine == {f"{tag}d:ttl-task:complete", f"{tag}t:ttl-task", f"{tag}g:1700000000:sig"} | {
        f"{tag}r"
    }
    # The inbox index scores whole microseconds; the hash keeps the time as it was given.
    assert admin.zscore(f"{tag}r", "ttl-task:complete") == int(claimed.received_at * 1_000_000)
    kept = admin.hgetall(f"{tag}d:ttl-task:complete")
    assert float(kept[b"received_at"]) == claimed.received_at
    assert (kept[b"task_id"], kept[b"stage"], kept[b"error"]) == (b"ttl-task", b"complete", b"boom")
    assert len({key_slot(key.encode()) for key in mine}) == 1
    assert 3590_000 < admin.pttl(f"{tag}d:ttl-task:complete") <= 3600_000
    assert 3590_000 < admin.pttl(f"{tag}t:ttl-task") <= 3600_000
    assert 590_000 < admin.pttl(f"{tag}g:1700000000:sig") <= 600_000
    admin.close()
    store.close()


def test_apps_sharing_one_redis_do_not_see_each_other(redis_server: RedisServer):
    first = store_from_url(f"{redis_server.url}?prefix=app-one-{uuid.uuid4().hex}:")
    second = store_from_url(f"{redis_server.url}?prefix=app-two-{uuid.uuid4().hex}:")
    claim = first.claim(delivery("shared-task"), lease=60)
    assert claim.result is ClaimResult.NEW
    assert second.claim(delivery("shared-task"), lease=60).result is ClaimResult.NEW
    first.finish("shared-task:complete", token=claim.token)
    assert [d.key for d in first.deliveries()] == ["shared-task:complete"]
    assert second.get("shared-task:complete").status is DeliveryStatus.PROCESSING  # type: ignore[union-attr]
    first.close()
    second.close()


def test_listing_skips_entries_whose_hash_expired(redis_server: RedisServer):
    name = prefix()
    store = RedisStore(redis_server.url, prefix=name)
    for i in range(3):
        store.claim(delivery(f"list{i}"), lease=60)
    admin = redis.Redis.from_url(redis_server.url)
    admin.delete(store.keys.delivery("list1:complete"))
    assert [d.key for d in store.deliveries()] == ["list2:complete", "list0:complete"]
    assert sum(admin.zcard(store.keys.inbox(shard)) for shard in range(SHARDS)) == 2
    admin.close()
    store.close()


def test_every_64th_claim_sweeps_one_shard_of_entries_past_the_retention(
    redis_server: RedisServer,
):
    store = RedisStore(redis_server.url, prefix=prefix(), retention=3600)
    admin = redis.Redis.from_url(redis_server.url)
    # The first sweep (after claim number SWEEP_EVERY) is of shard 1.
    expired, finished, running = [t for t in (f"old{i}" for i in range(999)) if shard_of(t) == 1][
        :3
    ]
    for task_id in (expired, finished, running):
        old = delivery(task_id)
        old.received_at = time.time() - 7200
        claim = store.claim(old, lease=60)
        if task_id != running:
            assert store.finish(old.key, token=claim.token)
    admin.delete(store.keys.delivery(f"{expired}:complete"))
    for i in range(SWEEP_EVERY - 4):
        store.claim(delivery(f"recent{i}"), lease=60)
    members = set(admin.zrange(store.keys.inbox(1), 0, -1))
    assert {f"{t}:complete".encode() for t in (expired, finished, running)} <= members
    store.claim(delivery("the-64th"), lease=60)
    members = set(admin.zrange(store.keys.inbox(1), 0, -1))
    assert f"{running}:complete".encode() in members
    assert not {f"{t}:complete".encode() for t in (expired, finished)} & members
    assert store.get(f"{finished}:complete") is None
    assert store.get(f"{running}:complete") is not None
    admin.close()
    store.close()


def test_a_sweep_removes_more_entries_than_its_shard_gained_since_the_last_one(
    redis_server: RedisServer,
):
    """A shard gains SWEEP_EVERY entries (on average) between two of its sweeps; one sweep
    removes more than that many entries past the retention."""
    name = prefix()
    old_ones = [t for t in (f"old{i}" for i in range(20_000)) if shard_of(t) == 1]
    count = SWEEP_EVERY + SWEEP_EVERY // 2
    half = count // 2  # each writer claims fewer than SWEEP_EVERY: no sweep yet
    for chunk in (old_ones[:half], old_ones[half:count]):
        writer = RedisStore(redis_server.url, prefix=name, retention=3600)
        for task_id in chunk:
            old = delivery(task_id)
            old.received_at = time.time() - 7200
            assert writer.finish(old.key, token=writer.claim(old, lease=60).token)
        writer.close()
    store = RedisStore(redis_server.url, prefix=name, retention=3600)  # its own claim count
    admin = redis.Redis.from_url(redis_server.url)
    fresh = [t for t in (f"new{i}" for i in range(20_000)) if shard_of(t) != 1][:SWEEP_EVERY]
    for task_id in fresh[:-1]:
        store.claim(delivery(task_id), lease=60)
    assert admin.zcard(store.keys.inbox(1)) == count
    store.claim(delivery(fresh[-1]), lease=60)  # the first sweep is of shard 1
    assert admin.zcard(store.keys.inbox(1)) == 0
    admin.close()
    store.close()


def test_purge_keeps_a_live_lease(redis_server: RedisServer):
    store = RedisStore(redis_server.url, prefix=prefix())
    store.claim(delivery("running"), lease=60)
    finish(store, delivery("finished"))
    assert store.purge(older_than=time.time() + 1) == 1
    assert [d.key for d in store.deliveries()] == ["running:complete"]
    store.close()


def test_store_from_url_redis(tmp_path: Path):
    store = store_from_url(
        "redis://:secret@127.0.0.1:6390/3?prefix=myapp:&retention=86400&socket_timeout=0.5"
    )
    assert isinstance(store, RedisStore)
    assert (store.prefix, store.retention) == ("myapp:", 86400)
    assert "prefix" not in store.url and "socket_timeout=0.5" in store.url
    default = store_from_url("rediss://cache.example.com:6380/0")
    assert isinstance(default, RedisStore) and default.prefix == "suno_hooks:"
    assert default.retention == 14 * 24 * 3600
    unix = store_from_url(f"unix://{tmp_path / 'redis.sock'}?db=2&prefix=u:")
    assert isinstance(unix, RedisStore) and unix.prefix == "u:"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost:6379/0?colour=blue", "Bad Redis URL or option"),
        ("redis://localhost:6379/0?socket_timeout=soon", "Bad Redis URL or option"),
        ("redis://localhost:6379/0?retention=-1", "retention"),
        ("redis://localhost:6379/0?retention=never", "retention"),
    ],
)
def test_store_from_url_redis_refuses_clearly(url: str, message: str):
    with pytest.raises(ConfigurationError, match=message):
        store_from_url(url)


def test_a_refused_url_does_not_show_the_password():
    with pytest.raises(ConfigurationError) as refused:
        store_from_url("redis://user:hunter2@localhost:6379/0?colour=blue")
    assert "hunter2" not in str(refused.value)
    assert "user:***@localhost" in str(refused.value)


def test_an_unreachable_redis_fails_fast_and_answers_503(calls: Any):
    receiver = unverified_receiver(store=f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    outcome = receiver.handle(InboundRequest("POST", encode(make_callback())))
    assert time.monotonic() - started < 3
    assert (outcome.status, outcome.body["error"]) == (503, "store_unavailable")
    assert outcome.headers["Retry-After"]
    assert calls.count == 0


def test_redis_stopped_during_traffic(tmp_path: Path):
    server = RedisServer(tmp_path / "redis").start()
    receiver = unverified_receiver(store=f"{server.url}?prefix=outage:")
    bodies = [encode(make_callback(task_id=f"outage{i}")) for i in range(30)]
    dispatched: Counter[str] = Counter()

    def count(sender: Any, event: Any, **extra: Any) -> None:
        dispatched[event.dedupe_key] += 1

    def deliver(body: bytes) -> Any:
        return receiver.handle(InboundRequest("POST", body))

    try:
        with callback_received.connected_to(count):
            assert all(deliver(b).body == {"status": "received"} for b in bodies[:10])
            server.stop()
            for body in bodies[10:20]:
                started = time.monotonic()
                outcome = deliver(body)
                assert time.monotonic() - started < 3
                assert (outcome.status, outcome.body["error"]) == (503, "store_unavailable")
                assert outcome.headers["Retry-After"]
            down = asyncio.run(receiver.handle_async(InboundRequest("POST", bodies[10])))
            assert down.status == 503
            assert sum(dispatched.values()) == 10
            server.start()
            answers = Counter(deliver(body).body["status"] for body in bodies)
            assert answers == Counter({"duplicate": 10, "received": 20})
            assert Counter(deliver(body).body["status"] for body in bodies) == Counter(
                {"duplicate": 30}
            )
    finally:
        receiver.store.close()
        server.stop()
    assert dispatched == Counter({f"outage{i}:complete": 1 for i in range(30)})


async def test_receiver_with_a_redis_url_through_asgi(redis_server: RedisServer):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=f"{redis_server.url}?prefix={prefix()}")
    assert isinstance(receiver.store, RedisStore)
    seen: list[str] = []

    async def handler(sender: Any, event: Any, **extra: Any) -> None:
        seen.append(event.dedupe_key)

    body = encode(make_callback(task_id="redis-asgi"))
    forged = encode(make_callback("music", "error", task_id="redis-asgi"))
    transport = httpx.ASGITransport(app=asgi_app(receiver), client=("203.0.113.9", 1234))
    headers = sign_headers(body, HMAC_KEY)
    with callback_received.connected_to(handler):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = await client.post("/suno/callback", content=body, headers=headers)
            second = await client.post("/suno/callback", content=body, headers=headers)
            replayed = await client.post("/suno/callback", content=forged, headers=headers)
    assert first.json() == {"status": "received"}
    assert second.json() == {"status": "duplicate"}
    assert (replayed.status_code, replayed.json()["error"]) == (401, "replayed_signature")
    assert seen == ["redis-asgi:complete"]
    kept = await receiver.store.aget("redis-asgi:complete")  # type: ignore[attr-defined]
    assert kept is not None and kept.status is DeliveryStatus.DONE
    assert kept.body == body and kept.peer == "203.0.113.9"
    await receiver.store.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["redis", "redis_cluster"])
def test_short_lived_event_loops_leave_no_connection_behind(
    kind: str, request: pytest.FixtureRequest
):
    """`asyncio.run` or asgiref's `async_to_sync` per request: each loop's client is closed when
    its loop shuts down, and one closed without that is dropped when the next loop starts."""
    from asgiref.sync import async_to_sync

    servers = request.getfixturevalue(
        "redis_cluster" if kind == "redis_cluster" else "redis_server"
    )
    name = f"leak-{uuid.uuid4().hex}"
    store = RedisStore(f"{servers.url}?client_name={name}", prefix=prefix())
    ports = [node.port for node in servers.nodes] if kind == "redis_cluster" else [servers.port]
    admins = [redis.Redis(port=port) for port in ports]

    def connections() -> int:
        return sum(1 for admin in admins for c in admin.client_list() if c.get("name") == name)

    for i in range(10):
        claim = asyncio.run(store.aclaim(delivery(f"loop{i}"), lease=60))
        assert async_to_sync(store.afinish)(f"loop{i}:complete", token=claim.token)
        kept = async_to_sync(store.aget)(f"loop{i}:complete")
        assert kept is not None and kept.status is DeliveryStatus.DONE
    assert connections() == 0
    assert len(store._links) == 0  # type: ignore[arg-type]

    loop = asyncio.new_event_loop()  # closed without shutting down its async generators
    loop.run_until_complete(store.aclaim(delivery("unshut"), lease=60))
    loop.close()
    assert connections() >= 1
    asyncio.run(store.aget("unshut:complete"))
    gc.collect()
    assert len(store._links) == 0  # type: ignore[arg-type]
    for admin in admins:
        admin.close()


@pytest.mark.usefixtures("calls")  # a handler hears it, so the delivery is done
async def test_a_terminal_callback_through_asgi_is_two_script_calls(redis_server: RedisServer):
    """Claim, then finish settling the expected task: no separate settle round trip."""
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=f"{redis_server.url}?prefix={prefix()}")
    store = receiver.store
    assert isinstance(store, RedisStore)
    admin = redis.Redis.from_url(redis_server.url)
    transport = httpx.ASGITransport(app=asgi_app(receiver))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def post(task_id: str) -> httpx.Response:
            body = encode(make_callback(task_id=task_id))
            headers = sign_headers(body, HMAC_KEY)
            return await client.post("/suno/callback", content=body, headers=headers)

        for task_id in ("warm-up", "two-trips"):
            await store.aexpect(ExpectedTask(task_id=task_id, feature="music"))
        assert (await post("warm-up")).json() == {"status": "received"}  # scripts loaded
        before = commandstat(admin, "evalsha")
        assert (await post("two-trips")).json() == {"status": "received"}
        assert commandstat(admin, "evalsha") - before == 2
    task = await store.aget_task("two-trips")
    assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, "callback")
    kept = await store.aget("two-trips:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    admin.close()
    await store.aclose()


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_finish_settling_a_task_on_another_shard_than_its_delivery(
    redis_server: RedisServer, flavour: str
):
    """A dedupe key that does not start with its task id: a finish, then a settle."""
    store = RedisStore(redis_server.url, prefix=prefix())
    elsewhere = next(f"k{n}" for n in range(100) if shard_of(f"k{n}") != shard_of("t1"))
    store.expect(ExpectedTask(task_id="t1", feature="music"))
    claimed = Delivery(key=f"{elsewhere}:complete", task_id="t1", stage="complete", body=b"{}")
    claim = store.claim(claimed, lease=60)
    arguments: dict[str, Any] = {"token": claim.token, "error": None, "task_id": "t1", "by": "poll"}
    if flavour == "sync":
        assert store.finish_settling(claimed.key, **arguments)
    else:
        assert asyncio.run(store.afinish_settling(claimed.key, **arguments))
    kept = store.get(claimed.key)
    assert kept is not None and kept.status is DeliveryStatus.DONE
    task = store.get_task("t1")
    assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, "poll")
    store.close()
