"""Soak: a receiver under uvicorn fed new callbacks at half its measured capacity; the server's
RSS every few seconds. The memory store must level off once its bounds are reached.

    .venv/bin/python benchmarks/soak.py --store memory:// --duration 60 --every 5
    .venv/bin/python benchmarks/soak.py --store sqlite:///soak.db --duration 60 --every 5

Prints one table per store: elapsed seconds, requests sent, non-200 answers, RSS in MB.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from suno_hooks.testing import encode, make_callback

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _serve(store: str, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "suno_hooks.cli", "serve", "--port", str(port)]
    command += ["--store", store]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUNO_HOOKS_")}
    quiet = subprocess.DEVNULL
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=quiet, stderr=quiet)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"the server on port {port} did not come up")


class Feeder:
    """Posts a new callback (a fresh task id each time) at a fixed rate, or as fast as it can."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent = 0
        self.refused = 0
        self._ids = itertools.count()

    async def _post(self, client: httpx.AsyncClient) -> None:
        body = encode(make_callback(task_id=f"soak{next(self._ids):028d}"))
        try:
            reply = await client.post(self.url, content=body)
            ok = reply.status_code == 200
        except httpx.HTTPError:
            ok = False
        self.sent += 1
        self.refused += 0 if ok else 1

    async def flat_out(self, seconds: float, concurrency: int = 16) -> float:
        """Requests per second with `concurrency` senders for `seconds`."""
        end = time.monotonic() + seconds
        async with httpx.AsyncClient(timeout=10) as client:

            async def sender() -> None:
                while time.monotonic() < end:
                    await self._post(client)

            start, before = time.monotonic(), self.sent
            await asyncio.gather(*(sender() for _ in range(concurrency)))
            return (self.sent - before) / (time.monotonic() - start)

    async def paced(self, rate: float, seconds: float, on_tick: float, report: object) -> None:
        """Send `rate` requests per second for `seconds`, calling `report()` every `on_tick`."""
        start = time.monotonic()
        next_report = start + on_tick
        pending: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=64)) as client:
            for n in itertools.count():
                due = start + n / rate
                now = time.monotonic()
                if due - start > seconds:
                    break
                if due > now:
                    await asyncio.sleep(due - now)
                if time.monotonic() >= next_report:
                    report()  # type: ignore[operator]
                    next_report += on_tick
                task = asyncio.create_task(self._post(client))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.gather(*pending)
        report()  # type: ignore[operator]


def soak(store: str, duration: float, every: float, probe: float) -> None:
    port = _free_port()
    server = _serve(store, port)
    feeder = Feeder(f"http://127.0.0.1:{port}/suno/callback")
    try:
        capacity = asyncio.run(feeder.flat_out(probe))
        rate = max(1.0, capacity / 2)
        print(f"\n{store}: capacity {capacity:.0f} req/s, soaking at {rate:.0f} req/s")
        print("| s | sent | non-200 | RSS MB |\n|---:|---:|---:|---:|")
        started = time.monotonic()

        def report() -> None:
            elapsed = time.monotonic() - started
            rss = _rss_mb(server.pid)
            print(f"| {elapsed:.0f} | {feeder.sent} | {feeder.refused} | {rss:.1f} |", flush=True)

        asyncio.run(feeder.paced(rate, duration, every, report))
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="append", help="store URL (repeatable)")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--probe", type=float, default=5.0, help="seconds to measure capacity")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        stores = options.store or ["memory://", f"sqlite:///{scratch}/soak.db"]
        for store in stores:
            soak(store, options.duration, options.every, options.probe)


if __name__ == "__main__":
    main()
