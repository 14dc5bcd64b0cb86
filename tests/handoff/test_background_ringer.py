"""Rings for a broker are sent from a thread of their own: the caller never waits on the broker,
a full backlog is refused and logged (the sweeper rings those later), and a forked worker gets
its own sending thread."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from suno_hooks.handoff._background import BackgroundRinger


class SlowBroker:
    """Records each ring after holding it until `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.rung: list[str] = []

    def ring(self, key: str) -> bool:
        self.release.wait(10)
        self.rung.append(key)
        return True


def test_the_caller_does_not_wait_for_the_broker_and_keys_are_rung_in_order() -> None:
    broker = SlowBroker()
    ringer = BackgroundRinger(broker.ring)
    assert [ringer(key) for key in ("a", "b", "c")] == [True, True, True]
    assert broker.rung == []  # all three answered while the broker holds the first
    broker.release.set()
    assert ringer.flush(10)
    assert broker.rung == ["a", "b", "c"]


def test_a_full_backlog_is_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    broker = SlowBroker()
    ringer = BackgroundRinger(broker.ring, limit=2)
    with caplog.at_level(logging.WARNING, logger="suno_hooks.handoff"):
        answers = [ringer(key) for key in ("a", "b", "c", "d")]
    # The thread may already hold "a", leaving room for one more key.
    assert answers[:2] == [True, True] and answers[-1] is False
    refused = [key for key, sent in zip("abcd", answers, strict=True) if not sent]
    for key in refused:
        assert f"hand-off of {key} not rung" in caplog.text
    broker.release.set()
    assert ringer.flush(10)
    assert sorted(broker.rung + refused) == ["a", "b", "c", "d"]


def test_a_forked_child_rings_from_its_own_thread() -> None:
    rung: list[str] = []
    ringer = BackgroundRinger(lambda key: rung.append(key) is None)
    assert ringer("parent") and ringer.flush(10)
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        ok = ringer("child") and ringer.flush(5) and rung == ["parent", "child"]
        os.write(writing, b"1" if ok else b"0")
        os._exit(0)
    os.close(writing)
    assert os.read(reading, 1) == b"1"
    os.waitpid(child, 0)
    assert rung == ["parent"]
