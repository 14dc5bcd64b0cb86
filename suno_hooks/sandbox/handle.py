"""The Python handle on a running sandbox (its control API over HTTP), and `serve_sandbox`, which
runs one under uvicorn in a background thread for tests and scripts (`serve_asgi` any app)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from ..errors import SunoHooksException
from .app import Sandbox
from .control import CONTROL_PREFIX
from .timing import Timing

__all__ = ["SandboxError", "SandboxHandle", "serve_asgi", "serve_sandbox"]


class SandboxError(SunoHooksException):
    """The sandbox refused a control request or a task did not settle in time."""


class SandboxHandle:
    """Talks to a sandbox at `url`: create tasks, list them and every callback attempt, wait
    for a task to settle, set scenarios. Tasks and attempts are the control API's JSON dicts."""

    def __init__(self, url: str, *, api_key: str = "sandbox-key", hmac_key: str | None = None):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.hmac_key = hmac_key
        self._http = httpx.Client(base_url=self.url, timeout=30)

    def __repr__(self) -> str:
        return f"SandboxHandle({self.url!r})"

    def close(self) -> None:
        """Close the handle's HTTP connections."""
        self._http.close()

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise SandboxError(f"{response.status_code}: {response.text[:300]}")
        return response.json()

    def create(self, path: str, body: dict[str, Any]) -> str:
        """POST a create request (`/api/v1/generate`, `/api/v1/jobs/createTask` …) with the
        handle's API key; return the new task id or raise `SandboxError` with Kie's answer."""
        answer = self._json(
            self._http.post(path, json=body, headers={"Authorization": f"Bearer {self.api_key}"})
        )
        if answer.get("code") != 200:
            raise SandboxError(f"{answer.get('code')}: {answer.get('msg')}")
        task_id: str = answer["data"]["taskId"]
        return task_id

    def poll(self, path: str, task_id: str) -> dict[str, Any]:
        """GET a polling endpoint for `task_id`; the whole answer (`code`, `msg`, `data`)."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        answer: dict[str, Any] = self._json(
            self._http.get(path, params={"taskId": task_id}, headers=headers)
        )
        return answer

    def tasks(self) -> list[dict[str, Any]]:
        """Every task, oldest first, each with its attempts."""
        found: list[dict[str, Any]] = self._json(self._http.get(f"{CONTROL_PREFIX}/tasks"))["tasks"]
        return found

    def task(self, task_id: str) -> dict[str, Any]:
        """One task with its plan, progress and attempts."""
        found: dict[str, Any] = self._json(self._http.get(f"{CONTROL_PREFIX}/tasks/{task_id}"))
        return found

    def attempts(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """Every callback attempt (of one task when given): stage, try, answer, latency."""
        params = {"task_id": task_id} if task_id else {}
        response = self._http.get(f"{CONTROL_PREFIX}/attempts", params=params)
        found: list[dict[str, Any]] = self._json(response)["attempts"]
        return found

    def wait(self, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Block until the task has settled (every callback sent or given up); return it."""
        response = self._http.get(
            f"{CONTROL_PREFIX}/tasks/{task_id}/wait",
            params={"timeout": timeout},
            timeout=timeout + 10,
        )
        if response.status_code == 408:
            raise SandboxError(f"task {task_id} did not settle within {timeout:g} s")
        found: dict[str, Any] = self._json(response)
        return found

    def media_requests(self) -> dict[str, int]:
        """How many times each media path (`/media/{task_id}/{name}`) was requested."""
        found: dict[str, int] = self._json(self._http.get(f"{CONTROL_PREFIX}/media"))["requests"]
        return found

    def set_scenarios(self, scenarios: Iterable[str], *, next_only: bool = False) -> None:
        """Scenarios for every new task, or (`next_only`) for the next task created only."""
        body = {"scenarios": list(scenarios), "next": next_only}
        self._json(self._http.put(f"{CONTROL_PREFIX}/scenarios", json=body))

    def reset(self) -> None:
        """Forget every task and the scenarios set through the control API."""
        self._json(self._http.post(f"{CONTROL_PREFIX}/reset"))


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_asgi(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a background thread (a free port when `port` is 0);
    yield its base URL (`http://127.0.0.1:PORT`) and stop the server on exit. Handy for the
    receiver side of a test against the sandbox."""
    import uvicorn

    port = port or _free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"suno-hooks-{port}", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SandboxError(f"the server could not start on {host}:{port}")
        thread.join(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@contextlib.contextmanager
def serve_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    hmac_key: str | None = None,
    api_key: str = "sandbox-key",
    timing: Timing | None = None,
    scenarios: Iterable[str] = (),
) -> Iterator[SandboxHandle]:
    """Run a sandbox under uvicorn in a background thread (a free port when `port` is 0);
    yield its handle and stop the server on exit."""
    sandbox = Sandbox(hmac_key=hmac_key, api_key=api_key, timing=timing, scenarios=scenarios)
    with serve_asgi(sandbox.app, host=host, port=port) as url:
        handle = SandboxHandle(url, api_key=api_key, hmac_key=hmac_key)
        try:
            yield handle
        finally:
            handle.close()
