"""The Redis store reads the same under both of Redis's protocols: redis-py 8.2 opens connections
with `HELLO 3` (RESP3) by default, older releases speak RESP2, and a URL may ask for either
(`?protocol=2`). Replies whose shape differs between them (hashes, scored ranges, script
results) must give the same deliveries and tasks, on the sync and the asyncio client."""

from __future__ import annotations

import uuid

import pytest

from suno_hooks.stores import RedisStore
from suno_hooks.stores.base import ClaimResult, DeliveryStatus
from suno_hooks.stores.tasks import ExpectedTask, TaskState

from ..support.services import RedisServer
from ..support.stores import delivery

T0 = 1_800_000_000.0


def store_speaking(redis_server: RedisServer, protocol: int) -> RedisStore:
    prefix = f"resp{protocol}-{uuid.uuid4().hex}:"
    return RedisStore(f"{redis_server.url}?protocol={protocol}", prefix=prefix)


@pytest.mark.parametrize("protocol", [2, 3])
def test_deliveries_and_tasks_read_the_same_on_the_sync_client(
    redis_server: RedisServer, protocol: int
):
    store = store_speaking(redis_server, protocol)
    try:
        claim = store.claim(delivery("t1", body=b'{"a": "\\u751f"}'), lease=60)
        assert claim.result is ClaimResult.NEW
        assert store.finish("t1:complete", token=claim.token)
        assert store.claim(delivery("t1"), lease=60).result is ClaimResult.DUPLICATE
        kept = store.get("t1:complete")
        assert kept is not None
        assert (kept.status, kept.attempts, kept.body) == (
            DeliveryStatus.DONE,
            1,
            b'{"a": "\\u751f"}',
        )
        assert [d.key for d in store.deliveries()] == ["t1:complete"]
        assert store.expect(ExpectedTask.submitted("t2", "generate", after=0, now=T0))
        [due] = store.claim_due(now=T0 + 1)
        assert (due.task_id, due.state) == ("t2", TaskState.PENDING)
        assert int(store._sync().connection_pool.connection_kwargs["protocol"]) == protocol
    finally:
        store.close()


@pytest.mark.parametrize("protocol", [2, 3])
async def test_deliveries_and_tasks_read_the_same_on_the_asyncio_client(
    redis_server: RedisServer, protocol: int
):
    store = store_speaking(redis_server, protocol)
    try:
        claim = await store.aclaim(delivery("t1"), lease=60)
        assert claim.result is ClaimResult.NEW
        assert await store.afinish("t1:complete", token=claim.token, error="boom")
        kept = await store.aget("t1:complete")
        assert kept is not None
        assert (kept.status, kept.error) == (DeliveryStatus.FAILED, "boom")
        assert [d.key for d in await store.adeliveries()] == ["t1:complete"]
        assert await store.aexpect(ExpectedTask.submitted("t2", "generate", after=0, now=T0))
        [due] = await store.aclaim_due(now=T0 + 1)
        assert due.task_id == "t2"
        client = await store._aclient()
        connection = await client.connection_pool.get_connection()
        try:
            assert connection.is_connected and int(connection.protocol) == protocol
        finally:
            await client.connection_pool.release(connection)
    finally:
        await store.aclose()
