"""`RedisStore`: the store for many processes and hosts; every claim is one Lua script call."""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import ConfigurationError
from .base import (
    DEFAULT_RETENTION,
    Claim,
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
    new_token,
)
from .records import delivery_from_row
from .redis_tasks import RedisTasks

__all__ = ["DEFAULT_PREFIX", "RedisStore"]

DEFAULT_PREFIX = "suno_hooks:"
_OWN_OPTIONS = ("prefix", "retention")

# KEYS: delivery hash, task terminal mark, replay-guard entry, inbox index.
# ARGV: lease ms, retention ms, terminal flag, body digest ("" = no guard), guard ttl ms,
#       dedupe key, task id, stage, kind, body, meta JSON, received_at, delivery key prefix,
#       fencing token.
# The token doubles as the request's nonce: a claim the client repeats after a timeout finds
# its own lease and is answered `new` again instead of `in_progress`.
# Each new claim also drops a few index members (scored by received_at, in seconds) older than
# the retention whose hash has expired, so the inbox index stays bounded without `purge`.
_CLAIM_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if ARGV[4] ~= '' then
  local seen = redis.call('GET', KEYS[3])
  if not seen then
    redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
  elseif seen ~= ARGV[4] then
    return {'replayed', 0}
  end
end
local state = redis.call('HMGET', KEYS[1], 'status', 'lease_until', 'attempts', 'token')
local attempts = 1
if state[1] then
  if state[1] == 'processing' and state[4] == ARGV[14] then
    return {'new', tonumber(state[3]) or 1}
  end
  if state[1] == 'done' then return {'duplicate', 0} end
  if state[1] == 'processing' and (tonumber(state[2]) or 0) > now then
    return {'in_progress', 0}
  end
  attempts = (tonumber(state[3]) or 1) + 1
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  return {'stale', 0}
end
redis.call('HSET', KEYS[1], 'status', 'processing', 'lease_until', now + tonumber(ARGV[1]),
  'attempts', attempts, 'task_id', ARGV[7], 'stage', ARGV[8], 'kind', ARGV[9],
  'body', ARGV[10], 'meta', ARGV[11], 'received_at', ARGV[12], 'updated_at', now / 1000,
  'token', ARGV[14])
redis.call('HDEL', KEYS[1], 'error')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[12], ARGV[6])
local cutoff = '(' .. ((now - tonumber(ARGV[2])) / 1000)
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', cutoff, 'LIMIT', 0, 4)) do
  if redis.call('EXISTS', ARGV[13] .. member) == 0 then redis.call('ZREM', KEYS[4], member) end
end
return {'new', attempts}
"""

# KEYS: delivery hash. ARGV: status, error, retention ms, fencing token.
# Changes nothing (and answers 0) unless the token still owns the delivery; a repeat of the
# same finish writes the same state again.
_FINISH_LUA = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[4] then return 0 end
local clock = redis.call('TIME')
redis.call('HSET', KEYS[1], 'status', ARGV[1],
  'updated_at', tonumber(clock[1]) + tonumber(clock[2]) / 1000000)
redis.call('HDEL', KEYS[1], 'lease_until')
if ARGV[1] == 'failed' then
  redis.call('HSET', KEYS[1], 'error', ARGV[2])
else
  redis.call('HDEL', KEYS[1], 'error')
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS: delivery hash. ARGV: fencing token, lease ms. Leases run on the server's clock.
_EXTEND_LUA = """
local state = redis.call('HMGET', KEYS[1], 'status', 'token')
if state[1] ~= 'processing' or state[2] ~= ARGV[1] then return 0 end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('HSET', KEYS[1], 'lease_until', now + tonumber(ARGV[2]))
return 1
"""

# KEYS: inbox index. ARGV: cutoff, delivery key prefix, batch size, offset.
# Removes one batch of entries received before the cutoff, leaving live leases alone.
_PURGE_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1],
  'LIMIT', tonumber(ARGV[4]), tonumber(ARGV[3]))
local removed, kept = 0, 0
for _, member in ipairs(members) do
  local key = ARGV[2] .. member
  local state = redis.call('HMGET', key, 'status', 'lease_until')
  if state[1] == 'processing' and (tonumber(state[2]) or 0) > now then
    kept = kept + 1
  else
    removed = removed + redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], member)
  end
end
return {removed, kept, #members}
"""

