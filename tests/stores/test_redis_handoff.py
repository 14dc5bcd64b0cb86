"""`RedisStore`'s hand-off index: queued deliveries are found through it, and the sweep drops the
members whose delivery is done or gone, on one server and on a cluster."""

from __future__ import annotations

import pytest

from suno_hooks.stores import RedisStore
from suno_hooks.stores.redis._keys import shard_of

from ..support.stores import StoreFactory, delivery


@pytest.fixture(params=["redis", "redis_cluster"])
def store(request: pytest.FixtureRequest) -> RedisStore:
    factory: StoreFactory = request.getfixturevalue(f"{request.param}_store_factory")
    built = factory()
    assert isinstance(built, RedisStore)
    return built


def _indexed(store: RedisStore, task_id: str) -> bool:
    key = f"{task_id}:complete"
    index = store.keys.handoff(shard_of(key))
    return store._sync().zscore(index, key) is not None


def test_the_sweep_drops_done_and_gone_deliveries_from_the_index(store: RedisStore):
    for task_id in ("done", "gone", "failed", "waiting"):
        store.queue(delivery(task_id))
        assert _indexed(store, task_id)
    for task_id, error in (("done", None), ("failed", "boom")):
        kept = store.get(f"{task_id}:complete")
        assert kept is not None
        store.finish(kept.key, token=store.claim(kept, lease=60).token, error=error)
    store._sync().delete(store.keys.delivery("gone:complete"))
    assert [d.key for d in store.sweepable(older_than=0, max_rings=1)] == ["waiting:complete"]
    assert [_indexed(store, t) for t in ("done", "gone", "failed", "waiting")] == [
        False,
        False,
        True,
        True,
    ]


def test_a_ring_moves_the_delivery_later_in_the_index(store: RedisStore):
    store.queue(delivery("rung"))
    key = "rung:complete"
    index = store.keys.handoff(shard_of(key))
    queued_at = store._sync().zscore(index, key)
    assert store.note_ring(key) == 1
    assert store._sync().zscore(index, key) >= queued_at
    assert store._sync().hget(store.keys.delivery(key), "rings") == b"1"
