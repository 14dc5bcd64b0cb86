"""`RedisStore`: the store for many processes and hosts, on one Redis server or a Redis
Cluster; every claim is one Lua script call."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis.asyncio
import redis.asyncio.cluster

from ...errors import ConfigurationError
from ...media.kept import KeptFile
from .._base import DeliveryQuery, StoreBase, positive_option
from .._group import BatchSizes
from ..base import (
    DEFAULT_RETENTION,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
    new_token,
)
from ..tasks import asettle_expected, settle_expected
from . import _lua
from ._batches import BatchedScripts, ScriptCall
from ._clients import AsyncLink, ClientFactory, InThreads, LoopLinks
from ._handoff import RedisHandoff
from ._inbox import SWEEP_BATCH, RedisInbox, read_delivery
from ._keys import RedisKeys, received_score, shard_of
from ._tasks import RedisTasks

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

logger = logging.getLogger("suno_hooks")

DEFAULT_PREFIX = "suno_hooks:"
"""What every key of a `RedisStore` starts with unless it is given another prefix."""

# The `CLAIM` script's answers other than the attempt number of a new claim.
_REFUSALS = {
    0: Claim(ClaimResult.DUPLICATE),
    -1: Claim(ClaimResult.IN_PROGRESS),
    -2: Claim(ClaimResult.STALE),
    -3: Claim(ClaimResult.REPLAYED),
}
_ASYNC_CLIENTS = (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster)


class RedisStore(StoreBase):
    """Keeps dedupe facts, terminal tasks, the replay guard and the inbox in Redis.

    A claim is one `EVALSHA` of a script that does the replay guard, dedupe, lease, stale check
    and inbox record atomically. On an event loop, the claims waiting at the same moment go to
    Redis as one pipelined round trip, and so do the finishes (`batch_sizes` counts them). Every
    key starts with `{prefix`, so several apps can share one Redis; each expires after
    `retention` seconds (the replay guard after its own ttl). A `redis+cluster://` URL (or a
    ready `RedisCluster` client) works on a Redis Cluster: the keys of one task share a hash
    slot.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        async_client: Any = None,
        prefix: str | None = None,
        retention: float | None = None,
        socket_timeout: float = 2.0,
        connect_timeout: float = 1.0,
    ) -> None:
        self._factory: ClientFactory | None = None
        own: dict[str, str] = {}
        if client is None and async_client is None:
            self._factory = ClientFactory(
                url or "redis://localhost:6379/0",
                socket_timeout=socket_timeout,
                connect_timeout=connect_timeout,
            )
            own = self._factory.own
        elif client is None:
            raise ConfigurationError(
                "RedisStore(async_client=...) needs the synchronous client too (client=...): "
                "listings, purge and the CLI use it."
            )
        elif url is not None:
            raise ConfigurationError("Give RedisStore a URL or ready clients, not both.")
        elif async_client is not None and not isinstance(async_client, _ASYNC_CLIENTS):
            raise ConfigurationError("async_client must be a redis.asyncio client.")
        self.prefix = prefix if prefix is not None else own.get("prefix", DEFAULT_PREFIX)
        seconds = retention if retention is not None else own.get("retention")
        self.retention = positive_option("retention", seconds, DEFAULT_RETENTION)
        self.keys = RedisKeys(self.prefix)
        self._lock = threading.Lock()
        self._given = client
        self._client: Any = client
        self._links = LoopLinks(self._factory.asyncio) if self._factory is not None else None
        given = async_client if async_client is not None else InThreads(client)
        self._given_link = AsyncLink(given) if client is not None else None
        self._inbox = RedisInbox(self.keys, self._sync)
        self._handoff = RedisHandoff(self.keys, self._sync, int(self.retention * 1000))
        self._tasks = RedisTasks(self.keys, self._sync, self._aclient, int(self.retention * 1000))
        self._batch_sizes = BatchSizes()
        self._batched = BatchedScripts(self._aclient, self._batch_sizes)

    @property
    def url(self) -> str | None:
        """The URL the store's clients are built from (None for ready clients)."""
        return self._factory.url if self._factory is not None else None

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"

    # -- clients ---------------------------------------------------------------------------------

    def _sync(self) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    assert self._factory is not None
                    self._client = self._factory.sync()
                client = self._client
        return client

    async def _alink(self) -> AsyncLink:
        if self._given_link is not None:
            return self._given_link
        assert self._links is not None
        return await self._links.get()

    async def _aclient(self) -> Any:
        return (await self._alink()).client

    # -- keys and arguments ----------------------------------------------------------------------

    def _claim_call(
        self, delivery: Delivery, lease: float, replay: ReplayCheck | None, token: str
    ) -> tuple[list[str], list[Any]]:
        received = delivery.received_at
        if replay is None:
            keys = self.keys.claim_keys(delivery.key, delivery.task_id, "")
            digest, guard_ttl = "", 0
        else:
            keys = self.keys.claim_keys(delivery.key, delivery.task_id, replay.signature_key)
            digest, guard_ttl = replay.body_digest, max(1, int(replay.ttl * 1000))
        numbers = (
            f"{max(0, int(lease * 1000))} {int(self.retention * 1000)} "
            f"{1 if delivery.terminal else 0} {guard_ttl} {received_score(received)} "
            f"{received!r} {token}"
        )
        args = [numbers, digest, delivery.stage, delivery.kind, delivery.body, delivery.meta_json()]
        return keys, args

    @staticmethod
    def _claimed(delivery: Delivery, attempts: int, token: str) -> Claim:
        if attempts < 1:
            return _REFUSALS[attempts]
        delivery.status = DeliveryStatus.PROCESSING
        delivery.attempts = attempts
        delivery.updated_at = time.time()
        return Claim(ClaimResult.NEW, attempts, token)

    def _finish_call(self, key: str, token: str, error: str | None) -> tuple[list[str], list[Any]]:
        status = "done" if error is None else "failed"
        return [self.keys.delivery(key)], [
            f"{status} {int(self.retention * 1000)} {token}",
            error or "",
        ]

    def _finish_settling_call(
        self, key: str, token: str, error: str | None, task_id: str, by: str
    ) -> tuple[list[str], list[Any]] | None:
        """The `FINISH_SETTLING` call, or None when the task's hash is on another shard than
        the delivery (a dedupe key that does not start with its task id)."""
        shard = shard_of(task_id)
        if shard != shard_of(key):
            return None
        keys, (numbers, error_text) = self._finish_call(key, token, error)
        keys += [self.keys.task(task_id), self.keys.task_queue(shard)]
        return keys, [f"{numbers} {time.time()!r}", error_text, by]

    def _extend_call(self, key: str, token: str, lease: float) -> tuple[list[str], list[Any]]:
        return [self.keys.delivery(key)], [token, max(0, int(lease * 1000))]

    # -- the contract, synchronous ---------------------------------------------------------------

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """Atomically decide, in one round trip: new, duplicate, in progress, stale or replayed."""
        client = self._sync()
        token = new_token()
        keys, args = self._claim_call(delivery, lease, replay, token)
        claim = self._claimed(delivery, _lua.CLAIM(client, keys, args), token)
        shard = self._inbox.sweep_due()
        if shard is not None:
            try:
                self._inbox.purge_step(client, shard, self._cutoff(None), 0, SWEEP_BATCH)
            except Exception:  # the claim stands; the next sweep of this shard tries again
                logger.warning("Sweeping the Redis inbox index failed", exc_info=True)
        return claim

    def queue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`claim`'s decision in one script call, recording a new delivery `queued` (no lease,
        no attempt counted); a key already queued is in progress."""
        keys, args = self._handoff.queue_call(delivery, replay, new_token())
        return self._handoff.queued(delivery, _lua.QUEUE(self._sync(), keys, args))

    def _sweepable(self, older_than: float, max_rings: int, limit: int) -> list[Delivery]:
        return self._handoff.sweepable(older_than, max_rings, limit)

    def note_ring(self, key: str) -> int:
        """Count one more ring for `key` and remember when (server clock); the new count (0
        when not kept)."""
        return self._handoff.note_ring(key, new_token())

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """Mark a claimed delivery done (`error=None`) or failed and kept for replay; False and
        nothing changed when `token` no longer owns the delivery."""
        keys, args = self._finish_call(key, token, error)
        return bool(_lua.FINISH(self._sync(), keys, args))

    def finish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish`, and when `token` still owns the delivery, `settle(task_id, by=by)`: one
        script call on the delivery's shard, which holds the task too."""
        call = self._finish_settling_call(key, token, error, task_id, by)
        if call is None:
            finished = self.finish(key, token=token, error=error)
            if finished:
                settle_expected(self, task_id, by)
            return finished
        keys, args = call
        return bool(_lua.FINISH_SETTLING(self._sync(), keys, args))

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Move the lease's end to `lease` seconds from now (server clock) while `token` owns
        the delivery."""
        keys, args = self._extend_call(key, token, lease)
        return bool(_lua.EXTEND(self._sync(), keys, args))

    def reopen(self, key: str, *, error: str) -> bool:
        """Mark a done delivery failed with `error` (for a replay asked for on purpose)."""
        return bool(_lua.REOPEN(self._sync(), [self.keys.delivery(key)], [error]))

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept."""
        return read_delivery(key, _lua.READ(self._sync(), [self.keys.delivery(key)], []))

    def record_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """Merge `files` into the delivery's `kept`, one hash field per name; False when the
        delivery is not kept."""
        return bool(_lua.RECORD_KEPT(self._sync(), [self.keys.delivery(key)], _kept_args(files)))

    async def arecord_kept(self, key: str, files: Iterable[KeptFile]) -> bool:
        """`record_kept` on the asyncio client."""
        args = _kept_args(files)
        client = await self._aclient()
        return bool(await _lua.RECORD_KEPT.acall(client, [self.keys.delivery(key)], args))

    def bind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """Bind a callback URL token to the first task id it serves; True when it is `task_id`.
        SET NX decides the first use; a later use reads the binding (it expires with the token)."""
        client = self._sync()
        key = self.keys.binding(token_id)
        if client.set(key, task_id, nx=True, px=max(1, int(ttl * 1000))):
            return True
        return bool(client.get(key) == task_id.encode())

    def _deliveries(self, query: DeliveryQuery) -> list[Delivery]:
        return self._inbox.deliveries(query)

    def count_by_status(self) -> dict[str, int]:
        """How many kept deliveries are in each status (reads the status of every entry; a
        lapsed lease counts as abandoned)."""
        return self._inbox.count_by_status()

    def _purge(self, cutoff: float) -> int:
        return self._inbox.purge(cutoff)

    def close(self) -> None:
        """Release the synchronous client's connections (a client given ready stays open)."""
        with self._lock:
            client = self._client
            if self._given is None:
                self._client = None
        if client is not None and self._given is None:
            client.close()

    # -- the contract, asyncio -------------------------------------------------------------------

    @property
    def batch_sizes(self) -> BatchSizes:
        """How many batches of each size the claims and the finishes made on event loops were
        sent in: `batch_sizes.claims[n]` batches of `n` claims went to Redis as one pipelined
        round trip (likewise `finishes`)."""
        return self._batch_sizes

    async def aclaim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """`claim` on the event loop's own connection, no thread: in one pipelined round trip
        with the claims waiting at the same moment on this loop, each with its own answer,
        lease token or error."""
        token = new_token()
        keys, args = self._claim_call(delivery, lease, replay, token)
        answer = await self._batched.claims.submit(ScriptCall(_lua.CLAIM, keys, args))
        claim = self._claimed(delivery, answer, token)
        shard = self._inbox.sweep_due()
        if shard is not None:
            try:
                client = await self._aclient()
                await self._inbox.apurge_step(client, shard, self._cutoff(None))
            except Exception:  # the claim stands; the next sweep of this shard tries again
                logger.warning("Sweeping the Redis inbox index failed", exc_info=True)
        return claim

    async def aqueue(self, delivery: Delivery, *, replay: ReplayCheck | None = None) -> Claim:
        """`queue` on the event loop's own connection: one round trip, no thread."""
        keys, args = self._handoff.queue_call(delivery, replay, new_token())
        answer = await _lua.QUEUE.acall(await self._aclient(), keys, args)
        return self._handoff.queued(delivery, answer)

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`finish` on the event loop's own connection, in one pipelined round trip with the
        finishes waiting at the same moment."""
        keys, args = self._finish_call(key, token, error)
        return bool(await self._batched.finishes.submit(ScriptCall(_lua.FINISH, keys, args)))

    async def afinish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish_settling` on the event loop's own connection, in one pipelined round trip with
        the finishes waiting at the same moment."""
        call = self._finish_settling_call(key, token, error, task_id, by)
        if call is None:
            finished = await self.afinish(key, token=token, error=error)
            if finished:
                await asettle_expected(self, task_id, by)
            return finished
        keys, args = call
        settling = ScriptCall(_lua.FINISH_SETTLING, keys, args)
        return bool(await self._batched.finishes.submit(settling))

    async def aextend(self, key: str, *, token: str, lease: float) -> bool:
        """`extend` on the event loop's own connection."""
        keys, args = self._extend_call(key, token, lease)
        return bool(await _lua.EXTEND.acall(await self._aclient(), keys, args))

    async def aget(self, key: str) -> Delivery | None:
        """`get` on the event loop's own connection."""
        reply = await _lua.READ.acall(await self._aclient(), [self.keys.delivery(key)], [])
        return read_delivery(key, reply)

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` on the event loop's own connection."""
        client = await self._aclient()
        key = self.keys.binding(token_id)
        if await client.set(key, task_id, nx=True, px=max(1, int(ttl * 1000))):
            return True
        return bool(await client.get(key) == task_id.encode())

    async def aclose(self) -> None:
        """Release this loop's asyncio client and the synchronous client."""
        link = self._links.pop_running() if self._links is not None else None
        if link is not None:
            await link.aclose()
        self.close()


def _kept_args(files: Iterable[KeptFile]) -> list[Any]:
    args: list[Any] = []
    for record in files:
        args += [record.name, json.dumps(record.to_dict(), ensure_ascii=False)]
    return args
