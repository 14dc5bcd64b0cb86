"""The memory store's footprint and its effect on garbage-collection pauses, in one run.

    .venv/bin/python benchmarks/memory_store.py [--keys 100000]
    .venv/bin/python benchmarks/memory_store.py --quick        # 10,000 keys: a smoke run

Bytes are traced with `tracemalloc` from before the deliveries are made, so every string the
store keeps counts; bodies are one shared object (a real inbox adds each body's size). Rows:
- a remembered key: a done delivery's dedupe key and its terminal task (unsigned, inbox of 1);
- a live replay-guard entry: the same, signed (guard entries live `2 × tolerance`);
- an inbox entry: the same, signed, with every delivery kept in the inbox.
Pauses: the objects the collector must walk, per key (a repeatable count); every collection
while `--keys` signed callbacks are claimed and finished (default bounds: 100,000 keys, 10,000
deliveries) is timed with `gc.callbacks`; then one full collection with the store filled
against one without it. The target: under 300 bytes per remembered key,
no pause over 10 ms at 100k keys.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from suno_hooks.stores import Delivery, MemoryStore, ReplayCheck  # noqa: E402
from suno_hooks.testing import encode, make_callback  # noqa: E402

BODY = encode(make_callback())
HEADERS = {"x-webhook-signature": "s" * 44, "x-webhook-timestamp": "1764400000"}


def batch(n: int) -> list[tuple[Delivery, ReplayCheck]]:
    """`n` fresh terminal deliveries, each with its own signature."""
    out = []
    for _ in range(n):
        task_id = uuid.uuid4().hex
        delivery = Delivery(f"{task_id}:complete", task_id, "complete", BODY, "music")
        delivery.headers = dict(HEADERS)
        signature = f"1764400000:{uuid.uuid4().hex}{uuid.uuid4().hex[:12]}="
        out.append((delivery, ReplayCheck(signature, BODY, 600.0)))
    return out


def fill(store: MemoryStore, items: list[tuple[Delivery, ReplayCheck]], signed: bool) -> None:
    for delivery, guard in items:
        claim = store.claim(delivery, lease=60, replay=guard if signed else None)
        store.finish(delivery.key, token=claim.token)


def bytes_per_key(n: int, *, signed: bool, inbox: int) -> float:
    """Bytes the store keeps per claimed and finished delivery."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = MemoryStore(max_keys=n, max_deliveries=inbox)
    items = batch(n)
    fill(store, items, signed)
    del items
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert store.sizes()["keys"] == n
    return kept / n


def full_collection_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


def tracked_objects(n: int) -> float:
    """Objects the cyclic collector tracks per key in a default store after `n` signed
    callbacks: what every full collection walks (a count, so it is repeatable)."""
    gc.collect()
    before = len(gc.get_objects())
    store = MemoryStore()
    for _ in range(n):
        fill(store, batch(1), signed=True)
    gc.collect()
    return (len(gc.get_objects()) - before) / n


def pauses(n: int) -> tuple[float, int, float, float]:
    """Worst automatic pause (ms) and how many collections ran while a default store takes `n`
    signed callbacks; one full collection without and with the store (ms)."""
    gc.collect()
    without = min(full_collection_ms() for _ in range(3))
    timings: list[float] = []
    started = [0.0]

    def timer(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            timings.append((time.perf_counter() - started[0]) * 1000)

    store = MemoryStore()
    gc.callbacks.append(timer)
    try:
        for _ in range(n):  # each delivery made as a server would, next to its claim
            fill(store, batch(1), signed=True)
    finally:
        gc.callbacks.remove(timer)
    gc.collect()
    with_store = min(full_collection_ms() for _ in range(3))
    return max(timings, default=0.0), len(timings), without, with_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 keys")
    args = parser.parse_args()
    n = 10_000 if args.quick else args.keys
    key = bytes_per_key(n, signed=False, inbox=1)
    guarded = bytes_per_key(n, signed=True, inbox=1)
    kept = bytes_per_key(n, signed=True, inbox=n)
    print(f"{'memory store, ' + format(n, ',') + ' keys':52} {'bytes':>8}")
    print(f"{'remembered key (done key + terminal task)':52} {key:8.0f}   target < 300")
    print(f"{'+ live replay-guard entry (signed)':52} {guarded - key:8.0f}")
    print(f"{'+ inbox entry (headers, times; body not counted)':52} {kept - guarded:8.0f}")
    print(f"{'all three':52} {kept:8.0f}")
    objects = tracked_objects(n)
    worst, count, without, with_store = pauses(n)
    print()
    print(f"{'garbage collection (default bounds)':52} {'ms':>8}")
    print(f"{'objects the collector walks, per key':52} {objects:8.3f}")
    print(f"{f'worst pause while filling ({count} collections)':52} {worst:8.1f}   target ≤ 10")
    print(f"{'one full collection without the store':52} {without:8.1f}")
    print(f"{'one full collection with the store filled':52} {with_store:8.1f}")


if __name__ == "__main__":
    main()
