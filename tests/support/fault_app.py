"""The receiver the fault tests run under real servers, configured by the environment:
`FAULT_STORE` (store URL), `FAULT_HMAC`, `FAULT_LEASE` (seconds, default 60) and what
`tests/support/fault_handlers.py` reads. `wsgi` and `asgi` serve the callback at /suno/callback;
`flask` is a Flask app with the extension; GET /sizes on `asgi` answers the memory store's
sizes and `bounded`."""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask

from suno_hooks import Receiver
from suno_hooks.asgi import asgi_app
from suno_hooks.contrib.flask import SunoHooks
from suno_hooks.wsgi import wsgi_app

from . import fault_handlers  # noqa: F401  (connects the handlers)

receiver = Receiver(
    hmac_keys=[os.environ["FAULT_HMAC"]],
    store=os.environ["FAULT_STORE"],
    lease=float(os.environ.get("FAULT_LEASE", "60")),
)
wsgi = wsgi_app(receiver)
flask = Flask(__name__)
SunoHooks(flask, receiver=receiver)
_callbacks = asgi_app(receiver)


def _report(path: str) -> dict[str, Any] | None:
    store: Any = receiver.store
    if path == "/sizes":
        return dict(store.sizes(), bounded=store.bounded)
    return None


async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The callback app, plus GET /sizes for the memory store's bounds."""
    report = _report(scope["path"]) if scope["type"] == "http" else None
    if report is not None:
        body = json.dumps(report).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await _callbacks(scope, receive, send)
