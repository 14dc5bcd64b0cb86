"""The hand-off half of `RedisStore`: the `QUEUE` call's arguments, and finding the queued or
abandoned deliveries to ring again through the shards' hand-off indexes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from ..base import Claim, ClaimResult, Delivery, DeliveryStatus, ReplayCheck
from . import _lua
from ._inbox import delivery_of, server_ms
from ._keys import SHARDS, RedisKeys, received_score, shard_of

__all__ = ["RedisHandoff"]

_STATE = ("status", "lease_until", "rings", "received_at")
_QUEUE_REFUSALS = {
    0: Claim(ClaimResult.DUPLICATE),
    -1: Claim(ClaimResult.IN_PROGRESS),
    -2: Claim(ClaimResult.STALE),
    -3: Claim(ClaimResult.REPLAYED),
}


class RedisHandoff:
    """`queue`, `sweepable` and `note_ring` under the store's keys, on the client `sync`
    returns (the asyncio `queue` sends the same call on the loop's client)."""

    def __init__(self, keys: RedisKeys, sync: Callable[[], Any], retention_ms: int) -> None:
        self.keys = keys
        self._sync = sync
        self._retention_ms = retention_ms

    def queue_call(
        self, delivery: Delivery, replay: ReplayCheck | None, token: str
    ) -> tuple[list[str], list[Any]]:
        """The keys and arguments of the `QUEUE` script for `delivery`."""
        signature_key, digest, guard_ttl = "", "", 0
        if replay is not None:
            signature_key = replay.signature_key
            digest, guard_ttl = replay.body_digest, max(1, int(replay.ttl * 1000))
        keys = self.keys.claim_keys(delivery.key, delivery.task_id, signature_key)
        keys.append(self.keys.handoff(shard_of(delivery.key)))
        received = delivery.received_at
        numbers = (
            f"{self._retention_ms} {1 if delivery.terminal else 0} {guard_ttl} "
            f"{received_score(received)} {received!r} {token}"
        )
        return keys, [
            numbers,
            digest,
            delivery.stage,
            delivery.kind,
            delivery.body,
            delivery.meta_json(),
        ]

    @staticmethod
    def queued(delivery: Delivery, answer: int) -> Claim:
        """The `QUEUE` script's answer as a claim; a new one marks `delivery` queued."""
        if answer < 1:
            return _QUEUE_REFUSALS[answer]
        delivery.status = DeliveryStatus.QUEUED
        delivery.attempts = answer - 1
        delivery.rings = 0
        return Claim(ClaimResult.NEW, answer - 1)

    def note_ring(self, key: str, nonce: str) -> int:
        """Count one more ring of `key` (the `NOTE_RING` script); the new count, 0 when gone."""
        keys = [self.keys.delivery(key), self.keys.handoff(shard_of(key))]
        return int(_lua.NOTE_RING(self._sync(), keys, [key, nonce]))

    def _prune(self, client: Any, finished: list[tuple[int, str]]) -> None:
        """Remove the members whose delivery was seen done or gone, each shard in one script
        call that checks them again (one queued since stays)."""
        by_shard: defaultdict[int, list[str]] = defaultdict(list)
        for shard, key in finished:
            by_shard[shard].append(key)
        for shard, members in by_shard.items():
            hashes = [self.keys.delivery(key) for key in members]
            _lua.PRUNE(client, [self.keys.handoff(shard), *hashes], members)

    def sweepable(self, older_than: float, max_rings: int, limit: int) -> list[Delivery]:
        """The deliveries to ring again, oldest received first: the members of the hand-off
        indexes scored before the cutoff, read and checked; members whose delivery is done or
        gone leave the index."""
        client = self._sync()
        now_ms = server_ms(client.time())
        cutoff = now_ms - older_than * 1000
        pipe = client.pipeline(transaction=False)
        for shard in range(SHARDS):
            pipe.zrangebyscore(self.keys.handoff(shard), "-inf", cutoff)
        members = [
            (shard, member.decode())
            for shard, found in enumerate(pipe.execute())
            for member in found
        ]
        pipe = client.pipeline(transaction=False)
        for _, key in members:
            pipe.hmget(self.keys.delivery(key), *_STATE)
        due: list[tuple[float, str]] = []
        finished: list[tuple[int, str]] = []
        for (shard, key), state in zip(members, pipe.execute(), strict=True):
            status, lease_until, rings, received_at = state
            if status is None or status == b"done":
                finished.append((shard, key))
            elif int(rings or 0) < max_rings and (
                status == b"queued"
                or (status == b"processing" and float(lease_until or 0) <= cutoff)
            ):
                due.append((float(received_at or 0), key))
        self._prune(client, finished)
        due.sort()
        pipe = client.pipeline(transaction=False)
        for _, key in due[:limit]:
            pipe.hgetall(self.keys.delivery(key))
        found = pipe.execute() if due else []
        return [
            delivery_of(key, fields, now_ms)
            for (_, key), fields in zip(due[:limit], found, strict=True)
            if b"task_id" in fields
        ]
