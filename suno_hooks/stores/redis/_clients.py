"""The redis-py clients behind `RedisStore`: built from a URL (a single server or, with
`redis+cluster://`, a Redis Cluster) or handed over ready, and one asyncio client per event
loop that is closed when its loop shuts down."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from ...errors import ConfigurationError
from ..redaction import redacted_text, redacted_url
from ._deadline import with_write_deadline

__all__ = ["AsyncLink", "ClientFactory", "InThreads", "LoopLinks"]

OWN_OPTIONS = ("prefix", "retention")
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


class ClientFactory:
    """Builds the store's clients from its URL; `own` holds the options the store itself reads
    (`prefix`, `retention`) and the rest is passed on to redis-py."""

    def __init__(self, url: str, *, socket_timeout: float, connect_timeout: float) -> None:
        try:
            parts = urlsplit(url)
            query = parse_qsl(parts.query, keep_blank_values=True)
        except ValueError as exc:
            raise ConfigurationError(
                f"Malformed Redis URL {redacted_url(url)!r}: {redacted_text(str(exc), url)}."
            ) from None
        self.own = {name: value for name, value in query if name in OWN_OPTIONS}
        passed = [(name, value) for name, value in query if name not in OWN_OPTIONS]
        scheme = CLUSTER_SCHEMES.get(parts.scheme.lower())
        self.cluster = scheme is not None
        base = url.split("?", 1)[0]
        if scheme is not None:
            if parts.path.strip("/") not in ("", "0"):
                raise ConfigurationError(
                    f"A Redis Cluster has only database 0; {redacted_url(url)!r} names another."
                )
            base = f"{scheme}://{parts.netloc}"
        self.url = f"{base}?{urlencode(passed)}" if passed else base
        names = {name for name, _ in passed}
        self.options: dict[str, Any] = {}
        if "socket_timeout" not in names:
            self.options["socket_timeout"] = socket_timeout
        if "socket_connect_timeout" not in names:
            self.options["socket_connect_timeout"] = connect_timeout
        self._check()

    def _check(self) -> None:
        """Refuse a URL or option redis-py cannot use now, not at the first callback."""
        try:
            pool = redis.ConnectionPool.from_url(self.url, **self.options)
            pool.connection_class(**pool.connection_kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"Bad Redis URL or option in {redacted_url(self.url)!r}: "
                f"{redacted_text(str(exc), self.url)}"
            ) from None

    def sync(self) -> Any:
        """A new synchronous client. A single server's client sends a command once more after a
        timeout or a dropped connection; a cluster client also follows failovers."""
        if self.cluster:
            return redis.cluster.RedisCluster.from_url(self.url, **self.options)
        return redis.Redis.from_url(self.url, retry=Retry(NoBackoff(), 1), **self.options)

    def asyncio(self) -> Any:
        """A new asyncio client for the running event loop."""
        if self.cluster:
            return redis.asyncio.cluster.RedisCluster.from_url(self.url, **self.options)
        pool = redis.asyncio.ConnectionPool.from_url(
            self.url, retry=AsyncRetry(NoBackoff(), 1), **self.options
        )
        pool.connection_class = with_write_deadline(pool.connection_class)
        client = redis.asyncio.Redis(connection_pool=pool)
        client.auto_close_connection_pool = True  # closing the client closes its pool
        return client


class InThreads:
    """A synchronous client behind the asyncio client's interface: each call runs on a worker
    thread (for a store given a ready synchronous client and no asyncio one)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def register_script(self, lua: str) -> Callable[..., Any]:
        """The script registered on the synchronous client, called on a worker thread."""
        script = self._client.register_script(lua)
        return lambda **kwargs: asyncio.to_thread(script, **kwargs)

    def pipeline(self, *args: Any, **kwargs: Any) -> _PipelineInThreads:
        """A pipeline of the synchronous client whose `execute` is awaited."""
        return _PipelineInThreads(self._client.pipeline(*args, **kwargs))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        return lambda *args, **kwargs: asyncio.to_thread(method, *args, **kwargs)

    async def aclose(self) -> None:
        """The synchronous client belongs to whoever gave it."""


class _PipelineInThreads:
    """A synchronous pipeline whose `execute` is awaited (it runs on a worker thread)."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe

    def __getattr__(self, name: str) -> Callable[..., Any]:
        command = getattr(self._pipe, name)

        def queue(*args: Any, **kwargs: Any) -> _PipelineInThreads:
            command(*args, **kwargs)
            return self

        return queue

    async def execute(self, **options: Any) -> list[Any]:
        """The pipeline's answers (`options` as the synchronous `execute` takes them)."""
        return list(await asyncio.to_thread(self._pipe.execute, **options))


class AsyncLink:
    """One asyncio client, closed with its event loop."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._watch: AsyncGenerator[None, None] | None = None
        self._closing = False

    async def close_at_shutdown(self, forget: Callable[[], None]) -> None:
        """Close the client when its event loop shuts down its async generators (as
        `asyncio.run`, `asyncio.Runner` and asgiref's `async_to_sync` do); `forget` drops it
        from the store's map first."""

        async def watch() -> AsyncGenerator[None, None]:
            try:
                yield
            finally:
                forget()
                if not self._closing:
                    await self.client.aclose()

        self._watch = watch()
        await self._watch.asend(None)

    def _stop_watching(self) -> None:
        self._closing = True
        if self._watch is not None:
            # The generator's `finally` awaits nothing now, so this one step finishes it.
            with contextlib.suppress(StopIteration):
                self._watch.aclose().send(None)
            self._watch = None

    def abandon(self) -> None:
        """Drop a client whose loop was closed without shutting down its generators: its
        connections can no longer be awaited and close when collected."""
        self._stop_watching()

    async def aclose(self) -> None:
        """Close the client now, on its own loop."""
        self._stop_watching()
        await self.client.aclose()


class LoopLinks:
    """The asyncio client of each running event loop, built on first use; a loop's client is
    closed when that loop shuts down, and clients of loops closed otherwise are dropped."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._links: dict[asyncio.AbstractEventLoop, AsyncLink] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._links)

    async def get(self) -> AsyncLink:
        """The running loop's link."""
        loop = asyncio.get_running_loop()
        link = self._links.get(loop)
        if link is None:
            self._drop_closed()
            link = self._links[loop] = AsyncLink(self._build())
            await link.close_at_shutdown(lambda: self._forget(loop, link))
        return link

    def _forget(self, loop: asyncio.AbstractEventLoop, link: AsyncLink) -> None:
        with self._lock:
            if self._links.get(loop) is link:
                del self._links[loop]

    def _drop_closed(self) -> None:
        with self._lock:
            closed = [(loop, link) for loop, link in self._links.items() if loop.is_closed()]
        for loop, link in closed:
            self._forget(loop, link)
            link.abandon()

    def pop_running(self) -> AsyncLink | None:
        """Take the running loop's link out of the map (to close it)."""
        with self._lock:
            return self._links.pop(asyncio.get_running_loop(), None)
