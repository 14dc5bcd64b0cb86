"""The control API under `/sandbox/`: list tasks and callback attempts, wait until a task has
settled, set scenarios for every task or for the next one, count media requests, reset."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .scenarios import SCENARIOS, parse_scenarios
from .validation import CreateError

if TYPE_CHECKING:
    from .app import Sandbox

__all__ = ["CONTROL_PREFIX", "control_routes"]

CONTROL_PREFIX = "/sandbox"
"""Where the control API is mounted: tasks, callback attempts, scenarios, reset."""
MAX_WAIT = 300.0


def _error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def _seconds(value: str | None, default: float) -> float:
    try:
        seconds = float(value) if value is not None else default
    except ValueError:
        return default
    return min(max(seconds, 0.0), MAX_WAIT) if seconds == seconds else default


def control_routes(sandbox: Sandbox) -> list[Route]:
    """The control routes of `sandbox`."""
    book = sandbox.book

    async def tasks(request: Request) -> JSONResponse:
        return JSONResponse({"tasks": [task.to_dict() for task in book.tasks.values()]})

    async def task(request: Request) -> JSONResponse:
        found = book.get(request.path_params["task_id"])
        if found is None:
            return _error(404, "not_found", "The sandbox created no task with this id.")
        return JSONResponse(found.to_dict())

    async def wait(request: Request) -> JSONResponse:
        found = book.get(request.path_params["task_id"])
        if found is None:
            return _error(404, "not_found", "The sandbox created no task with this id.")
        timeout = _seconds(request.query_params.get("timeout"), 10.0)
        try:
            await asyncio.wait_for(found.done.wait(), timeout)
        except asyncio.TimeoutError:
            return JSONResponse(
                {"error": "timeout", "detail": "The task has not settled yet."}
                | {"task": found.to_dict()},
                status_code=408,
            )
        return JSONResponse(found.to_dict())

    async def attempts(request: Request) -> JSONResponse:
        task_id = request.query_params.get("task_id")
        return JSONResponse({"attempts": [a.to_dict() for a in book.attempts(task_id)]})

    def scenario_state() -> dict[str, Any]:
        return {
            "scenarios": [str(s) for s in book.scenarios],
            "next": [str(s) for s in book.next_scenarios],
            "available": SCENARIOS,
        }

    async def scenarios(request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse(scenario_state())
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise CreateError(422, "The body must be a JSON object.")
            chosen = parse_scenarios(body.get("scenarios", []))
        except ValueError:
            return _error(400, "invalid_json", 'The body must be JSON: {"scenarios": [...]}.')
        except CreateError as exc:
            return _error(422, "invalid_scenario", exc.msg)
        if body.get("next"):
            book.next_scenarios = chosen
        else:
            book.scenarios = chosen
        return JSONResponse(scenario_state())

    async def media(request: Request) -> JSONResponse:
        return JSONResponse({"requests": dict(sandbox.media_requests)})

    async def reset(request: Request) -> JSONResponse:
        sandbox.reset()
        return JSONResponse({"status": "reset"})

    prefix = CONTROL_PREFIX
    return [
        Route(f"{prefix}/tasks", tasks, methods=["GET"]),
        Route(f"{prefix}/tasks/{{task_id}}", task, methods=["GET"]),
        Route(f"{prefix}/tasks/{{task_id}}/wait", wait, methods=["GET"]),
        Route(f"{prefix}/attempts", attempts, methods=["GET"]),
        Route(f"{prefix}/scenarios", scenarios, methods=["GET", "PUT", "POST"]),
        Route(f"{prefix}/media", media, methods=["GET"]),
        Route(f"{prefix}/reset", reset, methods=["POST"]),
    ]
