"""µs per request of the raw ASGI apps of `http_adapters.py`, called in process: no server, no
socket, so a change to the request path shows in seconds and a profiler sees only our code.

    .venv-bench/bin/python benchmarks/asgi_in_process.py [--n 20000] [--repeat 3]
        [--concurrency 1] [--cold KB] [--profile]

Rows: the hand-written endpoint (verify + parse + dict dedupe), suno-hooks' `asgi_app` on a
store that keeps only the keys, and on `MemoryStore`. Each request is a new signed two-track
callback with the headers wrk sends; receive and send are plain coroutines. At concurrency 1
each request is awaited directly; above it they run as tasks, `--concurrency` at a time. The
loop is uvloop when it is installed (`bench` extra), as under uvicorn. Over HTTP each µs saved
here saves more, because the server's own work per request grows when the app is slower; the
ratios of `http_adapters.py` are the ones the performance budget sets.

`--cold KB` copies a buffer of that many KiB before each request (its own time is measured and
taken off), so each request starts with its caches cold, as it does under a server, where the
kernel's and the server's work in between evicts them. With `--cold 1024` the figures plus
uvicorn's own cost (about 17 µs here) matched the server CPU per request that
`http_adapters.py` measures; without it a change can look faster here and make no difference
there. `--profile` prints the cProfile of the suno-hooks row (cumulative, top 40).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import http_apps
from benchmarks.baseline import KEY
from benchmarks.http_runs import PLACEHOLDER
from suno_hooks._security.signatures import compute_signature
from suno_hooks.testing import encode, make_callback

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
ROWS = {
    "hand-written raw ASGI": "baseline_asgi",
    "suno-hooks asgi_app, keys only": "suno_asgi_keys_only",
    "suno-hooks asgi_app, MemoryStore": "suno_asgi",
}


def requests(count: int) -> list[tuple[dict[str, Any], bytes]]:
    """`count` (scope, body) pairs of new signed callbacks, as uvicorn would hand them over."""
    prefix, suffix = encode(make_callback("music", "complete", task_id=PLACEHOLDER)).split(
        PLACEHOLDER.encode()
    )
    stamp = str(int(time.time())).encode()
    made = []
    for _ in range(count):
        task_id = uuid.uuid4().hex
        body = prefix + task_id.encode() + suffix
        signature = compute_signature(KEY, task_id, stamp.decode()).encode()
        headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"x-webhook-timestamp", stamp),
            (b"x-webhook-signature", signature),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/suno/callback",
            "raw_path": b"/suno/callback",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        made.append((scope, body))
    return made


async def drive(
    app: App | None,
    batch: list[tuple[dict[str, Any], bytes]],
    concurrency: int,
    cold: tuple[bytearray, bytearray] | None = None,
) -> float:
    """Answer every request of `batch`, `concurrency` at a time, each after copying `cold`'s
    first buffer into its second when given; µs per request. Raises unless every answer is 200
    (with no `app`, only the copies are made)."""
    statuses: list[int] = []

    async def one(scope: dict[str, Any], body: bytes) -> None:
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive() -> dict[str, Any]:
            return message

        async def send(sent: dict[str, Any]) -> None:
            if sent["type"] == "http.response.start":
                statuses.append(sent["status"])

        if cold is not None:
            cold[1][:] = cold[0]
        if app is not None:
            await app(scope, receive, send)

    start = time.perf_counter()
    if concurrency == 1:  # no task per request: the app's own cost
        for scope, body in batch:
            await one(scope, body)
    else:
        for index in range(0, len(batch), concurrency):
            await asyncio.gather(*(one(s, b) for s, b in batch[index : index + concurrency]))
    elapsed = time.perf_counter() - start
    if app is not None and set(statuses) != {200}:
        raise AssertionError(f"answers other than 200: {set(statuses)}")
    return elapsed / len(batch) * 1e6


def run_loop(coroutine: Coroutine[Any, Any, float]) -> float:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--cold", type=int, default=0, metavar="KB")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    cold = (bytearray(args.cold * 1024), bytearray(args.cold * 1024)) if args.cold else None

    def best(app: App | None) -> float:
        runs = (drive(app, requests(args.n), args.concurrency, cold) for _ in range(args.repeat))
        return min(run_loop(run) for run in runs)

    copies = best(None) if cold is not None else 0.0
    results: dict[str, float] = {}
    for label, name in ROWS.items():
        app: App = getattr(http_apps, name)
        run_loop(drive(app, requests(2_000), args.concurrency))  # warm up
        results[label] = best(app) - copies
    floor = results["hand-written raw ASGI"]
    heading = f"app (concurrency {args.concurrency}{f', cold {args.cold} KiB' if cold else ''})"
    print(f"{heading:<40} {'µs/request':>11} {'×':>6}")
    for label, value in results.items():
        print(f"{label:<40} {value:>11.2f} {value / floor:>6.2f}")
    if args.profile:
        batch = requests(args.n)
        profile = cProfile.Profile()
        profile.enable()
        run_loop(drive(http_apps.suno_asgi, batch, args.concurrency))
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
