"""Shared by the fault tests: a sender that retries like Kie, the dispatch log every server
process appends to, the tally of dispatched, lost and doubled callbacks, and the receiver
servers (gunicorn, uvicorn) that run `tests/support/fault_app.py`.

A handler of a task whose id starts with `pause` tells the test its process id through a FIFO
and waits for a line on another FIFO: the test kills the worker there, or lets it go on after
arranging a fault (see `tests/support/fault_handlers.py`)."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from suno_hooks.sandbox import Timing
from suno_hooks.testing import encode, make_callback, sign_headers

from .services import free_port, running

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HMAC_KEY = "whk_fault_key"
PAUSE_PREFIX = "pause"
KIE_TIMING = Timing(timeout=10.0, backoff=0.01, attempts=3)
"""Kie's retry shape (3 attempts, doubling backoff, an answer timeout) at test speed."""


class DispatchLog:
    """One line per handler run (the dedupe key), appended by any process: lines from several
    processes never interleave (one short O_APPEND write each)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def record(self, key: str) -> None:
        """Note that a handler ran for `key`."""
        with open(self.path, "a", encoding="utf-8") as log:
            log.write(key + "\n")

    def runs(self) -> Counter[str]:
        """How many times a handler ran for each key."""
        if not self.path.exists():
            return Counter()
        return Counter(self.path.read_text(encoding="utf-8").split())


@dataclass(frozen=True)
class Tally:
    """What happened to the callbacks a test sent (other keys in the log are not counted):
    `dispatched` counts the expected keys whose handler ran, `lost` lists those that never
    ran, `doubled` those that ran more than once (a key in `rerun` may run exactly twice: its
    first run was answered 503, so the sender was told to send it again)."""

    expected: frozenset[str]
    runs: Counter[str]
    rerun: frozenset[str] = frozenset()

    @property
    def dispatched(self) -> int:
        return sum(1 for key in self.expected if self.runs[key] > 0)

    @property
    def lost(self) -> list[str]:
        return sorted(key for key in self.expected if self.runs[key] == 0)

    @property
    def doubled(self) -> list[str]:
        return sorted(
            key
            for key in self.expected
            if self.runs[key] > 1 and not (key in self.rerun and self.runs[key] == 2)
        )

    def counts(self) -> dict[str, int]:
        """dispatched, lost and doubled as numbers, for one assertion."""
        return {"dispatched": self.dispatched, "lost": len(self.lost), "doubled": len(self.doubled)}


def tally(log: DispatchLog, expected: Iterable[str], rerun: Iterable[str] = ()) -> Tally:
    """The tally of the keys `expected` against what `log` recorded."""
    return Tally(frozenset(expected), log.runs(), frozenset(rerun))


@dataclass
class Try:
    """One POST of a callback: the status and answer, or the transport error."""

    status: int | None
    answer: Any = None
    retry_after: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


@dataclass
class Sent:
    """Every try of one callback, and its dedupe key."""

    key: str
    tries: list[Try] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        """The receiver answered 2xx to one of the tries (Kie stops there)."""
        return any(t.ok for t in self.tries)

    @property
    def statuses(self) -> list[int | None]:
        return [t.status for t in self.tries]


AfterTry = Callable[[Sent, Try], None]


class KieSender:
    """POSTs signed callbacks as Kie does: a fresh signature per try, up to `timing.attempts`
    tries with doubling backoff while the answer is not 2xx or does not come in time.

    `after_try(sent, try)` runs after each try, before the backoff: a test drives its fault
    from there (end a spell once every callback was refused, release a lock, ...). With
    `chunk_size`, bodies go out chunked (no Content-Length)."""

    def __init__(
        self,
        url: str,
        *,
        hmac_key: str = HMAC_KEY,
        timing: Timing = KIE_TIMING,
        after_try: AfterTry | None = None,
        chunk_size: int | None = None,
    ) -> None:
        self.url = url
        self.chunk_size = chunk_size
        self.hmac_key = hmac_key
        self.timing = timing
        self.after_try = after_try
        self._client = httpx.Client(timeout=timing.timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KieSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, body: dict[str, Any]) -> Sent:
        """Deliver one callback, retrying like Kie; every try is kept."""
        data = body["data"]
        sent = Sent(f"{data['task_id']}:{data.get('callbackType', 'complete')}")
        raw = encode(body)
        for number in range(1, self.timing.attempts + 1):
            attempt = self._post(raw)
            sent.tries.append(attempt)
            if self.after_try is not None:
                self.after_try(sent, attempt)
            if attempt.ok:
                break
            if number < self.timing.attempts:
                time.sleep(self.timing.retry_delay(number))
        return sent

    def send_all(self, bodies: list[dict[str, Any]], *, concurrency: int = 4) -> list[Sent]:
        """Deliver every body, `concurrency` at a time; the results in the bodies' order."""
        with ThreadPoolExecutor(concurrency) as pool:
            return list(pool.map(self.send, bodies))

    def _post(self, raw: bytes) -> Try:
        try:
            headers = sign_headers(raw, self.hmac_key)
            content = raw if self.chunk_size is None else chunks(raw, self.chunk_size)
            reply = self._client.post(self.url, content=content, headers=headers)
        except httpx.TimeoutException:
            return Try(None, error="timeout")
        except httpx.HTTPError as exc:
            return Try(None, error=type(exc).__name__)
        try:
            answer: Any = reply.json()
        except ValueError:
            answer = reply.text[:200]
        return Try(reply.status_code, answer, reply.headers.get("retry-after"))


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """`data` in pieces of `size` bytes: httpx sends an iterator chunked."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def callbacks(prefix: str, count: int, stage: str = "complete") -> list[dict[str, Any]]:
    """`count` music callbacks at `stage` for tasks `prefix0`, `prefix1`, ..."""
    return [make_callback("music", stage, task_id=f"{prefix}{i}") for i in range(count)]


class Pause:
    """The two FIFOs a paused handler talks through: it writes its pid to `entered` and waits
    for a line on `resume`."""

    def __init__(self, directory: Path) -> None:
        self.entered = directory / "entered.fifo"
        self.resume = directory / "resume.fifo"
        for fifo in (self.entered, self.resume):
            if not fifo.exists():
                os.mkfifo(fifo, 0o666)

    def wait_entered(self) -> int:
        """Block until a paused handler announces itself; its worker's pid."""
        with open(self.entered, encoding="utf-8") as fifo:
            return int(fifo.readline())

    def release(self) -> None:
        """Let the paused handler go on."""
        with open(self.resume, "w", encoding="utf-8") as fifo:
            fifo.write("go\n")

    def env(self) -> dict[str, str]:
        return {"FAULT_PAUSE_ENTERED": str(self.entered), "FAULT_PAUSE_RESUME": str(self.resume)}


