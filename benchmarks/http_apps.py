"""The servers `benchmarks/http_adapters.py` compares: each suno-hooks adapter and a hand-written
endpoint in the same framework doing the same work (read the body, validate an equivalent
pydantic model, insert into a dict, answer `{"status": "received"}`).

Receivers run with `require="none"` (the load generator cannot sign) and a memory store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from benchmarks.baseline import BaselineCallback
from suno_hooks import Event, MemoryStore, Receiver, task_completed
from suno_hooks.asgi import asgi_app
from suno_hooks.contrib.flask import SunoHooks
from suno_hooks.contrib.starlette import suno_routes
from suno_hooks.wsgi import wsgi_app

logging.getLogger("suno_hooks").setLevel(logging.ERROR)

ANSWER = b'{"status": "received"}'


def _receiver() -> Receiver:
    receiver = Receiver(require="none", store=MemoryStore())

    @task_completed.connect_via(receiver, weak=False)
    def no_op(sender: Any, event: Event, **extra: Any) -> None:
        return None

    return receiver


def _remember(seen: dict[str, bytes], body: bytes) -> None:
    """Validate, then keep the raw body under its dedupe key (as an inbox does)."""
    callback = BaselineCallback.model_validate_json(body)
    seen[f"{callback.data.task_id}:{callback.data.callbackType}"] = body


# -- raw ASGI ---------------------------------------------------------------------------------

suno_asgi = asgi_app(_receiver())

_asgi_seen: dict[str, bytes] = {}


async def baseline_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A hand-written raw ASGI endpoint."""
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    _remember(_asgi_seen, b"".join(chunks))
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER})


# -- Starlette --------------------------------------------------------------------------------

suno_starlette = Starlette(routes=[Mount("/suno", routes=suno_routes(_receiver()))])

_starlette_seen: dict[str, bytes] = {}


async def _starlette_endpoint(request: Request) -> Response:
    _remember(_starlette_seen, await request.body())
    return Response(ANSWER, media_type="application/json")


baseline_starlette = Starlette(
    routes=[Mount("/suno", routes=[Route("/callback", _starlette_endpoint, methods=["POST"])])]
)

# -- Flask ------------------------------------------------------------------------------------

suno_flask = Flask("suno_flask")
SunoHooks(suno_flask, receiver=_receiver())

baseline_flask = Flask("baseline_flask")
_flask_seen: dict[str, bytes] = {}


@baseline_flask.post("/suno/callback")
def _flask_view() -> Any:
    _remember(_flask_seen, request.get_data())
    return baseline_flask.response_class(ANSWER, mimetype="application/json")


# -- raw WSGI ---------------------------------------------------------------------------------

suno_wsgi = wsgi_app(_receiver())
_wsgi_seen: dict[str, bytes] = {}


def baseline_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A hand-written WSGI endpoint."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    _remember(_wsgi_seen, environ["wsgi.input"].read(length))
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))]
    )
    return [ANSWER]
