"""FastAPI and Starlette apps as the README writes them: route names for `url_for`, a signed
callback delivered, and the store closed in the app's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from starlette.applications import Starlette
from starlette.routing import Mount

from suno_hooks import Receiver
from suno_hooks.contrib.fastapi import suno_router
from suno_hooks.contrib.starlette import suno_lifespan, suno_routes
from suno_hooks.stores import SQLiteStore
from suno_hooks.testing import CapturedEvents, encode, make_callback, sign_headers

from ..conftest import HMAC_KEY, SECRET
from ..support.snippet_checks import lifespan


def receiver_over(tmp_path: Path) -> tuple[Receiver, SQLiteStore]:
    store = SQLiteStore(tmp_path / "inbox.db")
    return Receiver(hmac_keys=[HMAC_KEY], secret_key=SECRET, store=store), store


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The app started and stopped through its ASGI lifespan, as a server runs it, with a client."""
    async with lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def deliver(client: httpx.AsyncClient, url: str, task_id: str) -> Any:
    parts = urlsplit(url)
    body = encode(make_callback(task_id=task_id))
    target = f"{parts.path}?{parts.query}"
    answer = await client.post(target, content=body, headers=sign_headers(body, HMAC_KEY))
    return answer.json()


async def test_include_router_names_the_route_and_closes_the_store(
    tmp_path: Path, suno_events: CapturedEvents
):
    receiver, store = receiver_over(tmp_path)
    app = FastAPI()
    app.include_router(suno_router(receiver))

    @app.post("/songs/{song_id}/replace-section")
    def replace_section(song_id: int, request: Request) -> dict[str, str]:
        base = str(request.url_for("suno_hooks:callback"))
        return {"callBackUrl": receiver.callback_url(base, context={"song": song_id})}

    async with serving(app) as client:
        url = (await client.post("/songs/7/replace-section")).json()["callBackUrl"]
        assert url.startswith("http://testserver/suno/callback?token=")
        assert await deliver(client, url, "fastapi-task") == {"status": "received"}
        assert store.pool.idle() > 0, "the store is open while the app runs"
        assert "/suno/callback" not in (await client.get("/openapi.json")).json()["paths"]
    assert store.pool.idle() == 0
    assert [(e.task_id, e.context) for e in suno_events] == [("fastapi-task", {"song": 7})]


def test_a_mounted_fastapi_sub_app_is_named_by_its_mount(tmp_path: Path):
    receiver, _ = receiver_over(tmp_path)
    app = FastAPI()
    app.mount("/suno", Starlette(routes=suno_routes(receiver)), name="suno_hooks")
    assert app.url_path_for("suno_hooks:callback") == "/suno/callback"


async def test_starlette_lifespan_closes_the_store_around_the_apps_own(tmp_path: Path):
    receiver, store = receiver_over(tmp_path)
    seen: list[str] = []

    @asynccontextmanager
    async def own(app: Any) -> AsyncIterator[dict[str, str]]:
        seen.append("start")
        yield {"ready": "yes"}
        seen.append("stop")

    app = Starlette(
        routes=[Mount("/suno", routes=suno_routes(receiver), name="suno_hooks")],
        lifespan=suno_lifespan(receiver, own),
    )
    async with serving(app) as client:
        url = receiver.callback_url("http://testserver/suno/callback")
        assert await deliver(client, url, "starlette-task") == {"status": "received"}
        assert store.pool.idle() > 0
    assert seen == ["start", "stop"] and store.pool.idle() == 0
