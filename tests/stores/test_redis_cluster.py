"""RedisStore on a real three-node Redis Cluster: `redis+cluster://` URLs, ready `RedisCluster`
clients (sync and asyncio), one script call per claim, and a task's keys on one hash slot while
the tasks spread over every node. The store contract and exactly-once suites also run on it
(`redis_cluster` in STORE_KINDS and SHARED_KINDS)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis
import redis.asyncio.cluster
from redis.cluster import RedisCluster
from redis.crc import key_slot

from suno_hooks.errors import ConfigurationError
from suno_hooks.stores import ClaimResult, DeliveryStatus, RedisStore, ReplayCheck, store_from_url
from suno_hooks.stores.redis._keys import shard_of

from ..support.services import RedisClusterServers
from ..support.stores import delivery


def plain_url(cluster: RedisClusterServers) -> str:
    return cluster.url.replace("redis+cluster://", "redis://")


def node_clients(cluster: RedisClusterServers) -> list[redis.Redis]:
    return [redis.Redis(port=node.port) for node in cluster.nodes]


def evalsha_calls(nodes: list[redis.Redis]) -> int:
    total = 0
    for node in nodes:
        stats = node.info("commandstats").get("cmdstat_evalsha")
        total += int(stats["calls"]) if stats else 0
    return total


def test_a_cluster_url_store_keeps_a_task_on_one_slot_and_tasks_on_every_node(
    redis_cluster: RedisClusterServers,
):
    name = f"spread-{uuid.uuid4().hex}:"
    store = store_from_url(f"{redis_cluster.url}?prefix={name}")
    assert isinstance(store, RedisStore)
    nodes = node_clients(redis_cluster)
    store.claim(delivery("warm-up"), lease=60)  # loads the script on its node
    before = evalsha_calls(nodes)
    guard = ReplayCheck("1700000000:sig", b"body", ttl=600)
    claim = store.claim(delivery("one-task"), lease=60, replay=guard)
    assert claim.result is ClaimResult.NEW
    assert evalsha_calls(nodes) - before == 1
    assert store.finish("one-task:complete", token=claim.token)
    tag = store.keys.tags[shard_of("one-task")].encode()
    mine = [key for node in nodes for key in node.scan_iter(match=f"*{name}*") if tag in key]
    assert sorted(key.removeprefix(tag) for key in mine) == [
        b"d:one-task:complete",
        b"g:1700000000:sig",
        b"r",
        b"t:one-task",
    ]
    slots = {key_slot(key) for key in mine}
    assert len(slots) == 1
    for i in range(60):
        store.claim(delivery(f"task{i}"), lease=60)
    holding = [sum(1 for _ in node.scan_iter(match=f"*{name}*")) for node in nodes]
    assert all(count > 0 for count in holding), holding
    listed = store.deliveries(limit=1000)
    assert len(listed) == 62
    assert listed[-1].key == "warm-up:complete"
    kept = store.get("one-task:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    for node in nodes:
        node.close()
    store.close()


def test_ready_cluster_clients_sync_and_asyncio(redis_cluster: RedisClusterServers):
    client = RedisCluster.from_url(plain_url(redis_cluster))
    name = f"ready-{uuid.uuid4().hex}:"

    async def on_the_loop() -> tuple[Any, Any]:
        async_client = redis.asyncio.cluster.RedisCluster.from_url(plain_url(redis_cluster))
        store = RedisStore(client=client, async_client=async_client, prefix=name)
        claim = await store.aclaim(delivery("ready"), lease=60)
        again = await store.aclaim(delivery("ready"), lease=60)
        assert await store.aextend("ready:complete", token=claim.token, lease=120)
        assert await store.afinish("ready:complete", token=claim.token)
        kept = await store.aget("ready:complete")
        await store.aclose()  # the given clients stay open: they belong to the caller
        await async_client.aclose()
        return (claim.result, again.result), kept

    results, kept = asyncio.run(on_the_loop())
    assert results == (ClaimResult.NEW, ClaimResult.IN_PROGRESS)
    assert kept is not None and kept.status is DeliveryStatus.DONE
    sync_only = RedisStore(client=client, prefix=name)
    assert sync_only.claim(delivery("ready"), lease=60).result is ClaimResult.DUPLICATE
    # Without an asyncio client the async methods run the synchronous client on threads.
    threaded = asyncio.run(sync_only.aclaim(delivery("threaded"), lease=60))
    assert threaded.result is ClaimResult.NEW
    assert [d.key for d in sync_only.deliveries()] == ["threaded:complete", "ready:complete"]
    sync_only.close()
    assert client.ping()  # still open after close(): the caller owns it
    client.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "redis+cluster://127.0.0.1:7000/2"}, "only database 0"),
        ({"async_client": object()}, "needs the synchronous client"),
        ({"url": "redis://x", "client": object()}, "not both"),
        ({"client": object(), "async_client": object()}, "redis.asyncio client"),
    ],
)
def test_cluster_and_client_options_are_refused_clearly(options: dict[str, Any], message: str):
    with pytest.raises(ConfigurationError, match=message):
        RedisStore(**options)