@dataclass
class FaultServer:
    """A receiver process under a real server: its callback URL and dispatch log."""

    url: str
    log: DispatchLog
    process: Any

    def get(self, path: str) -> Any:
        """GET a JSON path of the server (e.g. `/sizes`)."""
        base = self.url.rsplit("/suno/", 1)[0]
        return httpx.get(base + path, timeout=10).json()


def fault_env(directory: Path, store: str, **extra: str) -> dict[str, str]:
    """The environment `tests/support/fault_app.py` reads: store URL, dispatch log, key, extras."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAULT_", "DJANGO_"))}
    env.update(
        FAULT_STORE=store,
        FAULT_LOG=str(directory / "dispatched.log"),
        FAULT_HMAC=HMAC_KEY,
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


@contextmanager
def fault_server(
    server: str, app: str, env: dict[str, str], *, options: Iterable[str] = ()
) -> Iterator[FaultServer]:
    """`app` (a `module:object`) under `server` ("gunicorn": 2 sync workers, or "uvicorn") on
    a free loopback port, with `options` added to the command line."""
    port = free_port()
    if server == "gunicorn":
        command = [str(BIN / "gunicorn"), app, "-w", "2", "-b", f"127.0.0.1:{port}"]
    else:
        command = [str(BIN / "uvicorn"), app, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--log-level", "warning", *options]
    base = f"http://127.0.0.1:{port}"
    with running(command, base + "/", env=env, cwd=ROOT) as process:
        yield FaultServer(base + "/suno/callback", DispatchLog(env["FAULT_LOG"]), process)


def answers(sent: list[Sent]) -> Counter[str]:
    """How many tries got each answer (`200 received`, `503 store_unavailable`, `error`)."""
    seen: Counter[str] = Counter()
    for one in sent:
        for t in one.tries:
            body = t.answer if isinstance(t.answer, dict) else {}
            word = body.get("status") or body.get("error") or ""
            seen[f"{t.status} {word}" if t.status else t.error or "error"] += 1
    return seen


def dumps(sent: list[Sent]) -> str:
    """The tries of every callback, for an assertion message."""
    return json.dumps({s.key: [t.__dict__ for t in s.tries] for s in sent}, default=str)[:3000]


def raw_request(url: str, method: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send `method` byte for byte (httpx would upper-case it); the status and the body."""
    host, rest = url.removeprefix("http://").split(":", 1)
    port, path = rest.split("/", 1)
    head = f"{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status_line, _, rest_of_reply = reply.partition(b"\r\n")
    return int(status_line.split()[1]), rest_of_reply.partition(b"\r\n\r\n")[2]
