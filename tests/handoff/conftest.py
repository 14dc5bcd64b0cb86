"""Fixtures of the hand-off tests: a redis-server of their own (some stop it) and a ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.handoff_ledger import Ledger
from ..support.services import RedisServer


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone, keeping its data across a stop and a start."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """Where the stand-in receiver records each run, from any process."""
    return Ledger(tmp_path / "ledger.sqlite3")
