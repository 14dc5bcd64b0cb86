"""Requests/s and p99 of each suno-hooks adapter against a hand-written endpoint in the same
framework, under real servers: uvicorn (1 worker) for ASGI, gunicorn (1 sync worker) for WSGI;
the ASGI app on `sqlite://` and `redis://` against raw ASGI endpoints doing one write.

    pip install -e ".[bench]" && apt-get install wrk
    python benchmarks/http_adapters.py [--duration 10] [--connections 8] [--rounds 2]
    python benchmarks/http_adapters.py --quick      # every row once, 2 s each: a smoke run

The server runs on core 0, `wrk` on core 1 (`taskset`); every request is a new, signed
two-track callback (the Lua script reads a file of fresh task ids and their signatures, made
for each run). Starts its own redis-server (no persistence) for the Redis row. Needs `wrk`
(apt-get install wrk), `taskset` and `redis-server`.
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

from benchmarks.http_apps import KEY  # noqa: E402
from suno_hooks._security.signatures import compute_signature  # noqa: E402
from suno_hooks.testing import encode, make_callback  # noqa: E402
from tests.support.services import RedisServer  # noqa: E402

BIN = Path(sys.executable).parent
PLACEHOLDER = "TASKIDPLACEHOLDER"

# (label, server, app) pairs: each adapter followed by its baseline.
PAIRS = [
    ("raw ASGI", "uvicorn", "suno_asgi", "baseline_asgi"),
    # Reference: the same app on a store that keeps only the keys (what MemoryStore's inbox,
    # replay guard, stale check and lease cost is the difference from the row above).
    ("raw ASGI, keys only", "uvicorn", "suno_asgi_keys_only", "baseline_asgi"),
    ("Starlette", "uvicorn", "suno_starlette", "baseline_starlette"),
    ("Flask", "gunicorn", "suno_flask", "baseline_flask"),
    ("raw WSGI", "gunicorn", "suno_wsgi", "baseline_wsgi"),
    ("ASGI sqlite://", "uvicorn", "suno_asgi_sqlite", "baseline_asgi_sqlite"),
    ("ASGI redis://", "uvicorn", "suno_asgi_redis", "baseline_asgi_redis"),
]
# Requests/s no server here reaches: each run's file holds duration x this many signed ids.
MAX_RPS = 15_000

LUA = """
local prefix = [==[{prefix}]==]
local suffix = [==[{suffix}]==]
local ids = {{}}
local signatures = {{}}
local stamp = ""
local counter = 0

function init(args)
  local file = io.open(args[1])
  stamp = file:read("*l")
  for line in file:lines() do
    local space = line:find(" ")
    ids[#ids + 1] = line:sub(1, space - 1)
    signatures[#signatures + 1] = line:sub(space + 1)
  end
  file:close()
end

function request()
  counter = counter + 1
  local i = (counter - 1) % #ids + 1
  local headers = {{
    ["Content-Type"] = "application/json",
    ["X-Webhook-Timestamp"] = stamp,
    ["X-Webhook-Signature"] = signatures[i],
  }}
  return wrk.format("POST", "/suno/callback", headers, prefix .. ids[i] .. suffix)
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


def signed_ids(directory: Path, count: int) -> Path:
    """A file of `count` fresh task ids, each with its signature at the current time."""
    stamp = int(time.time())
    tag = uuid.uuid4().hex[:8]
    lines = [str(stamp)]
    for i in range(count):
        task_id = f"{tag}x{i}"
        lines.append(f"{task_id} {compute_signature(KEY, task_id, stamp)}")
    path = directory / f"ids-{tag}.txt"
    path.write_text("\n".join(lines) + "\n")
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


def measure(
    server: str, app: str, script: Path, args: argparse.Namespace, environ: dict[str, str]
) -> Result:
    port = free_port()
    command = ["taskset", "-c", "0", *server_command(server, app, port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, env=environ)
    directory = script.parent
    try:
        wait_ready(port, process)
        wrk = [
            "taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}", "--latency",
            "-s", str(script), f"http://127.0.0.1:{port}/suno/callback",
        ]  # fmt: skip
        warm = signed_ids(directory, 2 * MAX_RPS)
        subprocess.run(
            [*wrk[:6], "-d2s", *wrk[6:], "--", str(warm)], check=True, capture_output=True
        )
        ids = signed_ids(directory, args.duration * MAX_RPS)
        out = subprocess.run(
            [*wrk[:6], f"-d{args.duration}s", *wrk[6:], "--", str(ids)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        process.terminate()
        process.wait(10)
    bad = [line for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    sent = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if sent > args.duration * MAX_RPS:
        bad.append(f"{sent} requests reused task ids (raise MAX_RPS)")
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
    parser.add_argument("--quick", action="store_true", help="2 s per run, one round (smoke)")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds = 2, 1
    for tool in ("wrk", "taskset", "redis-server"):
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
    pairs = [pair for pair in PAIRS if not args.only or pair[0] in args.only]
    with tempfile.TemporaryDirectory() as tmp:
        script = lua_script(Path(tmp))
        redis_server = None
        if any("redis" in pair[2] for pair in pairs):
            redis_server = RedisServer(Path(tmp) / "redis", persistent=False).start()
        try:
            for row, (label, server, ours, baseline) in enumerate(pairs):
                runs: dict[str, list[Result]] = {ours: [], baseline: []}
                for round_number in range(args.rounds):
                    for app in (baseline, ours):
                        environ = dict(os.environ)
                        sqlite_dir = Path(tmp) / f"{row}-{app}-{round_number}"
                        sqlite_dir.mkdir()
                        environ["SUNO_BENCH_SQLITE_DIR"] = str(sqlite_dir)
                        if redis_server is not None:
                            environ["SUNO_BENCH_REDIS_URL"] = redis_server.url
                        runs[app].append(measure(server, app, script, args, environ))
                mine, base = best(runs[ours]), best(runs[baseline])
                rows.append((label, server, base, mine))
                print(
                    f"  {label}: baseline {base.rps:,.0f} req/s, suno-hooks {mine.rps:,.0f} req/s",
                    flush=True,
                )
        finally:
            if redis_server is not None:
                redis_server.stop()
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
