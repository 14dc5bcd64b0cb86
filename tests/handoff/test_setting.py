"""`handoff_from_setting`: the words, dotted paths and objects a `handoff=` setting takes."""

from __future__ import annotations

import sys

import pytest

from suno_hooks.errors import ConfigurationError
from suno_hooks.handoff import Handoff, ThreadHandoff, handoff_from_setting

from ..support import handoff_factories


def test_none_means_no_handoff():
    assert handoff_from_setting(None) is None


def test_an_instance_is_used_as_is():
    handoff = ThreadHandoff()
    assert handoff_from_setting(handoff) is handoff


def test_thread_is_the_in_process_pool():
    handoff = handoff_from_setting(" Thread ")
    assert isinstance(handoff, ThreadHandoff)
    assert handoff.out_of_process is False


def test_a_dotted_path_to_an_instance_or_a_factory():
    assert handoff_from_setting("tests.support.handoff_factories:ready") is handoff_factories.ready
    made = handoff_from_setting("tests.support.handoff_factories.make")
    assert isinstance(made, ThreadHandoff) and made.workers == 2


def test_the_engines_by_name_are_out_of_process(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUNO_HOOKS_RQ_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("SUNO_HOOKS_RECEIVER", "myapp.hooks:receiver")
    for word in ("celery", "rq", "django"):
        handoff = handoff_from_setting(word)
        assert isinstance(handoff, Handoff), word
        assert handoff.out_of_process is True, word
    rq = handoff_from_setting("rq")
    assert rq.receiver == "myapp.hooks:receiver"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("threads", "unknown handoff 'threads'"),
        ("tests.support.handoff_factories:not_a_handoff", "names a int, not a hand-off"),
        ("tests.support.handoff_factories:absent", "no absent in"),
        ("tests.support.no_such_module:x", "cannot import"),
        (42, "got int"),
        (ThreadHandoff, "got type"),
    ],
)
def test_anything_else_is_a_configuration_error(value: object, message: str):
    with pytest.raises(ConfigurationError, match=message):
        handoff_from_setting(value)


@pytest.mark.parametrize(
    ("word", "module", "engine", "extra"),
    [
        ("celery", "celery", "suno_hooks.contrib.celery", "celery"),
        ("rq", "rq", "suno_hooks.contrib.rq", "rq"),
        ("django", "django_tasks", "suno_hooks.contrib.django.handoff", "django-tasks"),
    ],
)
def test_a_missing_extra_names_the_pip_line(
    monkeypatch: pytest.MonkeyPatch, word: str, module: str, engine: str, extra: str
):
    monkeypatch.delitem(sys.modules, engine, raising=False)
    monkeypatch.setitem(sys.modules, module, None)  # importing it now fails
    if module == "django_tasks":
        monkeypatch.setitem(sys.modules, "django.tasks", None)
    with pytest.raises(ConfigurationError) as caught:
        handoff_from_setting(word)
    assert f'pip install "suno-hooks[{extra}]"' in str(caught.value)
    assert f'handoff="{word}"' in str(caught.value)
