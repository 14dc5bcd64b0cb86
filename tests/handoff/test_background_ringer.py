"""Rings for a broker are sent from a thread of their own: the caller never waits on the broker,
the keys waiting when the thread is free go as one bounded batch (a lone key at once), in
order, a full backlog is refused and logged (the sweeper rings those later), and a forked worker
gets its own sending thread."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence

import pytest

from suno_hooks.handoff._background import BackgroundRinger


class SlowBroker:
    """Records each batch it is given, after holding it until `release` is set; `arrived` is
    set once a batch is being held."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.batches: list[list[str]] = []

    def ring(self, keys: Sequence[str]) -> None:
        self.arrived.set()
        self.release.wait(10)
        self.batches.append(list(keys))

    @property
    def rung(self) -> list[str]:
        return [key for batch in self.batches for key in batch]


def test_the_caller_does_not_wait_for_the_broker_and_keys_are_rung_in_order() -> None:
    broker = SlowBroker()
    ringer = BackgroundRinger(broker.ring)
    assert [ringer(key) for key in ("a", "b", "c")] == [True, True, True]
    assert broker.rung == []  # all three answered while the broker holds the first
    broker.release.set()
    assert ringer.flush(10)
    assert broker.rung == ["a", "b", "c"]


def test_a_lone_key_is_rung_alone_and_the_keys_waiting_behind_a_ring_go_as_one_batch() -> None:
    broker = SlowBroker()
    ringer = BackgroundRinger(broker.ring)
    assert ringer("first")
    assert broker.arrived.wait(10)  # the thread holds ["first"] at the broker
    for key in ("b", "c", "d", "e"):
        assert ringer(key)
    broker.release.set()
    assert ringer.flush(10)
    assert broker.batches == [["first"], ["b", "c", "d", "e"]]


def test_a_batch_holds_at_most_its_bound_and_keeps_the_order() -> None:
    broker = SlowBroker()
    ringer = BackgroundRinger(broker.ring, batch=2)
    assert ringer("first") and broker.arrived.wait(10)
    for key in ("b", "c", "d", "e", "f"):
        assert ringer(key)
    broker.release.set()
    assert ringer.flush(10)
    assert broker.batches == [["first"], ["b", "c"], ["d", "e"], ["f"]]


def test_a_full_backlog_is_refused_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    broker = SlowBroker()
    ringer = BackgroundRinger(broker.ring, limit=2)
    assert ringer("a") and broker.arrived.wait(10)  # the thread holds "a": two may wait
    with caplog.at_level(logging.WARNING, logger="suno_hooks.handoff"):
        assert [ringer(key) for key in ("b", "c", "d", "e")] == [True, True, False, False]
    assert "hand-off of d not rung" in caplog.text
    assert "hand-off of e not rung" in caplog.text
    broker.release.set()
    assert ringer.flush(10)
    assert broker.batches == [["a"], ["b", "c"]]


def test_a_forked_child_rings_from_its_own_thread() -> None:
    rung: list[str] = []
    ringer = BackgroundRinger(rung.extend)
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
