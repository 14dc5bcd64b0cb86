"""The servers `benchmarks/handoff.py` measures: one receiver on a SQLite store
(`SUNO_BENCH_SQLITE_DIR`), answering inline with a no-op handler (`inline_asgi`, `inline_wsgi`)
or through a hand-off with a handler that sleeps `SUNO_BENCH_HANDLER` seconds (`thread_*`,
`celery_*`, `rq_*`). On ASGI paths the handlers are async, on WSGI paths sync.

Celery and RQ ring the redis-server at `SUNO_BENCH_REDIS_URL`; no worker runs here. The thread
hand-off is `ThreadHandoff(workers=SUNO_BENCH_THREAD_WORKERS, queue_size=SUNO_BENCH_THREAD_QUEUE)`.
Every ring that fails is logged (WARNING, `suno_hooks.handoff`) and counted: one line appended to
`SUNO_BENCH_SQLITE_DIR/rings-failed` each. The apps are built on first use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any

from suno_hooks import Event, Receiver, task_completed
from suno_hooks.asgi import asgi_app
from suno_hooks.handoff import Handoff, ThreadHandoff
from suno_hooks.wsgi import wsgi_app

KEY = "whk_handoff_benchmark_key"

logging.getLogger("suno_hooks").setLevel(logging.ERROR)


class FailedRings(logging.Handler):
    """Appends a line to a file for each ring that failed (the WARNINGs of `ring_or_log`)."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.WARNING)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            with self.path.open("a") as file:
                file.write(record.getMessage().replace("\n", " ") + "\n")


def failed_rings_file(directory: Path) -> Path:
    return directory / "rings-failed"


def count_failed_rings(directory: Path) -> int:
    path = failed_rings_file(directory)
    return len(path.read_text().splitlines()) if path.exists() else 0


def _directory() -> Path:
    return Path(os.environ["SUNO_BENCH_SQLITE_DIR"])


def _count_failures() -> None:
    handoff_logger = logging.getLogger("suno_hooks.handoff")
    handoff_logger.setLevel(logging.WARNING)
    handoff_logger.propagate = False
    handoff_logger.addHandler(FailedRings(failed_rings_file(_directory())))


def _receiver(handoff: Handoff | None, *, on_loop: bool) -> Receiver:
    """A receiver on `sqlite://`; a no-op handler inline, a slow one behind a hand-off."""
    _count_failures()
    store = f"sqlite:///{_directory() / 'suno.db'}"
    receiver = Receiver(hmac_keys=[KEY], store=store, handoff=handoff)
    seconds = float(os.environ.get("SUNO_BENCH_HANDLER", "2.0"))
    if on_loop:

        async def async_handler(sender: Any, event: Event, **extra: Any) -> None:
            if handoff is not None:
                await asyncio.sleep(seconds)

        task_completed.connect(async_handler, sender=receiver, weak=False)
    else:

        def handler(sender: Any, event: Event, **extra: Any) -> None:
            if handoff is not None:
                time.sleep(seconds)

        task_completed.connect(handler, sender=receiver, weak=False)
    return receiver


def _thread() -> Handoff:
    return ThreadHandoff(
        workers=int(os.environ.get("SUNO_BENCH_THREAD_WORKERS", "4")),
        queue_size=int(os.environ.get("SUNO_BENCH_THREAD_QUEUE", "100")),
    )


def _celery() -> Handoff:
    from celery import Celery

    from suno_hooks.contrib.celery import CeleryHandoff

    app = Celery("benchmark", broker=os.environ["SUNO_BENCH_REDIS_URL"], set_as_current=False)
    app.conf.broker_transport_options = {"socket_connect_timeout": 5, "socket_timeout": 5}
    return CeleryHandoff(app)


def _rq() -> Handoff:
    from suno_hooks.contrib.rq import RQHandoff

    # The path a worker would import; no worker runs in the benchmark.
    return RQHandoff.from_url(os.environ["SUNO_BENCH_REDIS_URL"], receiver=f"{__name__}:rq_asgi")


_HANDOFFS = {"inline": lambda: None, "thread": _thread, "celery": _celery, "rq": _rq}


def __getattr__(name: str) -> Any:
    kind, _, path = name.partition("_")
    if kind in _HANDOFFS and path in ("asgi", "wsgi"):
        on_loop = path == "asgi"
        receiver = _receiver(_HANDOFFS[kind](), on_loop=on_loop)
        app = asgi_app(receiver) if on_loop else wsgi_app(receiver)
        globals()[name] = app
        return app
    raise AttributeError(name)
