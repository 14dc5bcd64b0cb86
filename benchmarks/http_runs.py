"""Serve one app on core 0 and drive it with wrk on core 1: the part the HTTP benchmarks
(`http_adapters.py`, `handoff.py`) share.

Every request is a new, signed two-track callback POSTed to `/suno/callback`: the Lua script
reads a file of fresh task ids and their signatures, made for each run. A run starts its own
server (uvicorn, 1 worker, with uvloop and httptools — `uvicorn-h11` for the pure-Python loop
and parser — for ASGI; gunicorn, 1 sync worker, for WSGI), warms it up, measures
with `wrk --latency`, and stops it. Needs `wrk` and `taskset`.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from suno_hooks._security.signatures import compute_signature  # noqa: E402
from suno_hooks.testing import encode, make_callback  # noqa: E402

BIN = Path(sys.executable).parent
UVICORN = {"uvicorn": ("uvloop", "httptools"), "uvicorn-h11": ("asyncio", "h11")}
"""uvicorn as users deploy it (`uvicorn[standard]`), and with its pure-Python parts."""
PLACEHOLDER = "TASKIDPLACEHOLDER"
# Requests/s no server here reaches: each run's file holds duration x this many signed ids.
MAX_RPS = 30_000

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
class Run:
    """What wrk measured in one run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    problems: list[str] = field(default_factory=list)  # non-2xx answers, socket errors


def check_tools(*tools: str) -> None:
    for tool in ("wrk", "taskset", *tools):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install wrk util-linux redis-server")


def check_uvicorn_standard() -> None:
    """Stop with a clear message unless uvicorn's fast parts (`uvicorn[standard]`: uvloop and
    httptools, what users deploy) are installed: the `uvicorn` rows run on them."""
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        raise SystemExit('uvloop and httptools are needed: pip install -e ".[bench]"') from None


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


def signed_ids(directory: Path, count: int, key: str) -> Path:
    """A file of `count` fresh task ids, each with its signature under `key` at this time."""
    stamp = int(time.time())
    tag = uuid.uuid4().hex[:8]
    lines = [str(stamp)]
    for i in range(count):
        task_id = f"{tag}x{i}"
        lines.append(f"{task_id} {compute_signature(key, task_id, stamp)}")
    path = directory / f"ids-{tag}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def server_command(server: str, target: str, port: int) -> list[str]:
    """The command serving `target` ("module:app") with `server` ("uvicorn" or "gunicorn")."""
    if server in UVICORN:
        loop, http = UVICORN[server]
        return [
            str(BIN / "uvicorn"), target, "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1", "--log-level", "warning", "--no-access-log",
            "--loop", loop, "--http", http,
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
    server: str,
    target: str,
    script: Path,
    key: str,
    *,
    connections: int,
    duration: int,
    environ: dict[str, str],
    warm: int = 2,
) -> Run:
    """Start `server` on `target` (core 0), warm it up with wrk for `warm` seconds, then measure
    `duration` seconds at `connections` connections (core 1), and stop it."""
    port = free_port()
    command = ["taskset", "-c", "0", *server_command(server, target, port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, env=environ)
    directory = script.parent
    try:
        wait_ready(port, process)
        wrk = [
            "taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", "--latency",
            "-s", str(script), f"http://127.0.0.1:{port}/suno/callback",
        ]  # fmt: skip
        if warm > 0:
            ids = signed_ids(directory, warm * MAX_RPS, key)
            subprocess.run(
                [*wrk[:6], f"-d{warm}s", *wrk[6:], "--", str(ids)], check=True, capture_output=True
            )
        ids = signed_ids(directory, duration * MAX_RPS, key)
        out = subprocess.run(
            [*wrk[:6], f"-d{duration}s", *wrk[6:], "--", str(ids)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    problems = [
        line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line
    ]
    sent = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if sent > duration * MAX_RPS:
        problems.append(f"{sent} requests reused task ids (raise MAX_RPS)")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = parse_latency(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = parse_latency(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return Run(rps, p50, p99, sent, problems)
