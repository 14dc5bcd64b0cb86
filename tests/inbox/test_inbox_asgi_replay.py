"""A replay from the ASGI inbox page runs async handlers on the serving loop, under a real
uvicorn: a handler that uses an object the application bound to its loop (a queue its consumer
waits on, made in the lifespan) succeeds on replay."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from suno_hooks import Event, Receiver, task_completed
from suno_hooks.contrib.starlette import inbox_routes, suno_routes
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.browser import asgi_server

pytestmark = pytest.mark.filterwarnings("ignore::suno_hooks.InsecureReceiverWarning")


class Shelf:
    """What the application keeps on its loop: a queue its consumer task waits on, made in the
    lifespan, and what the consumer took from it."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] | None = None
        self.shelved: list[str] = []
        self.broken = True


def make_app(receiver: Receiver, shelf: Shelf) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        shelf.queue = queue

        async def consume() -> None:
            while True:
                shelf.shelved.append(await queue.get())
                queue.task_done()

        consumer = asyncio.create_task(consume())
        yield
        consumer.cancel()

    return Starlette(
        routes=[
            Mount("/suno", routes=suno_routes(receiver)),
            Mount("/inbox", routes=inbox_routes(receiver, auth="ops:pw", secret_key="k" * 32)),
        ],
        lifespan=lifespan,
    )


def test_a_replay_from_the_page_awaits_async_handlers_on_the_serving_loop():
    receiver = unverified_receiver(store=MemoryStore())
    shelf = Shelf()

    async def shelve(sender: Any, event: Event, **extra: Any) -> None:
        assert shelf.queue is not None
        if shelf.broken:
            raise RuntimeError("the shelf is not ready")
        shelf.queue.put_nowait(event.task_id)
        # Waits for the consumer, on the application's loop (bounded, so a wrong loop fails).
        await asyncio.wait_for(shelf.queue.join(), 5)

    task_completed.connect(shelve, weak=False)
    try:
        with asgi_server(make_app(receiver, shelf), lifespan="on") as base:
            body = make_callback(task_id="a" * 32)
            answer = httpx.post(base + "/suno/callback", content=encode(body))
            assert answer.json() == {"status": "received"}
            key = "a" * 32 + ":complete"
            kept = receiver.store.get(key)
            assert kept is not None and kept.status == "failed"

            shelf.broken = False
            with httpx.Client(base_url=base, auth=("ops", "pw"), timeout=20) as page:
                form = page.get("/inbox/delivery", params={"key": key}).text
                fields = dict(
                    re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
                )
                replayed = page.post("/inbox/replay", data=fields)
            assert replayed.status_code == 303
            assert replayed.headers["location"].endswith("replayed=done")
            kept = receiver.store.get(key)
            assert kept is not None and kept.status == "done", kept and kept.error
            assert shelf.shelved == ["a" * 32]
    finally:
        task_completed.disconnect(shelve)
