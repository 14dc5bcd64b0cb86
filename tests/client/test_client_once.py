"""A create is never sent twice, a task Kie accepted is never lost to a store failure, and a
client that cannot fill `callBackUrl` refuses to start: over real sockets, both clients."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from suno_hooks import Receiver
from suno_hooks._security.tokens import TOKEN_PARAM
from suno_hooks.client import (
    ApiConnectionError,
    AsyncSunoClient,
    ServerError,
    SubmissionUncertain,
    Submitted,
    SunoClient,
)
from suno_hooks.errors import ConfigurationError
from suno_hooks.stores import SQLiteStore

from ..support.kie_stub import KieStub, kie
from ..support.services import free_port

__all__ = ["kie"]

KEY = "kie-secret-api-key-123"
GENERATE = "/api/v1/generate"
BASE = "https://app.example/suno/callback"
OK = (200, {"code": 200, "msg": "success", "data": {"taskId": "task-001"}})


class SilentKie:
    """A loopback HTTP server that reads each request whole, counts it, then either stalls
    without answering (`"stall"`) or resets the connection (`"reset"`); `"deaf"` counts each
    connection and reads nothing, so a large request stalls while it is being sent."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self.release = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.threads: list[threading.Thread] = []

    def serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.release.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self.answer, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def answer(self, conn: socket.socket) -> None:
        with conn:
            if self.behaviour == "deaf":
                self.requests.append(b"")
                self.release.wait(30)
                return
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + body)
            if self.behaviour == "reset":  # an RST once the request is in
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            self.release.wait(30)


@contextmanager
def silent_kie(behaviour: str) -> Iterator[SilentKie]:
    server = SilentKie(behaviour)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        thread.join(5)
        server.sock.close()
        for worker in server.threads:
            worker.join(5)


@pytest.fixture
def receiver(tmp_path: Path) -> Receiver:
    return Receiver(secret_key="s3cret", store=SQLiteStore(tmp_path / "tasks.db"))


async def create(kind: str, prompt: str = "x", **options: Any) -> Submitted:
    """`create` of a song on a new client of `kind` ("sync" or "async"), closed afterwards."""
    options.setdefault("backoff", 0)
    if kind == "sync":
        with SunoClient(KEY, **options) as client:
            return client.create("generate", context={"order": 7}, prompt=prompt)
    async with AsyncSunoClient(KEY, **options) as aclient:
        return await aclient.create("generate", context={"order": 7}, prompt=prompt)


async def record(kind: str, **options: Any) -> dict[str, Any]:
    """`record` of a lyrics task on a new client of `kind`, closed afterwards."""
    if kind == "sync":
        with SunoClient(KEY, backoff=0, **options) as client:
            return client.record("t1", "lyrics")
    async with AsyncSunoClient(KEY, backoff=0, **options) as aclient:
        return await aclient.record("t1", "lyrics")


BOTH = pytest.mark.parametrize("kind", ["sync", "async"])

# -- a create is sent once ------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("behaviour", ["stall", "reset"])
async def test_a_create_that_got_no_answer_is_sent_once_and_named(
    kind: str, behaviour: str, receiver: Receiver
):
    with silent_kie(behaviour) as server:
        options = {"receiver": receiver, "callback_base": BASE, "retries": 3}
        before = time.time()
        with pytest.raises(SubmissionUncertain) as raised:
            await create(kind, base_url=server.url, timeout=0.5, **options)
        assert len(server.requests) == 1
    error = raised.value
    assert isinstance(error, ApiConnectionError) and error.code == 0
    sent = error.submission
    assert sent is not None
    assert (sent.feature, sent.endpoint, sent.context) == ("generate", GENERATE, {"order": 7})
    assert before <= sent.sent_at <= time.time()
    assert sent.callback_url is not None and sent.callback_url.startswith(BASE)
    assert sent.callback_url.encode() in server.requests[0]
    token = parse_qs(urlsplit(sent.callback_url).query)[TOKEN_PARAM][0]
    assert sent.token_id and receiver.signer.read(token).token_id == sent.token_id  # type: ignore[union-attr]
    text = str(error) + repr(sent)
    assert KEY not in text and token not in text
    assert "generate" in text and GENERATE in text and sent.token_id in text
    assert receiver.store.tasks() == []  # type: ignore[attr-defined]


@BOTH
async def test_a_create_cut_off_while_sending_is_not_sent_again(kind: str):
    with silent_kie("deaf") as server:
        with pytest.raises(SubmissionUncertain, match="WriteTimeout") as raised:
            await create(kind, base_url=server.url, timeout=0.5, prompt="x" * (32 << 20))
        assert len(server.requests) == 1
    assert raised.value.submission is not None
    assert raised.value.submission.endpoint == GENERATE


