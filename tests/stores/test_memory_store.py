"""MemoryStore specifics: its bounds, its key size, its local done check. The claim semantics it
shares with every store are in test_store_contract.py."""

from __future__ import annotations

import sys
from collections import OrderedDict

from hypothesis import given, settings
from hypothesis import strategies as st

from suno_hooks.stores import (
    ClaimResult,
    Delivery,
    MemoryStore,
    ReplayCheck,
    store_from_url,
)
from suno_hooks.stores.memory._order import InsertionOrder

from ..support.stores import finish


def delivery(task_id: str = "t1", stage: str = "complete", body: bytes = b"{}") -> Delivery:
    return Delivery(key=f"{task_id}:{stage}", task_id=task_id, stage=stage, body=body)


def test_bounded_keeps_newest_and_unfinished():
    store = MemoryStore(max_keys=100, max_deliveries=50)
    store.claim(delivery("pending"), lease=600)
    for i in range(300):
        finish(store, delivery(f"t{i}"))
    assert len(store._keys) <= 100
    assert len(store._inbox) <= 50
    assert store.claim(delivery("pending"), lease=60).result is ClaimResult.IN_PROGRESS
    assert store.claim(delivery("t299"), lease=60).result is ClaimResult.DUPLICATE


def test_remembered_key_is_small():
    store = MemoryStore()
    before = sys.getsizeof(store._keys)
    keys = [f"{i:032x}:complete" for i in range(10_000)]
    for key in keys:
        store._keys[key] = 0
    per_key = (sys.getsizeof(store._keys) - before + sum(sys.getsizeof(k) for k in keys)) / len(
        keys
    )
    assert per_key < 300


def test_store_from_url():
    store = store_from_url("memory://?max_keys=10")
    assert isinstance(store, MemoryStore) and store.max_keys == 10


def test_claim_done_answers_locally_after_the_replay_guard():
    store = MemoryStore()
    claim = store.claim(delivery(), lease=60)
    assert store.claim_done("t1:complete", None) is None
    store.finish("t1:complete", token=claim.token, error="boom")
    assert store.claim_done("t1:complete", None) is None
    retry = store.claim(delivery(), lease=60, replay=ReplayCheck("sig", b"{}", 60))
    store.finish("t1:complete", token=retry.token)
    assert store.claim_done("t1:complete", None) is ClaimResult.DUPLICATE
    same = ReplayCheck("sig", b"{}", 60)
    assert store.claim_done("t1:complete", same) is ClaimResult.DUPLICATE
    other = ReplayCheck("sig", b'{"forged":1}', 60)
    assert store.claim_done("t1:complete", other) is ClaimResult.REPLAYED


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "delete", "pop"]), st.integers(0, 8))))
def test_insertion_order_names_the_oldest_key_like_an_ordered_dict(steps: list[tuple[str, int]]):
    model: OrderedDict[str, None] = OrderedDict()
    present: dict[str, None] = {}
    order = InsertionOrder()
    for action, number in steps:
        key = f"k{number}"
        if action == "set":
            if key in present:
                order.moved(key)
                model.move_to_end(key)
            else:
                order.push(key)
            present[key] = model[key] = None
        elif action == "delete" and key in present:
            del present[key], model[key]
            order.forget(key)
        elif action == "pop" and present:
            oldest = order.pop_oldest()
            assert oldest == next(iter(model))
            del present[oldest], model[oldest]
        if present:
            assert order.oldest() == next(iter(model))
