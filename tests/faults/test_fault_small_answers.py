"""Issue 12, case 6, under gunicorn: methods get the table's 405 (Flask too, lower case too),
and a store write that fails after the handlers ran is answered 503 + Retry-After, so Kie's
retry runs the handlers again and the delivery ends done: nothing lost, nothing run a third
time, no other callback run twice."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator

import pytest

from suno_hooks.stores import DeliveryStatus, SQLiteStore

from ..support.faults import (
    PAUSE_PREFIX,
    FaultServer,
    KieSender,
    Pause,
    Sent,
    Try,
    callbacks,
    dumps,
    fault_env,
    fault_server,
    raw_request,
    tally,
)

BUSY_TIMEOUT = 0.3
LEASE = 0.1  # shorter than the busy timeout: the lease has ended when the 503 is answered


@pytest.fixture(scope="module")
def flask_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    """The Flask app under gunicorn, which lets unconventional (lower-case) methods through."""
    directory = tmp_path_factory.mktemp("flask")
    env = fault_env(directory, "memory://")
    options = ["--permit-unconventional-http-method"]
    with fault_server("gunicorn", "tests.support.fault_app:flask", env, options=options) as server:
        yield server


@pytest.fixture(scope="module")
def sqlite_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FaultServer, Pause, str]]:
    """The WSGI app under gunicorn (default options) on a SQLite file with a short busy timeout
    and lease; the FIFOs its paused handlers talk through; the database path."""
    directory = tmp_path_factory.mktemp("unrecorded")
    pause = Pause(directory)
    path = str(directory / "inbox.db")
    env = fault_env(
        directory, f"sqlite:///{path}?timeout={BUSY_TIMEOUT}", FAULT_LEASE=str(LEASE), **pause.env()
    )
    with fault_server("gunicorn", "tests.support.fault_app:wsgi", env) as server:
        yield server, pause, path


def test_flask_under_gunicorn_answers_odd_methods_with_the_json_405(flask_site: FaultServer):
    body = json.dumps(callbacks("method", 1)[0]).encode()
    for method in ("post", "TRACE", "FOO", "PURGE", "GET"):
        status, answer = raw_request(flask_site.url, method, body)
        assert status == 405, (method, answer)
        assert json.loads(answer)["error"] == "method_not_allowed", method
    with KieSender(flask_site.url) as sender:
        sent = sender.send_all(callbacks("flask", 5))
    assert [s.statuses for s in sent] == [[200]] * 5
    keys = [s.key for s in sent]
    assert tally(flask_site.log, keys).counts() == {"dispatched": 5, "lost": 0, "doubled": 0}
    assert tally(flask_site.log, ["method0:complete"]).lost == ["method0:complete"]


def test_gunicorn_refuses_a_lower_case_method_itself(sqlite_site: tuple[FaultServer, Pause, str]):
    """By default gunicorn answers 400 before any app runs; nothing is dispatched."""
    server, _, _ = sqlite_site
    status, _ = raw_request(server.url, "post", json.dumps(callbacks("lower", 1)[0]).encode())
    assert status == 400
    assert tally(server.log, ["lower0:complete"]).lost == ["lower0:complete"]


def test_a_store_write_failing_after_the_handler_is_answered_503_and_retried_once(
    sqlite_site: tuple[FaultServer, Pause, str],
):
    server, pause, path = sqlite_site
    reader = SQLiteStore(path)
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    between: list[DeliveryStatus | None] = []

    def unlock_after_the_first_answer(sent: Sent, attempt: Try) -> None:
        if len(sent.tries) == 1:
            kept = reader.get(sent.key)
            between.append(kept.status if kept else None)
            locker.execute("ROLLBACK")

    try:
        with KieSender(server.url) as sender:
            before = sender.send_all(callbacks("steady", 6))
        held: list[Sent] = []
        with KieSender(server.url, after_try=unlock_after_the_first_answer) as sender:
            body = callbacks(f"{PAUSE_PREFIX}-unrecorded", 1)[0]
            holder = threading.Thread(target=lambda: held.append(sender.send(body)))
            holder.start()
            pause.wait_entered()
            # Another writer holds the database past the busy timeout while the handler ends.
            locker.execute("BEGIN IMMEDIATE")
            pause.release()
            pause.wait_entered()  # the retry runs the handler again
            pause.release()
            holder.join(60)
        with KieSender(server.url) as sender:
            after = sender.send_all(callbacks("steady-after", 6))
        kept = reader.get(held[0].key)
    finally:
        locker.close()
        reader.close()

    unrecorded = held[0]
    first = unrecorded.tries[0]
    assert (first.status, first.answer["error"]) == (503, "store_unavailable"), dumps(held)
    assert first.retry_after
    assert unrecorded.statuses == [503, 200] and unrecorded.tries[1].answer == {
        "status": "received"
    }
    assert between == [DeliveryStatus.ABANDONED]  # processing, its lease over: replayable
    assert kept is not None and kept.status is DeliveryStatus.DONE and kept.attempts == 2
    others = before + after
    assert [s.statuses for s in others] == [[200]] * len(others)
    keys = [s.key for s in others + held]
    counts = tally(server.log, keys, rerun=[unrecorded.key]).counts()
    assert counts == {"dispatched": len(keys), "lost": 0, "doubled": 0}
    assert server.log.runs()[unrecorded.key] == 2
