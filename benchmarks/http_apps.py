"""The servers `benchmarks/http_adapters.py` compares: each suno-hooks adapter and a hand-written
endpoint in the same framework doing the same work (read the body, validate an equivalent
pydantic model, check Kie's HMAC signature, remember the body under its dedupe key, answer
`{"status": "received"}`).

Every request is signed (`KEY`). The memory rows remember in a dict (`suno_asgi_keys_only` is
the reference row: `asgi_app` on a store that keeps only the keys); the durable rows write
once: `INSERT OR IGNORE` on SQLite (`SUNO_BENCH_SQLITE_DIR`), `SET NX` on Redis
(`SUNO_BENCH_REDIS_URL`), `INSERT ... ON CONFLICT DO NOTHING` on PostgreSQL
(`SUNO_BENCH_POSTGRES_URL`). The suno-hooks apps on a durable store write the group-commit batch
sizes they saw to `batches.json` in `SUNO_BENCH_SQLITE_DIR` at exit. On ASGI paths the receiver
is a no-op async one (a sync one would run in a worker thread there), on WSGI paths a no-op sync
one. The durable apps are built on first use, so the memory rows need no Redis server.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from benchmarks.baseline import ANSWERS, FORGED, KEY, verified
from suno_hooks import Event, MemoryStore, Receiver, task_completed
from suno_hooks.asgi import asgi_app
from suno_hooks.contrib.flask import SunoHooks
from suno_hooks.contrib.starlette import suno_routes
from suno_hooks.stores import Claim, ClaimResult, Delivery, ReplayCheck, Store
from suno_hooks.wsgi import wsgi_app

logging.getLogger("suno_hooks").setLevel(logging.ERROR)


def _receiver(store: Store | str | None = None, *, on_loop: bool = False) -> Receiver:
    receiver = Receiver(hmac_keys=[KEY], store=store or MemoryStore())
    if on_loop:

        async def async_no_op(sender: Any, event: Event, **extra: Any) -> None:
            return None

        task_completed.connect(async_no_op, sender=receiver, weak=False)
    else:

        def no_op(sender: Any, event: Event, **extra: Any) -> None:
            return None

        task_completed.connect(no_op, sender=receiver, weak=False)
    return receiver


def _verified(body: bytes, timestamp: str | None, signature: str | None) -> tuple[str, bytes]:
    """Validate the model and check the signature; the dedupe key and the body to keep."""
    callback = verified(body, timestamp, signature)
    return f"{callback.data.task_id}:{callback.data.callbackType}", body


def _remember(seen: dict[str, bytes], key: str, body: bytes) -> bool:
    """Keep the raw body under its dedupe key (as an inbox does); False for a duplicate."""
    if key in seen:
        return False
    seen[key] = body
    return True


# -- raw ASGI ---------------------------------------------------------------------------------

Remember = Callable[[str, bytes], Awaitable[bool]]


def raw_asgi_endpoint(remember: Remember) -> Callable[..., Awaitable[None]]:
    """A hand-written raw ASGI endpoint: read, verify, parse, `remember`, answer."""

    async def endpoint(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        timestamp, signature = (
            headers.get(b"x-webhook-timestamp"),
            headers.get(b"x-webhook-signature"),
        )
        try:
            key, body = _verified(
                b"".join(chunks),
                timestamp.decode() if timestamp else None,
                signature.decode() if signature else None,
            )
            status, answer = 200, ANSWERS[await remember(key, body)]
        except PermissionError:
            status, answer = 401, FORGED
        head = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": answer})

    return endpoint


_asgi_seen: dict[str, bytes] = {}


async def _remember_in_dict(key: str, body: bytes) -> bool:
    return _remember(_asgi_seen, key, body)


suno_asgi = asgi_app(_receiver(on_loop=True))
baseline_asgi = raw_asgi_endpoint(_remember_in_dict)


class KeysOnlyStore(MemoryStore):
    """A reference, not a store to use: it remembers each dedupe key in a dict and nothing else
    (no inbox record, replay guard, stale check or lease), so `asgi_app` on it measures the
    adapter and the core without what `MemoryStore` keeps for exactly-once processing."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, bool] = {}

    def claim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        if delivery.key in self.seen:
            return Claim(ClaimResult.DUPLICATE)
        self.seen[delivery.key] = True
        return Claim(ClaimResult.NEW, 1, "kept")

    async def aclaim(
        self, delivery: Delivery, *, lease: float, replay: ReplayCheck | None = None
    ) -> Claim:
        return self.claim(delivery, lease=lease, replay=replay)

    def claim_done(self, key: str, replay: ReplayCheck | None) -> ClaimResult | None:
        return None

    def finish(self, key: str, *, token: str, error: str | None = None) -> bool:
        return True

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        return True

    def finish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        return True

    async def afinish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        return True


suno_asgi_keys_only = asgi_app(_receiver(KeysOnlyStore(), on_loop=True))

# -- Starlette --------------------------------------------------------------------------------

suno_starlette = Starlette(routes=[Mount("/suno", routes=suno_routes(_receiver(on_loop=True)))])

_starlette_seen: dict[str, bytes] = {}


async def _starlette_endpoint(request: Request) -> Response:
    try:
        key, body = _verified(
            await request.body(),
            request.headers.get("x-webhook-timestamp"),
            request.headers.get("x-webhook-signature"),
        )
    except PermissionError:
        return Response(FORGED, status_code=401, media_type="application/json")
    return Response(ANSWERS[_remember(_starlette_seen, key, body)], media_type="application/json")


