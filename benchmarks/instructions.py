"""Instructions per callback through the core, counted by valgrind: repeatable when the machine
is busy, unlike wall-clock times. Needs `valgrind` (Debian package).

    .venv/bin/python benchmarks/instructions.py [--n 2000]

Each path runs twice under callgrind after the same set-up (N bodies made, and for `duplicate`
delivered once): once sending none of them, once sending all N; the difference divided by N is
the cost of one callback.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATHS = ("floor", "new", "duplicate", "forged")


def run_path(path: str, size: int, count: int) -> None:
    """The workload: set-up for `size` callbacks on `path`, then `count` of them through it."""
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
    parser.add_argument("--run", nargs=3, metavar=("PATH", "SIZE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_path(args.run[0], int(args.run[1]), int(args.run[2]))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    started = time.monotonic()
    per_callback = {
        path: (instructions(path, args.n, args.n) - instructions(path, args.n, 0)) / args.n
        for path in PATHS
    }
    floor, new = per_callback["floor"], per_callback["new"]
    print(f"{'path':<12} {'instructions/callback':>22} {'× floor':>8} {'× new':>7}")
    for path, value in per_callback.items():
        print(f"{path:<12} {value:>22,.0f} {value / floor:>8.2f} {value / new:>7.2f}")
    print(f"({args.n} callbacks per path, {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
