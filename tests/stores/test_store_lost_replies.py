"""The store contract for a lost reply: the server ran a claim, finish or extend, its answer
never reached the client, and the client sent the same request again (redis-py after a socket
timeout; the PostgreSQL store after its connection was cut). The repeat is answered as the first
run: the only delivery stays `new` for its owner, a real redelivery is `in_progress`.

Only stores with a server between them and their data can lose a reply and repeat a request:
Redis, Redis Cluster and the PostgreSQL store. The memory, SQLite and Django stores call no
server (Django on PostgreSQL repeats nothing: a lost reply there is a 503 and Kie's retry).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import redis
from redis.cluster import RedisCluster

from suno_hooks.stores import ClaimResult, DeliveryStatus, RedisStore, Store
from suno_hooks.stores.postgres import PostgresStore
from suno_hooks.stores.redis import _scripts as redis_scripts
from suno_hooks.stores.tasks import ExpectedTask, FinishesSettling, TaskState, TaskStore

from ..support.postgres import PostgresServer
from ..support.proxy import DelayingProxy
from ..support.services import RedisClusterServers, RedisServer
from ..support.stores import delivery, offers, postgres_schema_url

TIMEOUT = 0.3
REDIS_MARKERS = {
    "claim": b"EVALSHA",
    "finish": b"EVALSHA",
    "extend": b"EVALSHA",
    "finish_settling": b"EVALSHA",
}
POSTGRES_MARKERS = {
    "claim": b"suno_hooks_claim(",
    "finish": b"SET status",
    "extend": b"SET lease_until",
    "finish_settling": b"SET status",
}


@dataclass
class Lossy:
    """A store whose requests pass through proxies that can swallow one reply."""

    store: Store
    proxies: list[DelayingProxy]
    markers: dict[str, bytes]
    cut: bool

    @contextmanager
    def losing(self, operation: str) -> Iterator[None]:
        """Inside the block, the reply to the next request of `operation` is lost."""
        for proxy in self.proxies:
            proxy.hold_next_reply(self.markers[operation], cut=self.cut)
        yield
        assert any(proxy.held.is_set() for proxy in self.proxies), "no reply was lost"
        for proxy in self.proxies:
            proxy.disarm()


def _redis(server: RedisServer, proxies: list[DelayingProxy]) -> Store:
    proxy = DelayingProxy(server.port)
    proxies.append(proxy)
    return RedisStore(proxy.url, prefix=f"lost-{uuid.uuid4().hex}:", socket_timeout=TIMEOUT)


def _redis_cluster(cluster: RedisClusterServers, proxies: list[DelayingProxy]) -> Store:
    by_port = {node.port: DelayingProxy(node.port) for node in cluster.nodes}
    proxies.extend(by_port.values())
    for node in cluster.nodes:  # each node knows the scripts: a swallowed reply is a real run
        with redis.Redis(port=node.port) as admin:
            for lua in (
                redis_scripts.CLAIM,
                redis_scripts.FINISH,
                redis_scripts.EXTEND,
                redis_scripts.FINISH_SETTLING,
            ):
                admin.script_load(lua)

    def remap(address: tuple[str, int]) -> tuple[str, int]:
        proxy = by_port.get(address[1])
        return proxy.remap(address) if proxy is not None else address

    first = cluster.nodes[0].port
    client = RedisCluster(host="127.0.0.1", port=first, address_remap=remap, socket_timeout=TIMEOUT)
    return RedisStore(client=client, prefix=f"lost-{uuid.uuid4().hex}:")


def _postgres(server: PostgresServer, proxies: list[DelayingProxy]) -> Store:
    proxy = DelayingProxy(server.port)
    proxies.append(proxy)
    return PostgresStore(postgres_schema_url(server, proxy.port))


LOSSY_KINDS = ["redis", "redis_cluster", "postgres"]


@pytest.fixture(params=LOSSY_KINDS)
def lossy(request: pytest.FixtureRequest) -> Iterator[Lossy]:
    kind = request.param
    proxies: list[DelayingProxy] = []
    if kind == "redis":
        store = _redis(request.getfixturevalue("redis_server"), proxies)
    elif kind == "redis_cluster":
        store = _redis_cluster(request.getfixturevalue("redis_cluster"), proxies)
    else:
        store = _postgres(request.getfixturevalue("postgres_server"), proxies)
    # Scripts loaded, schema created and connections open before any reply is lost.
    warm = store.claim(delivery("warm-up"), lease=60)
    store.extend("warm-up:complete", token=warm.token, lease=60)
    store.finish("warm-up:complete", token=warm.token)
    markers = POSTGRES_MARKERS if kind == "postgres" else REDIS_MARKERS
    yield Lossy(store, proxies, markers, cut=kind == "postgres")
    store.close()
    for proxy in proxies:
        proxy.close()


def test_a_claim_repeated_after_its_reply_was_lost_is_answered_as_the_first_run(lossy: Lossy):
    store = lossy.store
    with lossy.losing("claim"):
        claim = store.claim(delivery("lost"), lease=60)
    assert (claim.result, claim.attempts) == (ClaimResult.NEW, 1) and claim.token
    assert store.claim(delivery("lost"), lease=60).result is ClaimResult.IN_PROGRESS
    with lossy.losing("extend"):
        assert store.extend("lost:complete", token=claim.token, lease=120)
    with lossy.losing("finish"):
        assert store.finish("lost:complete", token=claim.token)
    assert store.claim(delivery("lost"), lease=60).result is ClaimResult.DUPLICATE
    kept = store.get("lost:complete")
    assert kept is not None and (kept.status, kept.attempts) == (DeliveryStatus.DONE, 1)


def test_a_failed_delivery_retaken_after_a_lost_reply_counts_one_attempt(lossy: Lossy):
    store = lossy.store
    first = store.claim(delivery("retaken"), lease=60)
    assert store.finish("retaken:complete", token=first.token, error="boom")
    with lossy.losing("claim"):
        retry = store.claim(delivery("retaken"), lease=60)
    assert (retry.result, retry.attempts) == (ClaimResult.NEW, 2)
    assert store.finish("retaken:complete", token=retry.token)
    kept = store.get("retaken:complete")
    assert kept is not None and (kept.status, kept.attempts) == (DeliveryStatus.DONE, 2)


@pytest.mark.parametrize(
    "lossy", [kind for kind in LOSSY_KINDS if offers(kind, FinishesSettling)], indirect=True
)
def test_finish_settling_repeated_after_its_reply_was_lost_settles_once(lossy: Lossy):
    store = lossy.store
    finishes: FinishesSettling = store  # type: ignore[assignment]
    tasks: TaskStore = store  # type: ignore[assignment]
    assert tasks.expect(ExpectedTask(task_id="lost-settle", feature="music", next_poll_at=0))
    claim = store.claim(delivery("lost-settle"), lease=60)
    with lossy.losing("finish_settling"):
        assert finishes.finish_settling(
            "lost-settle:complete", token=claim.token, error=None, task_id="lost-settle", by="poll"
        )
    task = tasks.get_task("lost-settle")
    assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, "poll")
    assert tasks.claim_due() == []
    kept = store.get("lost-settle:complete")
    assert kept is not None and (kept.status, kept.attempts) == (DeliveryStatus.DONE, 1)