@BOTH
async def test_a_refused_connection_is_tried_again(kind: str):
    attempts: list[str] = []

    def count(request: httpx.Request) -> None:
        attempts.append(request.url.path)

    async def acount(request: httpx.Request) -> None:
        count(request)

    hooks = {"request": [count if kind == "sync" else acount]}
    http: Any = (httpx.Client if kind == "sync" else httpx.AsyncClient)(event_hooks=hooks)
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ApiConnectionError) as raised:
        await create(kind, base_url=closed, retries=2, http=http)
    if kind == "sync":
        http.close()
    else:
        await http.aclose()
    assert attempts == [GENERATE] * 3
    assert type(raised.value) is ApiConnectionError
    assert raised.value.submission is not None and raised.value.submission.feature == "generate"


@BOTH
async def test_a_rate_limited_create_is_tried_again(kind: str, kie: KieStub):
    kie.script(GENERATE, (429, {"code": 429, "msg": "slow down"}), OK)
    submitted = await create(kind, base_url=kie.url, retries=2)
    assert submitted.task_id == "task-001" and len(kie.seen(GENERATE)) == 2


@BOTH
async def test_a_server_error_on_a_create_is_not_sent_again(kind: str, kie: KieStub):
    kie.script(GENERATE, (500, {"code": 500, "msg": "oops"}), OK)
    with pytest.raises(ServerError) as raised:
        await create(kind, base_url=kie.url, retries=2)
    assert len(kie.seen(GENERATE)) == 1
    assert raised.value.submission is not None
    assert raised.value.submission.endpoint == GENERATE


@BOTH
async def test_polling_still_retries_timeouts(kind: str):
    with silent_kie("stall") as server:
        with pytest.raises(ApiConnectionError) as raised:
            await record(kind, base_url=server.url, timeout=0.3, retries=1)
        assert len(server.requests) == 2
    assert not isinstance(raised.value, SubmissionUncertain)


# -- a task Kie accepted is returned even when the store fails ------------------------------------


@BOTH
async def test_a_store_failure_never_hides_the_task_id(
    kind: str, kie: KieStub, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    SQLiteStore(tmp_path / "tasks.db").close()
    store = SQLiteStore(tmp_path / "tasks.db", read_only=True)
    read_only = Receiver(secret_key="s3cret", store=store)
    kie.script(GENERATE, OK)
    with caplog.at_level(logging.WARNING, logger="suno_hooks"):
        submitted = await create(kind, base_url=kie.url, receiver=read_only, callback_base=BASE)
    assert (submitted.task_id, submitted.recorded) == ("task-001", False)
    assert len(kie.seen(GENERATE)) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "task-001" in errors[0].getMessage()
    assert all(KEY not in r.getMessage() for r in caplog.records)
    assert read_only.store.get_task("task-001") is None  # type: ignore[attr-defined]


@BOTH
async def test_a_store_that_recovers_records_the_task(kind: str, kie: KieStub, tmp_path: Path):
    class Flaky(SQLiteStore):
        failures = 1

        def expect(self, task: Any) -> bool:
            if Flaky.failures:
                Flaky.failures -= 1
                raise OSError("disk busy")
            return super().expect(task)

    flaky = Receiver(secret_key="s3cret", store=Flaky(tmp_path / "tasks.db"))
    kie.script(GENERATE, OK)
    submitted = await create(kind, base_url=kie.url, receiver=flaky, callback_base=BASE)
    assert submitted.recorded is True
    assert flaky.store.get_task("task-001") is not None  # type: ignore[attr-defined]


async def test_a_recorded_task_says_so(kie: KieStub, receiver: Receiver):
    kie.script(GENERATE, OK)
    submitted = await create("sync", base_url=kie.url, receiver=receiver, callback_base=BASE)
    assert submitted.recorded is True
    assert receiver.store.get_task("task-001") is not None  # type: ignore[attr-defined]


# -- a receiver needs a callback base -------------------------------------------------------------


@pytest.mark.parametrize("client_class", [SunoClient, AsyncSunoClient])
@pytest.mark.parametrize("base", [None, "", "app.example/suno/callback"])
def test_a_receiver_without_a_callback_base_is_refused_at_once(
    client_class: type[SunoClient], base: str | None, receiver: Receiver
):
    with pytest.raises(ConfigurationError, match="callback_base") as raised:
        client_class(KEY, receiver=receiver, callback_base=base)
    assert KEY not in str(raised.value)


@pytest.mark.parametrize("client_class", [SunoClient, AsyncSunoClient])
def test_a_polling_client_needs_no_receiver(client_class: type[SunoClient]):
    client = client_class(KEY)
    assert client.receiver is None
