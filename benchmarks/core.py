"""µs per callback through the core, against the floor and a peer library, in one run.

    .venv/bin/python benchmarks/core.py [--n 20000] [--repeat 5] [--in-flight 32]

Rows: the floor (HMAC check + `model_validate_json` of an equivalent pydantic model + a dict
insert), the full receiver path (signed two-track body, memory store, one no-op receiver), the
same on the async path with an async receiver and with a sync one (which runs in the
receiver's handler thread there: the difference is the cost of handing it over), both again
with `--in-flight` callbacks awaited together (as a server has them under load, so the handler
thread takes the sync receiver's calls back to back), a duplicate, a forged signature, a stale
timestamp, and standardwebhooks' verify+parse of a same-size body. The async rows run on uvloop
when it is installed, as under uvicorn. Each figure is the best of `--repeat` runs; ratios are
to the floor (the performance budget sets the targets) and to a new callback.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import logging
import sys
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.baseline import BaselineCallback
from suno_hooks import Receiver, task_completed
from suno_hooks.inbound import Headers, InboundRequest
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback, sign_headers

KEY = "whk_benchmark_key_0123456789abcdef"


def bodies(n: int) -> list[tuple[bytes, dict[str, str]]]:
    now = int(time.time())
    out = []
    for _ in range(n):
        raw = encode(make_callback("music", "complete"))
        out.append((raw, sign_headers(raw, KEY, now)))
    return out


def floor_path(samples: list[tuple[bytes, dict[str, str]]]) -> Callable[[int], None]:
    """The floor: HMAC check + `model_validate_json` of the baseline model + a dict insert."""
    key = KEY.encode()

    def run(count: int) -> None:
        seen: dict[str, bool] = {}
        for raw, headers in samples[:count]:
            body = BaselineCallback.model_validate_json(raw)
            message = f"{body.data.task_id}.{headers['X-Webhook-Timestamp']}".encode()
            expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())
            if not hmac.compare_digest(expected, headers["X-Webhook-Signature"].encode()):
                raise AssertionError("floor signature")
            seen[body.data.task_id] = True

    return run


def run_loop(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run `coroutine` on uvloop when it is installed (`bench` extra), as under uvicorn."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
        return
    uvloop.run(coroutine)


def measure(fn: Callable[[int], None], n: int, repeat: int) -> float:
    """Best µs per call over `repeat` runs of `n` calls (the least disturbed run)."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn(n)
        runs.append((time.perf_counter_ns() - start) / n / 1000)
    return min(runs)


def main() -> None:
    # The per-request log lines (INFO accepted, WARNING refused) go wherever the application
    # sends them; unconfigured, every refusal would be written to stderr inside the timing.
    logging.getLogger("suno_hooks").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--in-flight", type=int, default=32)
    args = parser.parse_args()
    n, repeat = args.n, args.repeat
    samples = bodies(n)
    floor = floor_path(samples)

    def noop(sender: Any, **kwargs: Any) -> None:
        return None

    requests = [(raw, Headers.of(headers)) for raw, headers in samples]

    def full_path(receiver: Receiver) -> Callable[[int], None]:
        def run(count: int) -> None:
            handle = receiver.handle
            for raw, headers in requests[:count]:
                outcome = handle(InboundRequest("POST", raw, headers))
                if outcome.status != 200:
                    raise AssertionError(outcome.body)

        return run

    def async_path(receiver: Receiver, in_flight: int = 1) -> Callable[[int], None]:
        async def one(raw: bytes, headers: Headers) -> None:
            outcome = await receiver.ahandle(InboundRequest("POST", raw, headers))
            if outcome.status != 200:
                raise AssertionError(outcome.body)

        async def drive(count: int) -> None:
            if in_flight == 1:
                for raw, headers in requests[:count]:
                    await one(raw, headers)
                return
            for start in range(0, count, in_flight):
                await asyncio.gather(*(one(*r) for r in requests[start : start + in_flight]))

        return lambda count: run_loop(drive(count))

    def in_flight(receiver: Receiver) -> Callable[[int], None]:
        return async_path(receiver, args.in_flight)

    async def async_noop(sender: Any, **kwargs: Any) -> None:
        return None

    def new_callbacks(path: Callable[[Receiver], Callable[[int], None]]) -> float:
        """Best µs per new callback, each run on a fresh store so every callback is new."""
        runs = []
        for _ in range(repeat):
            receiver = Receiver(hmac_keys=[KEY], store=MemoryStore(max_deliveries=n))
            runs.append(measure(path(receiver), n, 1))
        return min(runs)

    forged = [(raw, Headers.of({**h, "X-Webhook-Signature": "A" * 43 + "="})) for raw, h in samples]
    stale = [
        (raw, Headers.of(sign_headers(raw, KEY, int(time.time()) - 3600))) for raw, _ in samples
    ]

    def rejected(receiver: Receiver, reqs: list[tuple[bytes, Headers]]) -> Callable[[int], None]:
        def run(count: int) -> None:
            handle = receiver.handle
            for raw, headers in reqs[:count]:
                if handle(InboundRequest("POST", raw, headers)).status != 401:
                    raise AssertionError("not rejected")

        return run

    import standardwebhooks

    secret = base64.b64encode(b"x" * 24).decode()
    peer = standardwebhooks.Webhook(secret)
    peer_samples = []
    for i, (raw, _) in enumerate(samples):
        msg_id = f"msg_{i}"
        stamp = datetime.now()
        signature = peer.sign(msg_id, stamp, raw.decode())
        peer_samples.append(
            (
                raw,
                {
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(stamp.timestamp())),
                    "webhook-signature": signature,
                },
            )
        )

    def peer_verify(count: int) -> None:
        for raw, headers in peer_samples[:count]:
            peer.verify(raw, headers)

    rows: list[tuple[str, float]] = []
    floor_us = measure(floor, n, repeat)
    rows.append(("floor: HMAC + model_validate_json + dict insert", floor_us))

    with task_completed.connected_to(async_noop):
        async_us = new_callbacks(async_path)
        async_in_flight_us = new_callbacks(in_flight)
    with task_completed.connected_to(noop):
        accepted_us = new_callbacks(full_path)
        rows.append(("suno-hooks: new signed callback (memory store)", accepted_us))
        rows.append(("suno-hooks async: async receiver", async_us))
        rows.append(("suno-hooks async: sync receiver (handler thread)", new_callbacks(async_path)))
        flight = f"{args.in_flight} in flight"
        rows.append((f"suno-hooks async, {flight}: async receiver", async_in_flight_us))
        rows.append((f"suno-hooks async, {flight}: sync receiver", new_callbacks(in_flight)))

        receiver = Receiver(hmac_keys=[KEY], store=MemoryStore(max_deliveries=n))
        full_path(receiver)(n)
        rows.append(("suno-hooks: duplicate", measure(full_path(receiver), n, repeat)))
    rows.append(
        ("suno-hooks: forged signature (401)", measure(rejected(receiver, forged), n, repeat))
    )
    rows.append(
        ("suno-hooks: stale timestamp (401)", measure(rejected(receiver, stale), n, repeat))
    )
    rows.append(("peer: standardwebhooks verify+parse", measure(peer_verify, n, repeat)))

    print(f"{'path':<52} {'µs/callback':>12} {'× floor':>8} {'× new':>7}")
    for name, value in rows:
        print(f"{name:<52} {value:>12.2f} {value / floor_us:>8.2f} {value / accepted_us:>7.2f}")


if __name__ == "__main__":
    main()
