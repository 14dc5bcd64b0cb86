"""The inbox half of `RedisStore`: listings merged over the shards' indexes, `purge`, the
sweep that keeps the indexes bounded, and reading delivery hashes back."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from .._base import DeliveryQuery
from .._kept import records_from
from ..base import Delivery, DeliveryStatus
from ..records import delivery_from_row
from . import _lua
from ._keys import SHARDS, RedisKeys, ShardCursor, received_score

__all__ = ["KEPT_FIELD", "RedisInbox", "delivery_of", "read_delivery", "server_ms"]

KEPT_FIELD = b"kept:"
"""The prefix of a delivery hash's fields that each hold one kept file's record."""
_PAGE = 200
_PURGE_BATCH = 500
_FILTERED = ("task_id", "status", "kind", "stage", "meta", "lease_until")
# Every `SWEEP_EVERY`-th claim of a store is followed by one purge step (up to `SWEEP_BATCH`
# entries past the retention) on the next shard in turn, so the inbox index stays bounded
# without calling `purge`, and claims stay one script call each. A shard is swept once every
# `SWEEP_EVERY * SHARDS` claims and gains `SWEEP_EVERY` entries meanwhile (on average): a step
# removes up to twice that, so the sweep keeps pace.
SWEEP_EVERY = 64
SWEEP_BATCH = 2 * SWEEP_EVERY


class RedisInbox:
    """Listing, counting and purging the inbox under the store's keys, on the client `sync`
    returns; it counts the store's claims to sweep the shards in turn."""

    def __init__(self, keys: RedisKeys, sync: Callable[[], Any]) -> None:
        self.keys = keys
        self._sync = sync
        self._claims = itertools.count(1)

    @staticmethod
    def _matching(
        members: list[bytes],
        states: list[list[bytes | None]],
        wanted: dict[str, str],
        now_ms: float,
    ) -> tuple[list[bytes], list[bytes]]:
        """Members whose `_FILTERED` fields match `wanted`, and members whose hash expired."""
        matches: list[bytes] = []
        vanished: list[bytes] = []
        for member, state in zip(members, states, strict=True):
            task_id, status, lease_until = state[0], state[1], state[-1]
            if task_id is None:
                vanished.append(member)
                continue
            fields = dict(zip(_FILTERED, (value or b"" for value in state), strict=True))
            fields["status"] = _reported_status(status, lease_until, now_ms).encode()
            if all(_field(fields, name) == value for name, value in wanted.items()):
                matches.append(member)
        return matches, vanished

    def deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        """The entries `query` asks for, newest first, merged over the shards' indexes."""
        filters = {
            "task_id": query.task_id,
            "status": query.status.value if query.status is not None else None,
            "kind": query.kind,
            "stage": query.stage,
            "source": query.source,
        }
        wanted = {name: value for name, value in filters.items() if value is not None}
        limit = query.limit
        client = self._sync()
        now_ms = server_ms(client.time())
        found: list[Delivery] = []
        skip = query.offset
        cursor = ShardCursor(client, self.keys.inbox, max(1, min(_PAGE, limit + skip)))
        while len(found) < limit:
            batch = cursor.take(_PAGE)
            if not batch:
                break
            members = [member for _, member in batch]
            # First the small fields of the batch, then whole entries only for matches.
            pipe = client.pipeline(transaction=False)
            for member in members:
                pipe.hmget(self.keys.delivery(member.decode()), *_FILTERED)
            matches, vanished = self._matching(members, pipe.execute(), wanted, now_ms)
            self._forget_vanished(client, cursor, batch, set(vanished))
            skipped = min(skip, len(matches))
            skip -= skipped
            matches = matches[skipped:][: limit - len(found)]
            pipe = client.pipeline(transaction=False)
            for member in matches:
                pipe.hgetall(self.keys.delivery(member.decode()))
            for member, fields in zip(matches, pipe.execute(), strict=True):
                if b"task_id" in fields:
                    found.append(delivery_of(member.decode(), fields, now_ms))
        return found

    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status (reads the status of every entry; a
        lapsed lease counts as abandoned)."""
        client = self._sync()
        now_ms = server_ms(client.time())
        counts: Counter[str] = Counter()
        for shard in range(SHARDS):
            start = 0
            while True:
                members = client.zrange(self.keys.inbox(shard), start, start + _PAGE - 1)
                if not members:
                    break
                start += len(members)
                pipe = client.pipeline(transaction=False)
                for member in members:
                    pipe.hmget(self.keys.delivery(member.decode()), "status", "lease_until")
                counts.update(
                    _reported_status(status, lease_until, now_ms)
                    for status, lease_until in pipe.execute()
                    if status is not None
                )
        return dict(counts)

    def _forget_vanished(
        self, client: Any, cursor: ShardCursor, batch: list[tuple[int, bytes]], gone: set[bytes]
    ) -> None:
        """Remove index members whose delivery hash expired, shard by shard."""
        by_shard: defaultdict[int, list[bytes]] = defaultdict(list)
        for shard, member in batch:
            if member in gone:
                by_shard[shard].append(member)
        for shard, members in by_shard.items():
            client.zrem(self.keys.inbox(shard), *members)
            cursor.removed(shard, len(members))

    def purge(self, cutoff: float) -> int:
        """Forget inbox entries received before `cutoff`; the terminal marks and replay guard
        expire on their own."""
        client = self._sync()
        removed = 0
        for shard in range(SHARDS):
            offset = 0
            while True:
                gone, kept, seen = self.purge_step(client, shard, cutoff, offset, _PURGE_BATCH)
                removed += gone
                offset += kept
                if seen < _PURGE_BATCH:
                    break
        return removed

    def purge_step(
        self, client: Any, shard: int, cutoff: float, offset: int, count: int
    ) -> tuple[int, int, int]:
        """Remove up to `count` of a shard's entries received before `cutoff` (skipping the
        first `offset`, live leases kept earlier): (removed, kept, seen)."""
        index, score = self.keys.inbox(shard), received_score(cutoff)
        members = client.zrangebyscore(index, "-inf", f"({score}", start=offset, num=count)
        if not members:
            return 0, 0, 0
        keys = [index, *(self.keys.delivery(member.decode()) for member in members)]
        gone, kept = _lua.PURGE(client, keys, [score, *members])
        return int(gone), int(kept), len(members)

    async def apurge_step(self, client: Any, shard: int, cutoff: float) -> None:
        """`purge_step` of a sweep on the event loop's own connection."""
        index, score = self.keys.inbox(shard), received_score(cutoff)
        members = await client.zrangebyscore(index, "-inf", f"({score}", start=0, num=SWEEP_BATCH)
        if members:
            keys = [index, *(self.keys.delivery(member.decode()) for member in members)]
            await _lua.PURGE.acall(client, keys, [score, *members])

    def sweep_due(self) -> int | None:
        """The shard to sweep after this claim, on every `SWEEP_EVERY`-th claim."""
        count = next(self._claims)
        if count % SWEEP_EVERY:
            return None
        return (count // SWEEP_EVERY) % SHARDS


def _field(fields: dict[str, bytes], name: str) -> str:
    """One filtered field of a delivery hash as text; the source is read from its meta JSON."""
    if name != "source":
        return fields[name].decode()
    try:
        meta = json.loads(fields["meta"] or b"{}")
    except ValueError:
        return "callback"
    source = meta.get("source") if isinstance(meta, dict) else None
    return source if isinstance(source, str) and source else "callback"


def server_ms(clock: tuple[int, int]) -> float:
    """Redis `TIME` (seconds, microseconds) in milliseconds, the unit of `lease_until`."""
    return clock[0] * 1000 + clock[1] / 1000


def _reported_status(status: bytes | None, lease_until: bytes | None, now_ms: float) -> str:
    """The status a listing shows: `processing` past its lease is `abandoned`."""
    shown = (status or b"processing").decode()
    if shown == "processing" and lease_until is not None and float(lease_until) <= now_ms:
        return DeliveryStatus.ABANDONED.value
    return shown


def read_delivery(key: str, reply: list[Any]) -> Delivery | None:
    """The delivery from the `READ` script's reply (the server's clock, the hash's fields)."""
    clock, flat = reply
    fields = dict(zip(flat[::2], flat[1::2], strict=True))
    now_ms = server_ms((int(clock[0]), int(clock[1])))
    return delivery_of(key, fields, now_ms) if b"task_id" in fields else None


def delivery_of(key: str, fields: dict[bytes, bytes], now_ms: float) -> Delivery:
    error = fields.get(b"error")
    delivery = delivery_from_row(
        key=key,
        task_id=fields[b"task_id"].decode(),
        stage=fields.get(b"stage", b"").decode(),
        body=fields.get(b"body", b""),
        meta=fields.get(b"meta", b""),
        received_at=float(fields.get(b"received_at", b"0")),
        updated_at=float(fields.get(b"updated_at", b"0")),
        status=_reported_status(fields.get(b"status"), fields.get(b"lease_until"), now_ms),
        attempts=int(fields.get(b"attempts", b"1")),
        error=error.decode("utf-8", "replace") if error else None,
        rings=int(fields.get(b"rings", b"0")),
    )
    kept = [value for name, value in fields.items() if name.startswith(KEPT_FIELD)]
    if kept:
        delivery.kept = records_from(_loaded(value) for value in kept)
    return delivery


def _loaded(value: bytes) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return None
