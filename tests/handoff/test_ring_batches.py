"""The keys waiting for a broker are rung as one batch when the hand-off has `ring_many`, one by
one otherwise, in order either way; a failed batch is one WARNING naming how many keys it held,
and only the keys a batch reports unsent are logged."""

from __future__ import annotations

import logging

import pytest

from suno_hooks.handoff import HandoffError
from suno_hooks.handoff._background import BackgroundRinger
from suno_hooks.handoff._protocol import ring_many_or_log, ringer

from ..support.handoff_bell import BatchBell, Bell

KEYS = [f"task-{n}:complete" for n in range(25)]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "suno_hooks.handoff" and record.levelno == logging.WARNING
    ]


def test_a_hand_off_without_ring_many_is_rung_one_key_at_a_time_in_order() -> None:
    bell = Bell(out_of_process=True)
    ring = ringer(bell, store=None)
    assert isinstance(ring, BackgroundRinger)
    assert all(ring(key) for key in KEYS)
    assert ring.flush(10)
    assert bell.rings == KEYS


def test_a_hand_off_without_ring_many_logs_each_failed_key_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bell = Bell()
    bell.down = True
    assert ring_many_or_log(bell, ["a", "b"]) == {"a": False, "b": False}
    assert warnings(caplog) == [
        "hand-off of a failed, the sweeper will ring again: the broker is down",
        "hand-off of b failed, the sweeper will ring again: the broker is down",
    ]


def test_a_hand_off_with_ring_many_gets_every_key_in_batches_in_order() -> None:
    bell = BatchBell(out_of_process=True)
    ring = ringer(bell, store=None)
    assert isinstance(ring, BackgroundRinger)
    assert all(ring(key) for key in KEYS)
    assert ring.flush(10)
    assert [key for batch in bell.batches for key in batch] == KEYS == bell.rings


def test_a_batch_that_fails_whole_is_one_warning_naming_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bell = BatchBell()
    bell.error = HandoffError("the broker is down")
    assert ring_many_or_log(bell, KEYS[:3]) == dict.fromkeys(KEYS[:3], False)
    assert ring_many_or_log(bell, KEYS[:12]) == dict.fromkeys(KEYS[:12], False)
    assert warnings(caplog) == [
        "hand-off of 3 deliveries (task-0:complete, task-1:complete, task-2:complete) failed,"
        " the sweeper will ring again: the broker is down",
        f"hand-off of 12 deliveries ({', '.join(KEYS[:10])} and 2 more) failed,"
        " the sweeper will ring again: the broker is down",
    ]
    assert bell.rings == []


def test_only_the_keys_a_batch_reports_unsent_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bell = BatchBell()
    bell.refuse = {"b"}
    assert ring_many_or_log(bell, ["a", "b", "c"]) == {"a": True, "b": False, "c": True}
    assert warnings(caplog) == ["hand-off of b failed, the sweeper will ring again: b was refused"]
    assert bell.rings == ["a", "c"]


def test_an_engine_s_own_error_is_logged_by_its_type_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bell = BatchBell()
    bell.error = RuntimeError("cannot reach redis://:hunter2@broker:6379")
    assert ring_many_or_log(bell, ["a", "b"]) == {"a": False, "b": False}
    assert warnings(caplog) == [
        "hand-off of 2 deliveries (a, b) failed, the sweeper will ring again: RuntimeError"
    ]
