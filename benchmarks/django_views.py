"""Django request/response cycle: the suno-hooks views against hand-written Django views doing
the same work, measured in the same run through Django's test clients (full handler and
middleware stack).

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
import time
from collections.abc import Awaitable, Callable
from typing import Any

import django
from django.conf import settings

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
    DATABASES={},
    SUNO_HOOKS={"STORE": "memory://", "SECRET_KEY": None},
    LOGGING_CONFIG=None,
)
django.setup()

from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import AsyncClient, Client  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field  # noqa: E402

from suno_hooks.contrib.django import signals  # noqa: E402
from suno_hooks.contrib.django.urls import callback_patterns  # noqa: E402
from suno_hooks.testing import encode, make_callback  # noqa: E402


class HandTrack(BaseModel):
    """A track as the hand-written view validates it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    id: str
    audio_url: str | None = None
    stream_audio_url: str | None = None
    image_url: str | None = None
    prompt: str | None = None
    model_name: str | None = None
    title: str | None = None
    tags: str | None = None
    created_at: str | None = Field(default=None, alias="createTime")
    duration: float | None = None


class HandData(BaseModel):
    """The callback's `data` object."""

    model_config = ConfigDict(extra="allow")
    callbackType: str  # noqa: N815
    task_id: str
    data: list[HandTrack] | None = None


class HandCallback(BaseModel):
    """A music callback, validated by the hand-written view."""

    model_config = ConfigDict(extra="allow")
    code: int
    msg: str
    data: HandData


SEEN: dict[str, HandCallback] = {}
RECEIVED = b'{"status": "received"}'


def no_op(sender: Any = None, **kwargs: Any) -> None:
    """The one receiver on each side (sync views)."""


async def async_no_op(sender: Any = None, **kwargs: Any) -> None:
    """The one receiver on each side (async views)."""


def parse_by_hand(request: HttpRequest) -> HandCallback:
    callback = HandCallback.model_validate_json(request.body)
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


urlpatterns = [
    path("hand", hand_view),
    path("hand-async", hand_async_view),
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


def time_sync(url: str, payloads: list[bytes]) -> float:
    client = Client()
    start = time.perf_counter()
    for body in payloads:
        check(client.post(url, body, content_type="application/json"))
    return (time.perf_counter() - start) / len(payloads) * 1e6


async def time_async(url: str, payloads: list[bytes]) -> float:
    client = AsyncClient()
    start = time.perf_counter()
    for body in payloads:
        check(await client.post(url, body, content_type="application/json"))
    return (time.perf_counter() - start) / len(payloads) * 1e6


def measure(
    runner: Callable[[str, list[bytes]], float], ours: str, hand: str, n: int, rounds: int
) -> tuple[float, float]:
    runner(ours, bodies(200))
    runner(hand, bodies(200))
    ours_us: list[float] = []
    hand_us: list[float] = []
    for _ in range(rounds):
        hand_us.append(runner(hand, bodies(n)))
        ours_us.append(runner(ours, bodies(n)))
    return statistics.median(hand_us), statistics.median(ours_us)


def async_runner(url: str, payloads: list[bytes]) -> float:
    result: Awaitable[float] = time_async(url, payloads)
    return asyncio.run(result)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    signals.task_completed.connect(no_op)
    logging.getLogger("suno_hooks").setLevel(logging.ERROR)  # the "unverified" notice

    rows = [
        (
            "sync view (Client)",
            *measure(time_sync, "/suno/callback", "/hand", args.requests, args.rounds),
        ),
        (
            "async view (AsyncClient)",
            *measure(
                async_runner, "/suno-async/callback", "/hand-async", args.requests, args.rounds
            ),
        ),
    ]
    print(f"{'path':26} {'hand-written µs/req':>20} {'suno-hooks µs/req':>18} {'ratio':>7}")
    for name, hand, ours in rows:
        print(f"{name:26} {hand:20.1f} {ours:18.1f} {ours / hand:7.3f}")
    print("target: ratio ≤ 1.10 (median of rounds, interleaved)")


if __name__ == "__main__":
    main()
