"""The inbox page behind HTTP Basic (`ops`, $INBOX_WORKERS_PASSWORD) as a WSGI app for several
gunicorn workers (`tests.support.inbox_workers_app:app`), over the store at
$INBOX_WORKERS_STORE and a
receiver whose only secret is $INBOX_WORKERS_SECRET_KEY or $INBOX_WORKERS_HMAC_KEY.

Every answer names its worker in `X-Worker-Pid`; a request with `X-Want-Pid` naming another
worker is answered 421 without reaching the page, so a test can choose the worker a POST lands on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from suno_hooks import Receiver, task_completed
from suno_hooks.inbox import BasicAuth, inbox_wsgi_app

receiver = Receiver(
    store=os.environ["INBOX_WORKERS_STORE"],
    secret_key=os.environ.get("INBOX_WORKERS_SECRET_KEY") or None,
    hmac_keys=os.environ.get("INBOX_WORKERS_HMAC_KEY") or None,
)
page = inbox_wsgi_app(receiver, auth=BasicAuth("ops", os.environ["INBOX_WORKERS_PASSWORD"]))


@task_completed.connect_via(receiver)
def _completed(sender: Any, event: Any, **extra: Any) -> None:
    """A replay needs a connected receiver to run; this one always succeeds."""


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The page, with the answering worker's pid in `X-Worker-Pid`."""
    pid = str(os.getpid())
    wanted = environ.get("HTTP_X_WANT_PID")
    if wanted and wanted != pid:
        start_response("421 Misdirected Request", [("X-Worker-Pid", pid)])
        return [b""]

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, ("X-Worker-Pid", pid)], exc_info)

    return page(environ, start)
