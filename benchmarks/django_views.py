"""Django request/response cycle in process: the suno-hooks views against hand-written Django
views doing the same work, measured in the same run through Django's test clients (full handler
and middleware stack), on the memory store. The Django target, the sync view on `django://`
under gunicorn with a receiver writing one row, is a row of `benchmarks/http_adapters.py`.

The hand-written view reads the body, parses and validates it as an equivalent pydantic model
(`model_validate_json`),
inserts into a dict and returns the same JSON; ours uses `store="memory://"` and no keys. Each
side has one no-op receiver. Run: `.venv/bin/python benchmarks/django_views.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

settings.configure(
    DEBUG=False,
    SECRET_KEY="benchmark",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    USE_TZ=True,
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "suno_hooks.contrib.django",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    # Receivers run in a transaction on the store's database (Django's default one here).
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    SUNO_HOOKS={"STORE": "memory://", "SECRET_KEY": None},
    LOGGING_CONFIG=None,
)
django.setup()

from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import AsyncClient, Client  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from benchmarks.baseline import BaselineCallback  # noqa: E402
from suno_hooks.contrib.django import signals  # noqa: E402
from suno_hooks.contrib.django.urls import callback_patterns  # noqa: E402
from suno_hooks.testing import encode, make_callback  # noqa: E402

SEEN: dict[str, BaselineCallback] = {}
RECEIVED = b'{"status": "received"}'


def no_op(sender: Any = None, **kwargs: Any) -> None:
    """The one receiver on each side (sync views)."""


async def async_no_op(sender: Any = None, **kwargs: Any) -> None:
    """The one receiver on each side (async views)."""


def parse_by_hand(request: HttpRequest) -> BaselineCallback:
    callback = BaselineCallback.model_validate_json(request.body)
    SEEN[callback.data.task_id] = callback
    return callback


@csrf_exempt
def hand_view(request: HttpRequest) -> HttpResponse:
    no_op(event=parse_by_hand(request))
    return HttpResponse(RECEIVED, content_type="application/json")


@csrf_exempt
async def hand_async_view(request: HttpRequest) -> HttpResponse:
    await async_no_op(event=parse_by_hand(request))
    return HttpResponse(RECEIVED, content_type="application/json")


hand_patterns = [path("callback", hand_view), path("callback/", hand_view)]
hand_async_patterns = [path("callback", hand_async_view), path("callback/", hand_async_view)]

# Both sides are mounted the same way (an include with two routes), so routing costs the same.
urlpatterns = [
    path("hand/", include((hand_patterns, "hand"))),
    path("hand-async/", include((hand_async_patterns, "hand"), namespace="hand_async")),
    path("suno/", include((callback_patterns(), "suno_hooks"))),
    path(
        "suno-async/",
        include((callback_patterns(asynchronous=True), "suno_hooks"), namespace="async"),
    ),
]


def bodies(count: int) -> list[bytes]:
    return [encode(make_callback()) for _ in range(count)]


def check(reply: Any) -> None:
    if reply.status_code != 200 or reply.content.replace(b" ", b"") != b'{"status":"received"}':
        raise SystemExit(f"unexpected answer {reply.status_code}: {reply.content!r}")


def time_sync(client: Client, url: str, payloads: list[bytes]) -> float:
    start = time.perf_counter()
    for body in payloads:
        check(client.post(url, body, content_type="application/json"))
    return (time.perf_counter() - start) / len(payloads) * 1e6


async def time_async(client: AsyncClient, url: str, payloads: list[bytes]) -> float:
    start = time.perf_counter()
    for body in payloads:
        check(await client.post(url, body, content_type="application/json"))
    return (time.perf_counter() - start) / len(payloads) * 1e6


def summary(samples: list[float]) -> tuple[float, float]:
    """(median, best) µs/request of the batches; the best batch is the least disturbed."""
    return statistics.median(samples), min(samples)


def measure_sync(
    ours: str, hand: str, batches: int, size: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median µs/request over alternating batches (so load changes hit both sides alike)."""
    client = Client()
    time_sync(client, ours, bodies(200))
    time_sync(client, hand, bodies(200))
    ours_us, hand_us = [], []
    for _ in range(batches):
        hand_us.append(time_sync(client, hand, bodies(size)))
        ours_us.append(time_sync(client, ours, bodies(size)))
    return summary(hand_us), summary(ours_us)


async def measure_async(
    ours: str, hand: str, batches: int, size: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """`measure_sync` for the async views, all on one event loop."""
    client = AsyncClient()
    await time_async(client, ours, bodies(200))
    await time_async(client, hand, bodies(200))
    ours_us, hand_us = [], []
    for _ in range(batches):
        hand_us.append(await time_async(client, hand, bodies(size)))
        ours_us.append(await time_async(client, ours, bodies(size)))
    return summary(hand_us), summary(ours_us)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60, help="alternating batches per side")
    parser.add_argument("--size", type=int, default=100, help="requests per batch")
    args = parser.parse_args()
    logging.getLogger("suno_hooks").setLevel(logging.ERROR)  # the "unverified" notice
    batches, size = args.batches, args.size
    signals.task_completed.connect(no_op)
    sync_row = measure_sync("/suno/callback", "/hand/callback", batches, size)
    signals.task_completed.disconnect(no_op)
    signals.task_completed.connect(async_no_op)
    async_row = asyncio.run(
        measure_async("/suno-async/callback", "/hand-async/callback", batches, size)
    )
    rows = [("sync view (Client)", *sync_row), ("async view (AsyncClient)", *async_row)]
    header = f"{'path':26} {'statistic':9} {'hand-written µs/req':>20} {'suno-hooks µs/req':>18}"
    print(f"{header} {'ratio':>6}")
    for name, hand, ours in rows:
        for index, statistic in enumerate(("median", "best")):
            h, o = hand[index], ours[index]
            print(f"{name:26} {statistic:9} {h:20.1f} {o:18.1f} {o / h:6.3f}")
    print(f"target: ratio ≤ 1.10 (median of {batches} alternating batches of {size} requests)")


if __name__ == "__main__":
    main()