_RESULTS = {
    b"new": ClaimResult.NEW,
    b"duplicate": ClaimResult.DUPLICATE,
    b"in_progress": ClaimResult.IN_PROGRESS,
    b"stale": ClaimResult.STALE,
    b"replayed": ClaimResult.REPLAYED,
}
_PAGE = 200
_PURGE_BATCH = 500


class _AsyncLink:
    """One event loop's `redis.asyncio` client and its registered scripts."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.claim = client.register_script(_CLAIM_LUA)
        self.finish = client.register_script(_FINISH_LUA)
        self.purge = client.register_script(_PURGE_LUA)
        self.extend = client.register_script(_EXTEND_LUA)


class RedisStore(RedisTasks):
    """Keeps dedupe facts, terminal tasks, the replay guard and the inbox in Redis.

    A claim is one `EVALSHA` of a script that does the replay guard, dedupe, lease, stale check
    and inbox record atomically. Every key starts with `prefix`, so several apps can share one
    Redis; each expires after `retention` seconds (the replay guard after its own ttl).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        prefix: str | None = None,
        retention: float | None = None,
        socket_timeout: float = 2.0,
        connect_timeout: float = 1.0,
    ) -> None:
        try:
            parts = urlsplit(url)
            query = parse_qsl(parts.query, keep_blank_values=True)
        except ValueError as exc:
            raise ConfigurationError(f"Malformed Redis URL {_redacted(url)!r}: {exc}.") from None
        own = {name: value for name, value in query if name in _OWN_OPTIONS}
        passed = [(name, value) for name, value in query if name not in _OWN_OPTIONS]
        base = url.split("?", 1)[0]
        self.url = f"{base}?{urlencode(passed)}" if passed else base
        self.prefix = prefix if prefix is not None else own.get("prefix", DEFAULT_PREFIX)
        self.retention = _retention(retention if retention is not None else own.get("retention"))
        names = {name for name, _ in passed}
        self._options: dict[str, Any] = {}
        if "socket_timeout" not in names:
            self._options["socket_timeout"] = socket_timeout
        if "socket_connect_timeout" not in names:
            self._options["socket_connect_timeout"] = connect_timeout
        self._check_url()
        self._inbox_key = f"{self.prefix}inbox"
        self._delivery_prefix = f"{self.prefix}d:"
        self._lock = threading.Lock()
        self._client: Any = None
        self._scripts: tuple[Any, Any, Any, Any] | None = None
        self._links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _AsyncLink] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self.prefix!r})"

    def _check_url(self) -> None:
        """Refuse a URL or option redis-py cannot use now, not at the first callback."""
        try:
            pool = redis.ConnectionPool.from_url(self.url, **self._options)
            pool.connection_class(**pool.connection_kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"Bad Redis URL or option in {_redacted(self.url)!r}: {exc}"
            ) from None

    # -- clients ---------------------------------------------------------------------------------

    def _sync(self) -> tuple[Any, tuple[Any, Any, Any, Any]]:
        scripts = self._scripts
        if scripts is None:
            with self._lock:
                if self._scripts is None:
                    client = redis.Redis.from_url(
                        self.url, retry=Retry(NoBackoff(), 1), **self._options
                    )
                    self._client = client
                    self._scripts = (
                        client.register_script(_CLAIM_LUA),
                        client.register_script(_FINISH_LUA),
                        client.register_script(_PURGE_LUA),
                        client.register_script(_EXTEND_LUA),
                    )
                scripts = self._scripts
        return self._client, scripts

    def _link(self) -> _AsyncLink:
        # redis.asyncio connections belong to the loop that opened them: one client per loop.
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is None:
            client = redis.asyncio.Redis.from_url(
                self.url, retry=AsyncRetry(NoBackoff(), 1), **self._options
            )
            link = self._links[loop] = _AsyncLink(client)
        return link

    # -- keys and arguments ----------------------------------------------------------------------

    def _claim_call(
        self, delivery: Delivery, lease: float, replay: ReplayCheck | None, token: str
    ) -> tuple[list[str], list[Any]]:
        prefix = self.prefix
        keys = [
            self._delivery_prefix + delivery.key,
            f"{prefix}t:{delivery.task_id}",
            f"{prefix}g:{replay.signature_key}" if replay is not None else f"{prefix}g:",
            self._inbox_key,
        ]
        args = [
            max(0, int(lease * 1000)),
            int(self.retention * 1000),
            1 if delivery.terminal else 0,
            replay.body_digest if replay is not None else "",
            max(1, int(replay.ttl * 1000)) if replay is not None else 0,
            delivery.key,
            delivery.task_id,
            delivery.stage,
            delivery.kind,
            delivery.body,
            delivery.meta_json(),
            repr(delivery.received_at),
            self._delivery_prefix,
            token,
        ]
        return keys, args

    @staticmethod
    def _claimed(delivery: Delivery, reply: list[Any], token: str) -> Claim:
        result = _RESULTS[reply[0]]
        if result is not ClaimResult.NEW:
            return Claim(result)
        attempts = int(reply[1])
        delivery.status = DeliveryStatus.PROCESSING
        delivery.attempts = attempts
        delivery.updated_at = time.time()
        return Claim(result, attempts, token)

    def _finish_call(self, key: str, token: str, error: str | None) -> tuple[list[str], list[Any]]:
        status = DeliveryStatus.DONE if error is None else DeliveryStatus.FAILED
        args = [status.value, error or "", int(self.retention * 1000), token]
        return [self._delivery_prefix + key], args

    def _extend_call(self, key: str, token: str, lease: float) -> tuple[list[str], list[Any]]:
        return [self._delivery_prefix + key], [token, max(0, int(lease * 1000))]

    @staticmethod
    def _matching(
        members: list[bytes],
        states: list[list[bytes | None]],
        wanted: tuple[str | None, str | None, str | None],
        now_ms: float,
    ) -> tuple[list[bytes], list[bytes]]:
        """Members whose (task_id, status, kind) match `wanted`, and members whose hash expired."""
        matches: list[bytes] = []
        vanished: list[bytes] = []
        for member, (task_id, status, kind, lease_until) in zip(members, states, strict=True):
            if task_id is None:
                vanished.append(member)
                continue
            shown = _reported_status(status, lease_until, now_ms)
            found = (task_id.decode(), shown, (kind or b"").decode())
            if all(w is None or f == w for w, f in zip(wanted, found, strict=True)):
                matches.append(member)
        return matches, vanished

    # -- the contract, synchronous ---------------------------------------------------------------

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """Atomically decide, in one round trip: new, duplicate, in progress, stale or replayed."""
        _, (script, _, _, _) = self._sync()
        token = new_token()
        keys, args = self._claim_call(delivery, lease, replay, token)
        return self._claimed(delivery, script(keys=keys, args=args), token)

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """Mark a claimed delivery done (`error=None`) or failed and kept for replay; False and
        nothing changed when `token` no longer owns the delivery."""
        _, (_, script, _, _) = self._sync()
        keys, args = self._finish_call(key, token, error)
        return bool(script(keys=keys, args=args))

    def extend(self, key: str, *, token: str, lease: float) -> bool:
        """Move the lease's end to `lease` seconds from now (server clock) while `token` owns
        the delivery."""
        _, (_, _, _, script) = self._sync()
        keys, args = self._extend_call(key, token, lease)
        return bool(script(keys=keys, args=args))

    def get(self, key: str) -> Delivery | None:
        """The inbox entry for a dedupe key, if still kept."""
        client, _ = self._sync()
        pipe = client.pipeline(transaction=False)
        fields, clock = pipe.hgetall(self._delivery_prefix + key).time().execute()
        return _delivery(key, fields, _ms(clock)) if b"task_id" in fields else None

    def deliveries(
        self,
        *,
        status: DeliveryStatus | str | None = None,
        kind: str | None = None,
        task_id: str | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Inbox entries, newest first, filtered by status, kind and task id."""
        wanted = (task_id, DeliveryStatus(status).value if status is not None else None, kind)
        client, _ = self._sync()
        now_ms = _ms(client.time())
        found: list[Delivery] = []
        start = 0
        while len(found) < limit:
            members = client.zrevrange(self._inbox_key, start, start + _PAGE - 1)
            if not members:
                break
            start += len(members)
            # First the three small fields of the page, then whole entries only for matches.
            pipe = client.pipeline(transaction=False)
            for member in members:
                pipe.hmget(
                    self._delivery_prefix + member.decode(),
                    "task_id",
                    "status",
                    "kind",
                    "lease_until",
                )
            matches, vanished = self._matching(members, pipe.execute(), wanted, now_ms)
            if vanished:
                client.zrem(self._inbox_key, *vanished)
                start -= len(vanished)
            matches = matches[: limit - len(found)]
            for member in matches:
                pipe.hgetall(self._delivery_prefix + member.decode())
            for member, fields in zip(matches, pipe.execute(), strict=True):
                if b"task_id" in fields:
                    found.append(_delivery(member.decode(), fields, now_ms))
        return found

    def purge(self, older_than: float | None = None) -> int:
        """Forget inbox entries received before `older_than` (default: now − retention); the
        terminal marks and replay guard expire on their own."""
        cutoff = older_than if older_than is not None else time.time() - self.retention
        _, (_, _, script, _) = self._sync()
        removed = offset = 0
        while True:
            gone, kept, seen = script(
                keys=[self._inbox_key],
                args=[repr(cutoff), self._delivery_prefix, _PURGE_BATCH, offset],
            )
            removed += int(gone)
            offset += int(kept)
            if int(seen) < _PURGE_BATCH:
                return removed

    def bind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """Bind a callback URL token to the first task id it serves; True when it is `task_id`.
        SET NX decides the first use; a later use reads the binding (it expires with the token)."""
        client, _ = self._sync()
        key = f"{self.prefix}k:{token_id}"
        if client.set(key, task_id, nx=True, px=max(1, int(ttl * 1000))):
            return True
        return bool(client.get(key) == task_id.encode())

    def close(self) -> None:
        """Release the synchronous client's connections."""
        with self._lock:
            client, self._client, self._scripts = self._client, None, None
        if client is not None:
            client.close()

    # -- the contract, asyncio -------------------------------------------------------------------

    async def aclaim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        """`claim` on the event loop's own connection: one round trip, no thread."""
        token = new_token()
        keys, args = self._claim_call(delivery, lease, replay, token)
        return self._claimed(delivery, await self._link().claim(keys=keys, args=args), token)

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`finish` on the event loop's own connection."""
        keys, args = self._finish_call(key, token, error)
        return bool(await self._link().finish(keys=keys, args=args))

    async def aextend(self, key: str, *, token: str, lease: float) -> bool:
        """`extend` on the event loop's own connection."""
        keys, args = self._extend_call(key, token, lease)
        return bool(await self._link().extend(keys=keys, args=args))

    async def aget(self, key: str) -> Delivery | None:
        """`get` on the event loop's own connection."""
        pipe = self._link().client.pipeline(transaction=False)
        fields, clock = await pipe.hgetall(self._delivery_prefix + key).time().execute()
        return _delivery(key, fields, _ms(clock)) if b"task_id" in fields else None

    async def adeliveries(self, **filters: Any) -> list[Delivery]:
        """`deliveries` (an administrative listing) on a worker thread."""
        return await asyncio.to_thread(lambda: self.deliveries(**filters))

    async def apurge(self, older_than: float | None = None) -> int:
        """`purge` on a worker thread."""
        return await asyncio.to_thread(self.purge, older_than)

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` on the event loop's own connection."""
        client = self._link().client
        key = f"{self.prefix}k:{token_id}"
        if await client.set(key, task_id, nx=True, px=max(1, int(ttl * 1000))):
            return True
        return bool(await client.get(key) == task_id.encode())

    async def aclose(self) -> None:
        """Release this loop's asyncio client and the synchronous client."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - aclose always runs on a loop
            loop = None
        link = self._links.pop(loop) if loop is not None and loop in self._links else None
        if link is not None:
            await link.client.aclose()
        self.close()


def _redacted(url: str) -> str:
    """The URL with any password replaced, for error messages."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.partition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def _retention(value: Any) -> float:
    if value is None:
        return DEFAULT_RETENTION
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"retention must be a number of seconds; got {value!r}.") from None
    if not seconds > 0:
        raise ConfigurationError(f"retention must be positive; got {value!r}.")
    return seconds


def _ms(clock: tuple[int, int]) -> float:
    """Redis `TIME` (seconds, microseconds) in milliseconds, the unit of `lease_until`."""
    return clock[0] * 1000 + clock[1] / 1000


def _reported_status(status: bytes | None, lease_until: bytes | None, now_ms: float) -> str:
    """The status a listing shows: `processing` past its lease is `abandoned`."""
    shown = (status or b"processing").decode()
    if shown == "processing" and lease_until is not None and float(lease_until) <= now_ms:
        return DeliveryStatus.ABANDONED.value
    return shown


def _delivery(key: str, fields: dict[bytes, bytes], now_ms: float) -> Delivery:
    error = fields.get(b"error")
    return delivery_from_row(
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
    )
