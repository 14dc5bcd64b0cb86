"""How long the answer to a callback takes with a hand-off and a 2-second handler, against the
inline path with a no-op handler, in one run.

    .venv/bin/python benchmarks/handoff.py [--n 200] [--handler 2.0]

Each row sends `--n` signed callbacks to a receiver on a SQLite store (the Django row: the
`django://` store on SQLite) and times `Receiver.handle` from request to answer; p50 and p99 in
milliseconds, and their ratios to the inline row. The hand-offs ring a real redis-server
(Celery, RQ) or the database (Django's tasks framework) started here. Their workers are not
started: the answer never waits for one, and the queued work is dropped with the run. The
thread hand-off runs the 2-second handler in this process, in a pool large enough for the run.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from suno_hooks import Event, Receiver, callback_received
from suno_hooks.handoff import ThreadHandoff
from suno_hooks.inbound import InboundRequest
from suno_hooks.testing import encode, make_callback, sign_headers
from tests.support.services import RedisServer

KEY = "whk_benchmark_key_0123456789abcdef"


def answers(receiver: Receiver, n: int) -> list[float]:
    """Seconds from request to answer for `n` new signed callbacks."""
    taken = []
    for _ in range(n):
        raw = encode(make_callback("music", "complete"))
        request = InboundRequest("POST", raw, sign_headers(raw, KEY))
        started = time.perf_counter()
        outcome = receiver.handle(request)
        taken.append(time.perf_counter() - started)
        assert outcome.status == 200, outcome.body
    return taken


def percentiles(taken: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    cuts = statistics.quantiles(taken, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def django_receiver(directory: Path, n: int) -> Callable[[], Receiver]:
    """A Django project on SQLite with django-tasks-db, migrated; builds the receiver."""

    def build() -> Receiver:
        import django
        from django.conf import settings
        from django.core.management import call_command

        apps = ["django.contrib.contenttypes", "django.contrib.auth", "suno_hooks.contrib.django"]
        apps += ["django_tasks_db"] + (["django_tasks"] if django.VERSION < (6,) else [])
        settings.configure(
            INSTALLED_APPS=apps,
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": str(directory / "django.sqlite3"),
                }
            },
            TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}},
            USE_TZ=True,
            SECRET_KEY="benchmark-secret",
        )
        django.setup()
        call_command("migrate", verbosity=0)
        from suno_hooks.contrib.django.handoff import DjangoTasksHandoff

        return Receiver(hmac_keys=[KEY], store="django://", handoff=DjangoTasksHandoff())

    return build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="callbacks per row")
    parser.add_argument("--handler", type=float, default=2.0, help="seconds the handler takes")
    options = parser.parse_args()
    n = max(options.n, 2)

    def slow(sender: Any, event: Event, **extra: Any) -> None:
        time.sleep(options.handler)

    def no_op(sender: Any, event: Event, **extra: Any) -> None:
        return None

    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        broker = RedisServer(directory / "redis").start()
        try:
            rows = measure(directory, broker.url, n, slow, no_op)
        finally:
            broker.stop()
    base50, base99 = rows[0][1], rows[0][2]
    print(f"{'answer':<44} {'p50 ms':>8} {'p99 ms':>8} {'p50 x':>7} {'p99 x':>7}")
    for name, p50, p99 in rows:
        print(f"{name:<44} {p50:>8.3f} {p99:>8.3f} {p50 / base50:>7.2f} {p99 / base99:>7.2f}")
    print(f"({n} callbacks per row; the hand-off rows' handler takes {options.handler:g} s)")


def measure(
    directory: Path, broker: str, n: int, slow: Callable[..., None], no_op: Callable[..., None]
) -> list[tuple[str, float, float]]:
    from celery import Celery

    from suno_hooks.contrib.celery import CeleryHandoff
    from suno_hooks.contrib.rq import RQHandoff

    celery_app = Celery("benchmark", broker=broker, set_as_current=False)
    rows: list[tuple[str, float, float]] = []
    builds: list[tuple[str, Callable[[], Receiver], Callable[..., None]]] = [
        (
            "inline, no-op handler",
            lambda: Receiver(hmac_keys=[KEY], store=_sqlite(directory, "inline")),
            no_op,
        ),
        (
            "thread hand-off, 2 s handler",
            lambda: Receiver(
                hmac_keys=[KEY],
                store=_sqlite(directory, "thread"),
                handoff=ThreadHandoff(workers=n + 10, queue_size=n + 10),
            ),
            slow,
        ),
        (
            "Celery hand-off (redis), 2 s handler",
            lambda: Receiver(
                hmac_keys=[KEY],
                store=_sqlite(directory, "celery"),
                handoff=CeleryHandoff(celery_app),
            ),
            slow,
        ),
        (
            "RQ hand-off, 2 s handler",
            lambda: Receiver(
                hmac_keys=[KEY],
                store=_sqlite(directory, "rq"),
                handoff=RQHandoff.from_url(broker, receiver="benchmarks.handoff:unused"),
            ),
            slow,
        ),
        ("Django tasks hand-off, 2 s handler", django_receiver(directory, n), slow),
    ]
    for name, build, handler in builds:
        receiver = build()
        callback_received.connect(handler, weak=False)
        try:
            answers(receiver, min(n, 10))  # warm up: connections, statements
            p50, p99 = percentiles(answers(receiver, n))
            if isinstance(receiver.handoff, ThreadHandoff):  # let its handlers finish
                receiver.handoff.close(timeout=60)
        finally:
            callback_received.disconnect(handler)
        rows.append((name, p50, p99))
    celery_app.close()
    return rows


def _sqlite(directory: Path, name: str) -> str:
    return f"sqlite:///{directory / f'{name}.db'}"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    logging.getLogger("suno_hooks").setLevel(logging.ERROR)
    main()
