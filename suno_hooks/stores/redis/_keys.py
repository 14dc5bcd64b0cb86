"""Where `RedisStore` keeps things: every key of one task shares a Redis Cluster hash slot.

Tasks are spread over `SHARDS` shards by their id; a shard's keys all carry the hash tag
`{<prefix><shard>}`, so one script call can touch a delivery, its task's terminal mark, the
replay-guard entry and the shard's inbox index on a cluster as on a single server. Listings
merge the shards' sorted indexes, newest first.
"""

from __future__ import annotations

import heapq
import itertools
import zlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["SHARDS", "RedisKeys", "ShardCursor", "received_score", "shard_of"]

SHARDS = 64
"""How many shards the tasks are spread over by their id (each shard is one hash slot)."""


def received_score(received_at: float) -> int:
    """An inbox index score: seconds since the epoch as whole microseconds (Redis keeps a small
    sorted set's integer scores without parsing them on every insert)."""
    return int(received_at * 1_000_000)


def shard_of(key: str) -> int:
    """The shard of a task id or dedupe key: both start with the task id, whose part before the
    first `:` picks the shard, so every stage of a task lands on its task's shard."""
    return zlib.crc32(key.partition(":")[0].encode("utf-8", "surrogatepass")) % SHARDS


class RedisKeys:
    """The key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.tags = [f"{{{prefix}{shard:02x}}}" for shard in range(SHARDS)]

    def delivery(self, key: str) -> str:
        """The hash holding one delivery (status, lease, body, ...)."""
        return f"{self.tags[shard_of(key)]}d:{key}"

    def terminal(self, key: str, task_id: str) -> str:
        """The mark set when a terminal stage of the task was claimed (on the key's shard)."""
        return f"{self.tags[shard_of(key)]}t:{task_id}"

    def guard(self, key: str, signature_key: str) -> str:
        """The replay-guard entry of one signature; a signature names its task, so the entry
        lives on that task's shard."""
        return f"{self.tags[shard_of(key)]}g:{signature_key}"

    def inbox(self, shard: int) -> str:
        """One shard's inbox index: dedupe keys scored by `received_at` in whole microseconds
        (`received_score`)."""
        return f"{self.tags[shard]}r"

    def handoff(self, shard: int) -> str:
        """One shard's hand-off index: the dedupe keys of queued deliveries, scored by when
        they were queued or last rung (milliseconds of the server's clock)."""
        return f"{self.tags[shard]}q"

    def claim_keys(self, key: str, task_id: str, signature_key: str) -> list[str]:
        """The keys of a claim, in the `CLAIM` script's order: `delivery`, `terminal`, `guard`
        and `inbox`, all on the key's shard."""
        tag = self.tags[shard_of(key)]
        return [f"{tag}d:{key}", f"{tag}t:{task_id}", f"{tag}g:{signature_key}", f"{tag}r"]

    def task(self, task_id: str) -> str:
        """The hash of one expected task."""
        return f"{self.tags[shard_of(task_id)]}x:{task_id}"

    def task_queue(self, shard: int) -> str:
        """One shard's pending expected tasks, scored by their next poll time."""
        return f"{self.tags[shard]}xq"

    def task_index(self, shard: int) -> str:
        """One shard's expected tasks, scored by submission time."""
        return f"{self.tags[shard]}xa"

    def binding(self, token_id: str) -> str:
        """The task a callback URL token is bound to."""
        return f"{self.prefix}k:{token_id}"


class ShardCursor:
    """A k-way merge over the shards' sorted sets, newest first; `removed(shard, n)` tells it
    that `n` members it already yielded from `shard` were deleted, so its paging stays exact."""

    def __init__(self, client: Any, index: Callable[[int], str], page: int) -> None:
        self.client = client
        self.index = index
        self.page = page
        self.offsets = [0] * SHARDS
        self.heap: list[tuple[float, int, bytes]] = []
        self.buffers: list[list[tuple[bytes, float]]] = [[] for _ in range(SHARDS)]
        self.exhausted = [False] * SHARDS
        pipe = client.pipeline(transaction=False)
        for shard in range(SHARDS):
            pipe.zrevrange(index(shard), 0, page - 1, withscores=True)
        for shard, rows in enumerate(pipe.execute()):
            self._take(shard, rows)
        self._merged = self._merge()

    def _take(self, shard: int, rows: list[tuple[bytes, float]]) -> None:
        self.offsets[shard] += len(rows)
        self.exhausted[shard] = len(rows) < self.page
        rows = list(rows)
        rows.reverse()  # popped from the end: the newest first
        self.buffers[shard] = rows
        self._push(shard)

    def _push(self, shard: int) -> None:
        buffer = self.buffers[shard]
        if not buffer and not self.exhausted[shard]:
            start = self.offsets[shard]
            rows = self.client.zrevrange(
                self.index(shard), start, start + self.page - 1, withscores=True
            )
            self._take(shard, rows)
            return
        if buffer:
            member, score = buffer[-1]
            heapq.heappush(self.heap, (-float(score), shard, member))

    def removed(self, shard: int, count: int) -> None:
        """`count` members this cursor yielded from `shard` are gone from its index."""
        self.offsets[shard] -= count

    def take(self, count: int) -> list[tuple[int, bytes]]:
        """The next `count` (or fewer, at the end) `(shard, member)` pairs, newest first."""
        return list(itertools.islice(self._merged, count))

    def _merge(self) -> Iterator[tuple[int, bytes]]:
        while self.heap:
            _, shard, member = heapq.heappop(self.heap)
            self.buffers[shard].pop()
            self._push(shard)
            yield shard, member