baseline_starlette = Starlette(
    routes=[Mount("/suno", routes=[Route("/callback", _starlette_endpoint, methods=["POST"])])]
)

# -- Flask ------------------------------------------------------------------------------------

suno_flask = Flask("suno_flask")
SunoHooks(suno_flask, receiver=_receiver())

baseline_flask = Flask("baseline_flask")
_flask_seen: dict[str, bytes] = {}


@baseline_flask.post("/suno/callback")
def _flask_view() -> Any:
    try:
        key, body = _verified(
            request.get_data(),
            request.headers.get("X-Webhook-Timestamp"),
            request.headers.get("X-Webhook-Signature"),
        )
    except PermissionError:
        return baseline_flask.response_class(FORGED, status=401, mimetype="application/json")
    answer = ANSWERS[_remember(_flask_seen, key, body)]
    return baseline_flask.response_class(answer, mimetype="application/json")


# -- raw WSGI ---------------------------------------------------------------------------------

suno_wsgi = wsgi_app(_receiver())
_wsgi_seen: dict[str, bytes] = {}


def baseline_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A hand-written WSGI endpoint."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    try:
        key, body = _verified(
            environ["wsgi.input"].read(length),
            environ.get("HTTP_X_WEBHOOK_TIMESTAMP"),
            environ.get("HTTP_X_WEBHOOK_SIGNATURE"),
        )
        status, answer = "200 OK", ANSWERS[_remember(_wsgi_seen, key, body)]
    except PermissionError:
        status, answer = "401 Unauthorized", FORGED
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))]
    )
    return [answer]


# -- durable stores (built on first use) ------------------------------------------------------


def _sqlite_dir() -> Path:
    return Path(os.environ["SUNO_BENCH_SQLITE_DIR"])


def _durable_asgi(url: str) -> Any:
    """`asgi_app` on the store at `url`; at the server's shutdown (lifespan), the store's
    group-commit batch sizes go to `batches.json` in the run's directory."""
    receiver = _receiver(url, on_loop=True)
    app = asgi_app(receiver)

    def write_batch_sizes() -> None:
        sizes = getattr(receiver.store, "batch_sizes", None)
        if sizes is not None:
            found = {"claims": dict(sizes.claims), "finishes": dict(sizes.finishes)}
            (_sqlite_dir() / "batches.json").write_text(json.dumps(found))

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                write_batch_sizes()
            await send(message)

        return await app(scope, receive, sending)

    return counted


def _suno_asgi_sqlite() -> Any:
    return _durable_asgi(f"sqlite:///{_sqlite_dir() / 'suno.db'}")


def _baseline_asgi_sqlite() -> Any:
    """Verify + JSON + one `INSERT OR IGNORE` in its own transaction (WAL, synchronous=NORMAL,
    as the store's), on the loop."""
    conn = sqlite3.connect(_sqlite_dir() / "baseline.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, body BLOB)")

    async def insert(key: str, body: bytes) -> bool:
        cursor = conn.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, body))
        return cursor.rowcount == 1

    return raw_asgi_endpoint(insert)


def _suno_asgi_redis() -> Any:
    return _durable_asgi(os.environ["SUNO_BENCH_REDIS_URL"])


def _baseline_asgi_redis() -> Any:
    """Verify + JSON + one `SET key body NX` round trip (redis-py's asyncio client)."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(os.environ["SUNO_BENCH_REDIS_URL"])

    async def set_nx(key: str, body: bytes) -> bool:
        return bool(await client.set(f"seen:{key}", body, nx=True))

    return raw_asgi_endpoint(set_nx)


def _suno_asgi_postgres() -> Any:
    return _durable_asgi(os.environ["SUNO_BENCH_POSTGRES_URL"])


def _baseline_asgi_postgres() -> Any:
    """Verify + JSON + one `INSERT ... ON CONFLICT DO NOTHING` in its own transaction
    (autocommit), on one of 10 psycopg async connections opened at the first request."""
    import asyncio

    import psycopg

    url = os.environ["SUNO_BENCH_POSTGRES_URL"]
    idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    opened: list[psycopg.AsyncConnection[Any]] = []
    statement = "INSERT INTO seen VALUES (%s, %s) ON CONFLICT DO NOTHING"

    opening = asyncio.Lock()

    async def insert(key: str, body: bytes) -> bool:
        if not opened:
            async with opening:  # the first requests all wait for the table
                if not opened:
                    conns = [
                        await psycopg.AsyncConnection.connect(url, autocommit=True)
                        for _ in range(10)
                    ]
                    await conns[0].execute(
                        "CREATE TABLE IF NOT EXISTS seen (key text PRIMARY KEY, body bytea)"
                    )
                    for conn in conns:
                        idle.put_nowait(conn)
                    opened.extend(conns)
        conn = await idle.get()
        try:
            cursor = await conn.execute(statement, (key, body))
            return cursor.rowcount == 1
        finally:
            idle.put_nowait(conn)

    return raw_asgi_endpoint(insert)


_DURABLE = {
    "suno_asgi_postgres": _suno_asgi_postgres,
    "baseline_asgi_postgres": _baseline_asgi_postgres,
    "suno_asgi_sqlite": _suno_asgi_sqlite,
    "baseline_asgi_sqlite": _baseline_asgi_sqlite,
    "suno_asgi_redis": _suno_asgi_redis,
    "baseline_asgi_redis": _baseline_asgi_redis,
}


def __getattr__(name: str) -> Any:
    if name in _DURABLE:
        app = _DURABLE[name]()
        globals()[name] = app
        return app
    raise AttributeError(name)
