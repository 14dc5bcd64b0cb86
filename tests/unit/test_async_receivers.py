"""On the async paths sync receivers run in a worker thread, async ones on the loop, in the
receivers' order (DESIGN §5): a blocking receiver never stalls the server's other requests."""

from __future__ import annotations

import asyncio
import contextvars
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from suno_hooks import Event, Receiver, callback_received, callback_rejected, task_completed
from suno_hooks.asgi import Receive, Scope, Send, SunoHooksASGIMiddleware, send_outcome
from suno_hooks.contrib.starlette import suno_routes
from suno_hooks.inbound import InboundRequest
from suno_hooks.outcome import Outcome
from suno_hooks.stores import DeliveryStatus, MemoryStore
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY, unverified_receiver

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


async def test_sync_in_a_thread_async_on_the_loop_in_order():
    receiver = unverified_receiver(store=MemoryStore())
    loop_thread = threading.get_ident()
    log: list[tuple[str, bool]] = []

    def sync(name: str) -> Any:
        def run(sender: Any, event: Event, **extra: Any) -> None:
            log.append((name, threading.get_ident() == loop_thread))

        return run

    def asynchronous(name: str) -> Any:
        async def run(sender: Any, event: Event, **extra: Any) -> None:
            await asyncio.sleep(0)
            log.append((name, threading.get_ident() == loop_thread))

        return run

    class CallableWithAsyncCall:
        async def __call__(self, sender: Any, event: Event, **extra: Any) -> None:
            log.append(("object", threading.get_ident() == loop_thread))

    def returns_awaitable(sender: Any, event: Event, **extra: Any) -> Any:
        async def later() -> None:
            log.append(("awaited", threading.get_ident() == loop_thread))

        return later()

    receivers = [
        (callback_received, sync("a"), ("a", False)),
        (callback_received, asynchronous("b"), ("b", True)),
        (callback_received, sync("c"), ("c", False)),
        (callback_received, returns_awaitable, ("awaited", True)),
        (callback_received, sync("d"), ("d", False)),
        (task_completed, CallableWithAsyncCall(), ("object", True)),
        (task_completed, sync("e"), ("e", False)),
    ]
    for signal, fn, _ in receivers:
        signal.connect(fn)
    try:
        # The receivers' order is the order blinker yields them in.
        order = [
            *callback_received.receivers_for(receiver),
            *task_completed.receivers_for(receiver),
        ]
        outcome = await receiver.handle_async(InboundRequest("POST", encode(make_callback())))
    finally:
        for signal, fn, _ in receivers:
            signal.disconnect(fn)
    assert outcome.body == {"status": "received"}
    expected = {id(fn): entry for _, fn, entry in receivers}
    assert log == [expected[id(fn)] for fn in order]


async def test_failures_in_the_thread_keep_the_delivery_failed_and_context_is_copied():
    store = MemoryStore()
    receiver = unverified_receiver(store=store)
    seen: list[str] = []

    def failing(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(request_id.get())
        raise RuntimeError("disk full")

    request_id.set("req-42")
    with callback_received.connected_to(failing):
        outcome = await receiver.handle_async(
            InboundRequest("POST", encode(make_callback(task_id="ctx1")))
        )
    assert outcome.body == {"status": "received"} and seen == ["req-42"]
    kept = store.get("ctx1:complete")
    assert kept is not None and kept.status is DeliveryStatus.FAILED
    assert kept.error is not None and "RuntimeError: disk full" in kept.error


async def test_rejection_monitors_sync_in_a_thread_async_awaited():
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=MemoryStore())
    loop_thread = threading.get_ident()
    log: list[tuple[str, str, bool]] = []

    def sync_monitor(sender: Any, error: str, **extra: Any) -> None:
        log.append(("sync", error, threading.get_ident() == loop_thread))

    async def async_monitor(sender: Any, error: str, **extra: Any) -> None:
        log.append(("async", error, threading.get_ident() == loop_thread))

    with (
        callback_rejected.connected_to(sync_monitor),
        callback_rejected.connected_to(async_monitor),
    ):
        order = list(callback_rejected.receivers_for(receiver))
        outcome = await receiver.handle_async(InboundRequest("POST", encode(make_callback())))
    assert outcome.status == 401
    expected = {
        id(sync_monitor): ("sync", "missing_signature", False),
        id(async_monitor): ("async", "missing_signature", True),
    }
    assert log == [expected[id(fn)] for fn in order]


def _ping_app() -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send_outcome(send, Outcome(200, {"status": "pong"}))

    return app


def starlette_app(receiver: Receiver) -> Any:
    async def ping(request: Any) -> PlainTextResponse:
        return PlainTextResponse("pong")

    return Starlette(routes=[Route("/ping", ping), Mount("/suno", routes=suno_routes(receiver))])


def raw_asgi_app(receiver: Receiver) -> Any:
    return SunoHooksASGIMiddleware(_ping_app(), receiver, path="/suno/callback")


@pytest.fixture
def serve() -> Iterator[Any]:
    """Serves apps under real uvicorn servers in threads: yields `start(app) -> base URL`."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Any) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(timeout=5) as client:
            for _ in range(500):
                try:
                    client.get(url + "/ping")
                    return url
                except httpx.TransportError:
                    threading.Event().wait(0.01)
        raise RuntimeError("the server did not start")

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("build", [starlette_app, raw_asgi_app], ids=["starlette", "asgi"])
def test_a_blocked_sync_receiver_does_not_stall_other_requests(serve: Any, build: Any):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=MemoryStore())
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()

    def blocking(sender: Any, event: Event, **extra: Any) -> None:
        entered.set()
        release.wait(timeout=10)
        finished.set()

    url = serve(build(receiver))
    body = encode(make_callback(task_id="blocking1"))
    with (
        callback_received.connected_to(blocking),
        httpx.Client(timeout=15) as client,
        ThreadPoolExecutor(1) as pool,
    ):
        callback = pool.submit(
            client.post, url + "/suno/callback", content=body, headers=sign_headers(body, HMAC_KEY)
        )
        assert entered.wait(timeout=10)
        ping = client.get(url + "/ping")
        answered_while_blocked = not finished.is_set()
        release.set()
        reply = callback.result(timeout=15)
    assert ping.status_code == 200
    assert answered_while_blocked
    assert reply.status_code == 200 and reply.json() == {"status": "received"}
