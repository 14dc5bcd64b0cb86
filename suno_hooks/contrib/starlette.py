"""Starlette / FastAPI: `suno_routes(receiver)` serves `/callback` wherever it is mounted.

    app = Starlette(
        routes=[Mount("/suno", routes=suno_routes(receiver), name="suno_hooks")],
        lifespan=suno_lifespan(receiver),
    )

The endpoint is raw ASGI (no `Request` object is built); async receivers are awaited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.routing import BaseRoute, Route

from ..asgi import Receive, Scope, Send, answer_callback, close_store
from ..receiver import Receiver
from .starlette_inbox import inbox_routes

__all__ = ["CallbackEndpoint", "inbox_routes", "suno_lifespan", "suno_routes"]

Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


class CallbackEndpoint:
    """The ASGI endpoint answering callbacks for one receiver."""

    def __init__(
        self, receiver: Receiver, *, acknowledge_first: bool = False, feature: str | None = None
    ) -> None:
        self.receiver = receiver
        self.acknowledge_first = acknowledge_first
        self.feature = feature

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await answer_callback(
            self.receiver,
            scope,
            receive,
            send,
            acknowledge_first=self.acknowledge_first,
            feature=self.feature,
        )


def suno_routes(
    receiver: Receiver,
    *,
    acknowledge_first: bool = False,
    feature: str | None = None,
    path: str = "/callback",
) -> list[BaseRoute]:
    """Routes serving `path` (with and without a trailing slash, every method: a wrong one gets
    the receiver's JSON 405) relative to their mount; the route is named `callback`.

    `acknowledge_first` answers 200 once the delivery is stored and runs the receivers after
    the answer is sent; `feature` names the feature every callback on these routes is for.
    """
    endpoint = CallbackEndpoint(receiver, acknowledge_first=acknowledge_first, feature=feature)
    bare = path.rstrip("/") or "/"
    return [
        Route(bare, endpoint, name="callback"),
        Route(bare + "/", endpoint, name="callback_slash"),
    ]


def suno_lifespan(
    receiver: Receiver, app_lifespan: Lifespan | None = None
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """An app lifespan that closes the receiver's store on shutdown, around the app's own
    `app_lifespan` when given: `Starlette(..., lifespan=suno_lifespan(receiver))`."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        try:
            if app_lifespan is None:
                yield None
            else:
                async with app_lifespan(app) as state:
                    yield state
        finally:
            await close_store(receiver)

    return lifespan
