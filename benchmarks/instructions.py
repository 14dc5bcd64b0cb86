"""Instructions per callback, counted by valgrind: repeatable when the machine is busy, unlike
wall-clock times. Needs `valgrind` (Debian package) and, for the Redis rows, `redis-server`.

    .venv/bin/python benchmarks/instructions.py [--n 2000] [--group core asgi sqlite redis]
    .venv/bin/python benchmarks/instructions.py --quick      # 200 per path: a smoke run

Each path runs twice under callgrind after the same set-up (N bodies made, and for `duplicate`
delivered once): once sending none of them, once sending all N; the difference divided by N is
the cost of one callback. Groups, each against its own floor:
- core: `Receiver.handle` (memory store, one no-op receiver) against HMAC + `model_validate_json`
  + a dict insert; a duplicate and a forged request.
- asgi: the ASGI app (memory store, one no-op async receiver) against the hand-written raw ASGI
  endpoint of `benchmarks/http_apps.py`, both driven in process by a fake server.
- sqlite: `SQLiteStore` claim + finish against one INSERT in its own transaction.
- redis: `RedisStore` claim + finish against one `SET NX`: this process's instructions only
  (the server's are not counted; its round trips are the same two against one).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GROUPS = {
    "core": ("floor", "new", "duplicate", "forged"),
    "asgi": ("asgi floor", "asgi app"),
    "sqlite": ("sqlite floor", "sqlite claim+finish"),
    "redis": ("redis floor", "redis claim+finish"),
}


def run_asgi(path: str, size: int, count: int) -> None:
    """The ASGI app or the hand-written endpoint, driven in process by a fake server."""
    import asyncio

    from benchmarks.http_apps import KEY, baseline_asgi, suno_asgi
    from suno_hooks.testing import encode, make_callback, sign_headers

    app = baseline_asgi if path == "asgi floor" else suno_asgi
    requests = []
    for _ in range(size):
        raw = encode(make_callback("music", "complete"))
        headers = [(k.lower().encode(), v.encode()) for k, v in sign_headers(raw, KEY).items()]
        headers.append((b"content-length", str(len(raw)).encode()))
        requests.append((raw, headers))

    async def drive() -> None:
        for raw, headers in requests[:count]:
            scope = {
                "type": "http", "method": "POST", "path": "/suno/callback", "headers": headers,
                "query_string": b"", "client": ("127.0.0.1", 5000),
            }  # fmt: skip
            message = {"type": "http.request", "body": raw, "more_body": False}

            async def receive(message: dict[str, object] = message) -> dict[str, object]:
                return message

            async def send(message: dict[str, object]) -> None:
                return None

            await app(scope, receive, send)

    asyncio.run(drive())


def run_store(path: str, size: int, count: int) -> None:
    """A store's claim + finish of new signed deliveries, or that store's one-write floor."""
    import os
    import sqlite3
    import tempfile
    import uuid

    import redis

    from benchmarks.stores import deliveries
    from suno_hooks.stores import RedisStore, SQLiteStore, Store

    directory = tempfile.mkdtemp()
    if path == "sqlite floor":
        conn = sqlite3.connect(f"{directory}/floor.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE floor (key TEXT PRIMARY KEY, body BLOB)")
        body = deliveries(1)[0][0].body
        for key in [uuid.uuid4().hex for _ in range(size)][:count]:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO floor VALUES (?, ?)", (key, body))
            conn.execute("COMMIT")
        return
    url = os.environ.get("SUNO_BENCH_REDIS_URL", "")
    if path == "redis floor":
        client = redis.Redis.from_url(url)
        client.ping()
        body = deliveries(1)[0][0].body
        for key in [f"floor:{uuid.uuid4().hex}" for _ in range(size)][:count]:
            client.set(key, body, nx=True)
        return
    store: Store
    if path == "sqlite claim+finish":
        store = SQLiteStore(f"{directory}/bench.db")
    else:
        store = RedisStore(url, prefix=f"bench{uuid.uuid4().hex[:6]}:")
    batch = deliveries(size + 1)
    store.claim(batch[-1][0], lease=60)  # the schema or the scripts, loaded once
    for delivery, guard in batch[:count]:
        claim = store.claim(delivery, lease=60, replay=guard)
        store.finish(delivery.key, token=claim.token)


def run_path(path: str, size: int, count: int) -> None:
    """The workload: set-up for `size` callbacks on `path`, then `count` of them through it."""
    import logging

    # Refusals log a WARNING each; unconfigured, it would be written to stderr in the count.
    logging.getLogger("suno_hooks").setLevel(logging.ERROR)
    if path.startswith("asgi"):
        run_asgi(path, size, count)
        return
    if path.startswith(("sqlite", "redis")):
        run_store(path, size, count)
        return
    import base64
    import hashlib
    import hmac

    from benchmarks.baseline import BaselineCallback
    from benchmarks.core import KEY, bodies
    from suno_hooks import Receiver, task_completed
    from suno_hooks.inbound import Headers, InboundRequest
    from suno_hooks.stores import MemoryStore

    samples = [(raw, Headers.of(headers)) for raw, headers in bodies(size)]
    task_completed.connect(lambda sender, **kwargs: None, weak=False)
    receiver = Receiver(hmac_keys=[KEY], store=MemoryStore(max_deliveries=len(samples) + 1))
    if path == "duplicate":
        for raw, headers in samples:
            receiver.handle(InboundRequest("POST", raw, headers))
    if path == "forged":
        samples = [
            (raw, Headers.of({**headers, "x-webhook-signature": "A" * 43 + "="}))
            for raw, headers in samples
        ]
    key = KEY.encode()
    seen: dict[str, bool] = {}
    for raw, headers in samples[:count]:
        if path == "floor":
            body = BaselineCallback.model_validate_json(raw)
            message = f"{body.data.task_id}.{headers['x-webhook-timestamp']}".encode()
            expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())
            hmac.compare_digest(expected, headers["x-webhook-signature"].encode())
            seen[body.data.task_id] = True
        else:
            receiver.handle(InboundRequest("POST", raw, headers))


def instructions(path: str, size: int, count: int) -> int:
    """Total instructions of one run of the workload under callgrind."""
    result = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--run",
            path,
            str(size),
            str(count),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no total:\n{result.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--group", nargs="*", choices=list(GROUPS), help="default: all")
    parser.add_argument("--quick", action="store_true", help="200 callbacks per path")
    parser.add_argument("--run", nargs=3, metavar=("PATH", "SIZE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_path(args.run[0], int(args.run[1]), int(args.run[2]))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    n = 200 if args.quick else args.n
    groups = args.group or list(GROUPS)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = None
        if "redis" in groups:
            from tests.support.services import RedisServer

            redis_server = RedisServer(Path(tmp) / "redis", persistent=False).start()
            os.environ["SUNO_BENCH_REDIS_URL"] = redis_server.url
        try:
            per_callback = {
                path: (instructions(path, n, n) - instructions(path, n, 0)) / n
                for group in groups
                for path in GROUPS[group]
            }
        finally:
            if redis_server is not None:
                redis_server.stop()
    print(f"{'path':<20} {'instructions/callback':>22} {'× floor':>8} {'× new':>7}")
    for group in groups:
        floor, new = (per_callback[path] for path in GROUPS[group][:2])
        for path in GROUPS[group]:
            value = per_callback[path]
            print(f"{path:<20} {value:>22,.0f} {value / floor:>8.2f} {value / new:>7.2f}")
    print(f"({n} callbacks per path, {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
