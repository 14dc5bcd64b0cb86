"""`handoff_from_setting`: the hand-off a setting names (a word, a dotted path or an instance)."""

from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import ConfigurationError, missing_extra
from ._protocol import Handoff, import_object
from ._thread import ThreadHandoff

__all__ = ["ENGINES", "handoff_from_setting"]


def _thread() -> Handoff:
    return ThreadHandoff()


def _celery() -> Handoff:
    from ..contrib.celery import CeleryHandoff

    return CeleryHandoff()


def _rq() -> Handoff:
    from ..contrib.rq import RQHandoff

    url = os.environ.get("SUNO_HOOKS_RQ_URL", "redis://localhost:6379/0")
    return RQHandoff.from_url(url, receiver=os.environ.get("SUNO_HOOKS_RECEIVER") or None)


def _django() -> Handoff:
    from ..contrib.django.handoff import DjangoTasksHandoff

    return DjangoTasksHandoff()


ENGINES: dict[str, tuple[Callable[[], Handoff], str, tuple[str, ...]]] = {
    "thread": (_thread, "", ()),
    "celery": (_celery, "celery", ("celery", "kombu")),
    "rq": (_rq, "rq", ("rq", "redis")),
    "django": (_django, "django-tasks", ("django", "django_tasks")),
}
"""Each word `handoff=` takes: its factory, the extra that installs its engine, and the top-level
modules whose absence means that extra is missing."""


def handoff_from_setting(value: object) -> Handoff | None:
    """The hand-off `value` names: None (work inline), a hand-off itself, `"thread"`,
    `"celery"` (a task on the Celery app in use), `"rq"` (a queue on `SUNO_HOOKS_RQ_URL`, whose
    jobs import the receiver named by `SUNO_HOOKS_RECEIVER`), `"django"` (Django's tasks
    framework), or a dotted path to a hand-off or to a callable that returns one."""
    if value is None or _is_handoff(value):
        return value  # type: ignore[return-value]
    if not isinstance(value, str):
        raise ConfigurationError(
            f"handoff must be a hand-off (with ring and bind), a name or a dotted path; "
            f"got {type(value).__name__}."
        )
    word = value.strip().lower()
    if word in ENGINES:
        factory, extra, modules = ENGINES[word]
        try:
            return factory()
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if missing not in modules:
                raise
            raise ConfigurationError(missing_extra(extra, missing, f'handoff="{word}"')) from None
    if "." not in value and ":" not in value:
        known = ", ".join(f'"{name}"' for name in ENGINES)
        raise ConfigurationError(
            f"unknown handoff {value!r}: use {known}, a dotted path, or a hand-off object."
        )
    found = import_object(value, "handoff")
    if not _is_handoff(found) and callable(found):
        found = found()
    if not _is_handoff(found):
        raise ConfigurationError(
            f"handoff {value!r} names a {type(found).__name__}, not a hand-off "
            "(an object with ring(key) and bind(receiver))."
        )
    return found  # type: ignore[no-any-return]


def _is_handoff(value: object) -> bool:
    return not isinstance(value, type) and isinstance(value, Handoff)
