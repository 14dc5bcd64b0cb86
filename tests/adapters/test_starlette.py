"""Starlette and FastAPI specifics: mounting, async receivers, URL names, acknowledge-first."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

from suno_hooks import Event, Receiver, task_completed
from suno_hooks.asgi import asgi_app
from suno_hooks.contrib.starlette import suno_routes
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback

from ..conftest import Calls, unverified_receiver
from ..support.adapters import ASGITestClient, starlette_app


async def post(app: Any, path: str, body: Any, method: str = "POST") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, content=encode(body))


async def test_async_receiver_is_awaited_with_the_receiver_as_sender():
    receiver = unverified_receiver(store=MemoryStore())
    seen: list[tuple[Any, Event]] = []

    async def save(sender: Any, event: Event, **extra: Any) -> None:
        await asyncio.sleep(0)
        seen.append((sender, event))

    with task_completed.connected_to(save, sender=receiver):
        reply = await post(starlette_app(receiver), "/suno/callback", make_callback())
        other = unverified_receiver(store=MemoryStore())
        await post(starlette_app(other), "/suno/callback", make_callback())
    assert reply.json() == {"status": "received"}
    assert len(seen) == 1 and seen[0][0] is receiver


async def test_fastapi_mount_and_router_extend(calls: Calls):
    receiver = unverified_receiver(store=MemoryStore())
    app = FastAPI()
    app.mount("/suno", Starlette(routes=suno_routes(receiver)))
    app.router.routes.append(
        Mount("/lyrics-hooks", routes=suno_routes(receiver, feature="lyrics"), name="lyrics")
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    assert (await post(app, "/suno/callback", make_callback())).json() == {"status": "received"}
    reply = await post(app, "/lyrics-hooks/callback", make_callback("lyrics", "error"))
    assert reply.json() == {"status": "received"}
    assert (await post(app, "/health", {}, method="GET")).json() == {"ok": "yes"}
    assert [e.kind for e in calls.events] == ["music", "lyrics"]
    assert app.url_path_for("lyrics:callback") == "/lyrics-hooks/callback"


async def test_routes_are_named_and_answer_with_and_without_a_slash(calls: Calls):
    app = starlette_app(unverified_receiver(store=MemoryStore()))
    assert app.url_path_for("suno_hooks:callback") == "/suno/callback"
    reply = await post(app, "/suno/callback/", make_callback())
    assert reply.status_code == 200 and reply.json() == {"status": "received"}
    wrong = await post(app, "/suno/callback", b"", method="GET")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"] == "method_not_allowed"
    assert calls.count == 1


def http_scope(path: str = "/suno/callback") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def run_until_answered(
    app: Any, body: bytes
) -> tuple[asyncio.Task[None], list[dict[str, Any]], asyncio.Event]:
    """Start one request; return its task once the full answer has been sent."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []
    answered = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    task = asyncio.create_task(app(http_scope(), receive, send))
    await asyncio.wait_for(answered.wait(), 5)
    return task, sent, answered


async def test_acknowledge_first_answers_before_a_slow_receiver_finishes():
    store = MemoryStore()
    receiver = unverified_receiver(store=store)
    released = asyncio.Event()
    finished: list[Event] = []

    async def slow(sender: Any, event: Event, **extra: Any) -> None:
        await released.wait()
        finished.append(event)

    apps = (
        starlette_app(receiver, acknowledge_first=True),
        asgi_app(receiver, acknowledge_first=True),
    )
    for app in apps:
        finished.clear()
        released.clear()
        body = make_callback()
        key = f"{body['data']['task_id']}:complete"
        with task_completed.connected_to(slow, sender=receiver):
            task, sent, _ = await run_until_answered(app, encode(body))
            assert sent[0]["status"] == 200 and sent[1]["body"] == b'{"status": "received"}'
            assert finished == []
            kept = store.get(key)
            assert kept is not None and kept.status == "processing"
            released.set()
            await asyncio.wait_for(task, 5)
        assert len(finished) == 1
        done = store.get(key)
        assert done is not None and done.status == "done"


async def test_acknowledge_first_failure_is_kept_failed_and_replay_fixes_it():
    store = MemoryStore()
    receiver = unverified_receiver(store=store)
    app = starlette_app(receiver, acknowledge_first=True)
    attempts: list[str] = []

    async def flaky(sender: Any, event: Event, **extra: Any) -> None:
        attempts.append(event.dedupe_key)
        if len(attempts) == 1:
            raise RuntimeError("queue unreachable")

    body = make_callback()
    key = f"{body['data']['task_id']}:complete"
    with task_completed.connected_to(flaky, sender=receiver):
        reply = await post(app, "/suno/callback", body)
        assert reply.status_code == 200 and reply.json() == {"status": "received"}
        kept = store.get(key)
        assert kept is not None and kept.status == "failed"
        assert "queue unreachable" in (kept.error or "")
        replayed = await receiver.areplay(key)
        assert replayed.body == {"status": "received"}
        assert (await post(app, "/suno/callback", body)).json() == {"status": "duplicate"}
    assert attempts == [key, key]
    done = store.get(key)
    assert done is not None and done.status == "done" and done.attempts == 2


async def test_acknowledge_first_rejects_exactly_like_the_normal_path(calls: Calls):
    receiver = Receiver(store=MemoryStore(), hmac_keys=["k"])
    client = ASGITestClient(starlette_app(receiver, acknowledge_first=True))
    reply = await client.apost(encode(make_callback()))
    assert reply.status == 401 and reply.body["error"] == "missing_signature"
    assert calls.count == 0
