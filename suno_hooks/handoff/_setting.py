"""`handoff_from_setting`: the hand-off a setting names (a word, a dotted path or an instance)."""

from __future__ import annotations

from ..errors import ConfigurationError, missing_extra
from ._protocol import Handoff, import_object

__all__ = ["ENGINES", "handoff_from_setting"]


ENGINES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "thread": ("suno_hooks.handoff._thread:ThreadHandoff", "", ()),
    "celery": ("suno_hooks.contrib.celery:CeleryHandoff", "celery", ("celery", "kombu")),
    "rq": ("suno_hooks.contrib.rq:RQHandoff.from_environ", "rq", ("rq", "redis")),
    "django": (
        "suno_hooks.contrib.django.handoff:DjangoTasksHandoff",
        "django-tasks",
        ("django", "django_tasks"),
    ),
}
"""Each word `handoff=` takes: the factory it calls (imported only then), the extra that
installs its engine, and the top-level modules whose absence means that extra is missing."""


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
        path, extra, modules = ENGINES[word]
        try:
            factory = import_object(path, "handoff")
        except ConfigurationError as exc:
            cause = exc.__cause__
            missing = getattr(cause, "name", None) or ""
            if not isinstance(cause, ModuleNotFoundError) or missing.split(".")[0] not in modules:
                raise
            raise ConfigurationError(
                missing_extra(extra, missing.split(".")[0], f'handoff="{word}"')
            ) from None
        return factory()  # type: ignore[no-any-return]
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
