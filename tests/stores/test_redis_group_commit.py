"""RedisStore on an event loop, on one server and on a Redis Cluster: the claims waiting at the
same moment go to Redis as one pipelined round trip, and so do the finishes; each request still
gets the answer, lease token and error the unbatched path would give it, a script error is its
call's alone, and a flushed script cache is loaded again."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from redis.exceptions import ResponseError

from suno_hooks.stores import (
    ClaimResult,
    DeliveryStatus,
    ExpectedTask,
    RedisStore,
    TaskState,
)
from suno_hooks.stores.redis import _batches

from ..support.group_commit import (
    LoopTurns,
    answers,
    batched,
    delivery,
    history,
    kept,
    requests,
    statuses,
)
from ..support.services import RedisClusterServers, RedisServer


@dataclass
class Servers:
    """One Redis server or a cluster: fresh stores on it (closed after the test), a client that
    routes keys as the store's does, and each node's own client."""

    url: str
    ports: list[int]
    opened: list[RedisStore] = field(default_factory=list)
    clients: list[Any] = field(default_factory=list)

    def store(self, **options: Any) -> RedisStore:
        """A new store under a prefix of its own."""
        store = RedisStore(self.url, prefix=f"batch-{uuid.uuid4().hex}:", **options)
        self.opened.append(store)
        return store

    def keyed(self) -> Any:
        """A synchronous client that sends a key's command to the node holding it."""
        if self.url.startswith("redis+cluster://"):
            client: Any = RedisCluster.from_url(self.url.replace("redis+cluster://", "redis://"))
        else:
            client = redis.Redis.from_url(self.url)
        self.clients.append(client)
        return client

    def nodes(self) -> list[redis.Redis]:
        """A client of each node (the one server, or each primary of the cluster)."""
        clients = [redis.Redis(port=port) for port in self.ports]
        self.clients += clients
        return clients

    def evalsha_calls(self) -> int:
        """How many `EVALSHA`s the server (every node) has run or refused."""
        total = 0
        for node in self.nodes():
            stats = node.info("commandstats").get("cmdstat_evalsha")
            total += int(stats["calls"]) + int(stats.get("failed_calls", 0)) if stats else 0
        return total

    def close(self) -> None:
        """Close the stores and clients the test made."""
        for store in self.opened:
            store.close()
        for client in self.clients:
            client.close()


