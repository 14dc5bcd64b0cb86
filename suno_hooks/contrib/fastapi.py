"""FastAPI: `app.include_router(suno_router(receiver))` serves `/suno/callback`, named
`suno_hooks:callback` for `url_for`, and closes the receiver's store when the app shuts down.

The endpoint is the raw ASGI one of `suno_hooks.contrib.starlette` (no request model, not in the
OpenAPI schema); async receivers are awaited.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Route

from ..receiver import Receiver
from .starlette import CallbackEndpoint, suno_lifespan

__all__ = ["suno_router"]


def suno_router(
    receiver: Receiver,
    *,
    prefix: str = "/suno",
    acknowledge_first: bool = False,
    feature: str | None = None,
) -> APIRouter:
    """A router serving `<prefix>/callback` (with and without the trailing slash, every method)
    whose lifespan closes the receiver's store on shutdown.

    `acknowledge_first` and `feature` are those of `suno_routes`.
    """
    endpoint = CallbackEndpoint(receiver, acknowledge_first=acknowledge_first, feature=feature)
    base = prefix.rstrip("/") + "/callback"
    router = APIRouter(lifespan=suno_lifespan(receiver))
    router.routes.append(Route(base, endpoint, name="suno_hooks:callback", include_in_schema=False))
    router.routes.append(
        Route(base + "/", endpoint, name="suno_hooks:callback_slash", include_in_schema=False)
    )
    return router
