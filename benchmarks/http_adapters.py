"""Requests/s and p99 of each suno-hooks adapter against a hand-written endpoint in the same
framework, under real servers: uvicorn (1 worker) for ASGI, gunicorn (1 sync worker) for WSGI.

    pip install -e ".[bench]" && apt-get install wrk
    python benchmarks/http_adapters.py [--duration 10] [--connections 8] [--rounds 2]

The server runs on core 0, `wrk` on core 1 (`taskset`); every request is a new two-track
callback (the Lua script varies the task id). Needs `wrk` (apt-get install wrk) and `taskset`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from suno_hooks.testing import encode, make_callback  # noqa: E402

BIN = Path(sys.executable).parent
PLACEHOLDER = "TASKIDPLACEHOLDER"

# (label, server, app) pairs: each adapter followed by its baseline.
PAIRS = [
    ("raw ASGI", "uvicorn", "suno_asgi", "baseline_asgi"),
    ("Starlette", "uvicorn", "suno_starlette", "baseline_starlette"),
    ("Flask", "gunicorn", "suno_flask", "baseline_flask"),
    ("raw WSGI", "gunicorn", "suno_wsgi", "baseline_wsgi"),
]

LUA = """
local prefix = [==[{prefix}]==]
local suffix = [==[{suffix}]==]
local tag = "t"
local counter = 0
local headers = {{["Content-Type"] = "application/json"}}

function init(args)
  tag = args[1] .. math.random(1000000)
end

function request()
  counter = counter + 1
  return wrk.format("POST", "/suno/callback", headers, prefix .. tag .. "x" .. counter .. suffix)
end
"""


@dataclass
class Result:
    rps: float
    p99_ms: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lua_script(directory: Path) -> Path:
    body = encode(make_callback("music", "complete", task_id=PLACEHOLDER)).decode()
    prefix, suffix = body.split(PLACEHOLDER)
    path = directory / "callback.lua"
    path.write_text(LUA.format(prefix=prefix, suffix=suffix))
    return path


def server_command(server: str, app: str, port: int) -> list[str]:
    target = f"benchmarks.http_apps:{app}"
    if server == "uvicorn":
        return [
            str(BIN / "uvicorn"), target, "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
    return [
        str(BIN / "gunicorn"), target, "--bind", f"127.0.0.1:{port}", "--workers", "1",
        "--worker-class", "sync", "--log-level", "warning",
    ]  # fmt: skip


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def parse_latency(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure(server: str, app: str, script: Path, args: argparse.Namespace) -> Result:
    port = free_port()
    command = ["taskset", "-c", "0", *server_command(server, app, port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_ready(port, process)
        wrk = [
            "taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}", "--latency",
            "-s", str(script), f"http://127.0.0.1:{port}/suno/callback",
        ]  # fmt: skip
        subprocess.run(
            [*wrk[:6], "-d2s", *wrk[6:], "--", "warm" + uuid.uuid4().hex[:6]],
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [*wrk[:6], f"-d{args.duration}s", *wrk[6:], "--", uuid.uuid4().hex[:8]],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        process.terminate()
        process.wait(10)
    bad = [line for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    if bad:
        print(f"  warning: {app}: {'; '.join(b.strip() for b in bad)}", file=sys.stderr)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = parse_latency(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return Result(rps, p99)


def best(results: list[Result]) -> Result:
    return max(results, key=lambda r: r.rps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs; best is kept")
    parser.add_argument("--only", nargs="*", help="labels to run, e.g. Flask")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install wrk util-linux")
    try:
        import httptools  # noqa: F401

        http = "httptools"
    except ImportError:
        http = "h11"
    print(
        f"{args.duration}s x best of {args.rounds}, {args.connections} connections, "
        f"server on core 0 (uvicorn http={http}; gunicorn sync), wrk on core 1",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = lua_script(Path(tmp))
        for label, server, ours, baseline in PAIRS:
            if args.only and label not in args.only:
                continue
            runs: dict[str, list[Result]] = {ours: [], baseline: []}
            for _ in range(args.rounds):
                for app in (baseline, ours):
                    runs[app].append(measure(server, app, script, args))
            mine, base = best(runs[ours]), best(runs[baseline])
            rows.append((label, server, base, mine))
            print(
                f"  {label}: baseline {base.rps:,.0f} req/s, suno-hooks {mine.rps:,.0f} req/s",
                flush=True,
            )
    print()
    print(
        "| adapter | server | baseline req/s | suno-hooks req/s | ratio | "
        "baseline p99 ms | suno-hooks p99 ms | p99 ratio |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, server, base, mine in rows:
        print(
            f"| {label} | {server} | {base.rps:,.0f} | {mine.rps:,.0f} | "
            f"{mine.rps / base.rps:.2f} | {base.p99_ms:.2f} | {mine.p99_ms:.2f} | "
            f"{mine.p99_ms / base.p99_ms:.2f} |"
        )
    if args.json:
        print(
            json.dumps(
                [{"adapter": r[0], "baseline": vars(r[2]), "ours": vars(r[3])} for r in rows]
            )
        )


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
