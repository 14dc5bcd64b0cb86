"""A standalone receiver: the ASGI app that `python3 run.py serve` runs under uvicorn.

Configured from the environment (`SUNO_HOOKS_HMAC_KEYS`, `SUNO_HOOKS_SECRET_KEY`,
`SUNO_HOOKS_STORE`); a demo handler logs every callback.
"""

from __future__ import annotations

import logging
from typing import Any

from suno_hooks import Event, Receiver, callback_received
from suno_hooks.asgi import asgi_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("suno_hooks.demo")

receiver = Receiver.from_env()
app = asgi_app(receiver, path="/suno/callback")


@callback_received.connect
def log_callback(sender: Any, event: Event, **extra: Any) -> None:
    """Log one line per callback: task, kind, stage, status and how many tracks."""
    log.info(
        "task=%s kind=%s stage=%s status=%s code=%s tracks=%d",
        event.task_id,
        event.kind,
        event.stage,
        event.status,
        event.code,
        len(event.tracks),
    )
