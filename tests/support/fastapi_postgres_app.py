"""A FastAPI app on the PostgreSQL store for the end-to-end test, run by uvicorn with several
workers: `SUNO_HOOKS_STORE`, `SUNO_HOOKS_SECRET_KEY` and `DISPATCH_LOG` come from the test."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette

from suno_hooks import Event, Receiver, callback_received
from suno_hooks.contrib.starlette import suno_routes

receiver = Receiver.from_env()
app = FastAPI()
app.mount("/suno", Starlette(routes=suno_routes(receiver)))


@app.get("/health")
async def health() -> dict[str, str]:
    """Answers once the worker is up."""
    return {"ok": "yes"}


@callback_received.connect_via(receiver)
def record(sender: Any, event: Event, **extra: Any) -> None:
    """One short O_APPEND line per dispatch: lines from several workers never interleave."""
    with open(os.environ["DISPATCH_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{event.dedupe_key} {(event.context or {}).get('user')}\n")
