"""Dotted-path targets for `handoff_from_setting` tests: a ready hand-off, a factory and a
thing that is neither."""

from __future__ import annotations

from suno_hooks.handoff import ThreadHandoff

ready = ThreadHandoff(workers=1, queue_size=1)


def make() -> ThreadHandoff:
    return ThreadHandoff(workers=2, queue_size=2)


not_a_handoff = 42
