"""`Sandbox`: the settings and state of one local Suno API, and its ASGI app (Starlette)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .api import api_routes
from .control import control_routes
from .media import media_routes
from .runner import run_task
from .scenarios import Scenario, parse_scenarios
from .sender import CallbackSender
from .tasks import Task, TaskBook
from .timing import Timing
from .validation import SpanRule

__all__ = ["Sandbox"]


class Sandbox:
    """A Kie-compatible Suno API that sends real callbacks; `app` is its ASGI application.

    `hmac_key` signs callbacks as Kie's `webhookHmacKey` does (unsigned when None); `api_key`
    is the only Bearer key accepted (any non-empty key when None); `scenarios` apply to every
    task (e.g. `["duplicate"]`)."""

    def __init__(
        self,
        *,
        hmac_key: str | None = None,
        api_key: str | None = None,
        timing: Timing | None = None,
        span: SpanRule | None = None,
        scenarios: Iterable[str] = (),
    ) -> None:
        self.hmac_key = hmac_key or None
        self.api_key = api_key or None
        self.timing = timing or Timing.fast()
        self.span = span or SpanRule()
        self.book = TaskBook()
        self.initial_scenarios = parse_scenarios(list(scenarios))
        self.book.scenarios = self.initial_scenarios
        self.sender: CallbackSender | None = None
        self.running: set[asyncio.Task[None]] = set()
        self.media_requests: Counter[str] = Counter()
        self.app = Starlette(
            routes=[*api_routes(self), *control_routes(self), *media_routes(self)],
            exception_handlers={HTTPException: _kie_http_error},
            lifespan=self._lifespan,
        )

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        """The scenarios applied to every new task."""
        return self.book.scenarios

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            self.sender = CallbackSender(client, self.book, self.timing, self.hmac_key)
            try:
                yield
            finally:
                for running in list(self.running):
                    running.cancel()
                await asyncio.gather(*self.running, return_exceptions=True)
                self.sender = None

    def start(self, task: Task) -> None:
        """Keep `task` and run its steps in the background."""
        if self.sender is None:
            raise RuntimeError("The sandbox app must run under an ASGI server with lifespan on.")
        self.book.add(task)
        running = asyncio.get_running_loop().create_task(run_task(task, self.sender))
        self.running.add(running)
        running.add_done_callback(self.running.discard)

    def reset(self) -> None:
        """Forget every task and the scenarios set by the control API (running tasks finish)."""
        self.book.clear()
        self.media_requests.clear()
        self.book.scenarios = self.initial_scenarios


async def _kie_http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "Not found.", 405: "Method not allowed."}.get(status, "Bad request.")
    return JSONResponse({"code": status, "msg": message, "data": None}, status_code=status)