@pytest.fixture(params=["redis", "redis_cluster"])
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    """The session's redis-server, then the session's three-node cluster."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        target = Servers(server.url, [server.port])
    else:
        cluster: RedisClusterServers = request.getfixturevalue("redis_cluster")
        target = Servers(cluster.url, [node.port for node in cluster.nodes])
    yield target
    target.close()


async def test_concurrent_claims_form_batches_and_each_gets_the_unbatched_answer(
    servers: Servers,
) -> None:
    batching, one_by_one = servers.store(), servers.store()
    history(batching)
    history(one_by_one)
    await asyncio.sleep(0.01)  # the lapsed leases end
    claims = await asyncio.gather(*(batching.aclaim(d, lease=60, replay=r) for d, r in requests()))
    expected = [one_by_one.claim(d, lease=60, replay=r) for d, r in requests()]

    assert answers(claims) == answers(expected)
    assert {c.result for c in claims} == set(ClaimResult)
    assert kept(batching) == kept(one_by_one)
    sizes = batching.batch_sizes.claims
    assert max(sizes) > 1 and batched(sizes) == len(claims), sizes
    tokens = [c.token for c in claims if c.result is ClaimResult.NEW]
    assert len(set(tokens)) == len(tokens) == 56  # 50 new, 3 retried, 3 taken over
    owners = [(d.key, c.token) for (d, _), c in zip(requests(), claims, strict=True) if c.token]
    finished = await asyncio.gather(*(batching.afinish(k, token=t) for k, t in owners))
    assert finished == [True] * len(owners)
    assert max(batching.batch_sizes.finishes) > 1, batching.batch_sizes.finishes


async def test_a_call_whose_script_fails_fails_alone(servers: Servers) -> None:
    store = servers.store()
    # The poisoned delivery's hash is a string: its script fails with WRONGTYPE.
    servers.keyed().set(store.keys.delivery("poison:complete"), "not a hash")
    tasks = ["a", "b", "poison", "c", "d"]
    outcomes = await asyncio.gather(
        *(store.aclaim(delivery(t), lease=60) for t in tasks), return_exceptions=True
    )
    refused = outcomes.pop(2)
    assert isinstance(refused, ResponseError) and "WRONGTYPE" in str(refused), refused
    claims = [c for c in outcomes if not isinstance(c, BaseException)]
    assert [(c.result, c.attempts) for c in claims] == [(ClaimResult.NEW, 1)] * 4
    assert store.batch_sizes.claims == Counter({5: 1})

    owners = zip("abcd", claims, strict=True)
    finishes = [store.afinish(f"{t}:complete", token=c.token) for t, c in owners]
    finishes.insert(2, store.afinish("poison:complete", token="whatever"))
    finished = await asyncio.gather(*finishes, return_exceptions=True)
    refused = finished.pop(2)
    assert isinstance(refused, ResponseError) and "WRONGTYPE" in str(refused), refused
    assert finished == [True] * 4
    assert store.batch_sizes.finishes == Counter({5: 1})
    assert statuses(store) == {f"{t}:complete": DeliveryStatus.DONE for t in "abcd"}


async def test_a_lone_claim_is_a_batch_of_one_sent_on_the_next_turn(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = servers.store()
    warm = await store.aclaim(delivery("warm"), lease=60)  # scripts loaded, connection open
    assert await store.afinish("warm:complete", token=warm.token)
    real = _batches.send_pipelined
    sent_at: list[int] = []
    async with LoopTurns() as loop:

        async def noting_the_turn(client: Any, calls: Any) -> list[Any]:
            sent_at.append(loop.turns)
            return await real(client, calls)

        monkeypatch.setattr(_batches, "send_pipelined", noting_the_turn)
        evalsha_before = servers.evalsha_calls()
        before = loop.turns
        claim = await store.aclaim(delivery("lone"), lease=60)
        claimed_after = sent_at[0] - before
        before = loop.turns
        assert await store.afinish("lone:complete", token=claim.token)
        finished_after = sent_at[1] - before
    assert claim.result is ClaimResult.NEW
    assert claimed_after <= 2 and finished_after <= 2, (claimed_after, finished_after)
    assert servers.evalsha_calls() - evalsha_before == 2  # one script call each, nothing more
    assert store.batch_sizes.claims == store.batch_sizes.finishes == Counter({1: 2})


async def test_finishes_form_batches_and_a_stale_token_loses_alone(servers: Servers) -> None:
    store = servers.store()
    for i in range(6):
        store.expect(ExpectedTask(f"t{i}", "generate"))
    first = await store.aclaim(delivery("t0"), lease=0.001)
    await asyncio.sleep(0.01)
    claims = await asyncio.gather(*(store.aclaim(delivery(f"t{i}"), lease=60) for i in range(6)))
    assert [c.attempts for c in claims] == [2, 1, 1, 1, 1, 1]  # t0 was taken over
    finishes = [store.afinish("t0:complete", token=first.token)]  # the lapsed owner
    finishes += [store.afinish("t0:complete", token=claims[0].token, error="boom")]
    finishes += [
        store.afinish_settling(f"t{i}:complete", token=c.token, error=None, task_id=f"t{i}", by="x")
        for i, c in enumerate(claims[1:4], start=1)
    ]
    finishes += [store.afinish(f"t{i}:complete", token=claims[i].token) for i in (4, 5)]
    assert await asyncio.gather(*finishes) == [False] + [True] * 6
    assert max(store.batch_sizes.finishes) == 7, store.batch_sizes.finishes
    finished = statuses(store)
    assert finished.pop("t0:complete") is DeliveryStatus.FAILED
    assert set(finished.values()) == {DeliveryStatus.DONE}
    settled = [store.get_task(f"t{i}") for i in range(6)]
    assert [t.state if t else None for t in settled] == [TaskState.PENDING] + [
        TaskState.SETTLED
    ] * 3 + [TaskState.PENDING] * 2


async def test_a_script_cache_flushed_between_batches_is_loaded_again(servers: Servers) -> None:
    store = servers.store()
    for i in range(3):
        store.expect(ExpectedTask(f"f{i}", "generate"))
    tasks = [f"f{i}" for i in range(10)]
    claims = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in tasks))
    assert [c.result for c in claims] == [ClaimResult.NEW] * 10
    for node in servers.nodes():
        node.script_flush()
    # Finishes and finishes settling their task in one batch: both scripts are loaded again.
    finishes = [
        store.afinish_settling(f"{t}:complete", token=c.token, error=None, task_id=t, by="x")
        for t, c in zip(tasks[:3], claims[:3], strict=True)
    ]
    finishes += [
        store.afinish(f"{t}:complete", token=c.token)
        for t, c in zip(tasks[3:], claims[3:], strict=True)
    ]
    assert await asyncio.gather(*finishes) == [True] * 10
    for node in servers.nodes():
        node.script_flush()
    again = await asyncio.gather(*(store.aclaim(delivery(t), lease=60) for t in [*tasks, "new"]))
    assert [c.result for c in again] == [ClaimResult.DUPLICATE] * 10 + [ClaimResult.NEW]
    assert store.batch_sizes.claims == Counter({10: 1, 11: 1})
    assert store.batch_sizes.finishes == Counter({10: 1})
    settled = [store.get_task(f"f{i}") for i in range(3)]
    assert [t.state if t else None for t in settled] == [TaskState.SETTLED] * 3


async def test_a_store_given_only_a_synchronous_client_batches_on_worker_threads(
    servers: Servers,
) -> None:
    store = RedisStore(client=servers.keyed(), prefix=f"threads-{uuid.uuid4().hex}:")
    servers.keyed().set(store.keys.delivery("poison:complete"), "not a hash")
    for node in servers.nodes():
        node.script_flush()
    tasks = ["a", "b", "poison", "a", "c"]
    outcomes = await asyncio.gather(
        *(store.aclaim(delivery(t), lease=60) for t in tasks), return_exceptions=True
    )
    assert isinstance(outcomes[2], ResponseError) and "WRONGTYPE" in str(outcomes[2])
    new, busy = ClaimResult.NEW, ClaimResult.IN_PROGRESS
    assert [getattr(o, "result", None) for o in outcomes] == [new, new, None, busy, new]
    assert store.batch_sizes.claims == Counter({5: 1})
    store.close()
