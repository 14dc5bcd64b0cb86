"""SQLiteStore specifics: pragmas, schema versioning, threads, fork, a locked file, URLs, and a
receiver using it end to end through the ASGI app."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from suno_hooks import Receiver, callback_received
from suno_hooks.asgi import asgi_app
from suno_hooks.errors import ConfigurationError
from suno_hooks.inbound import InboundRequest
from suno_hooks.media import KeptFile
from suno_hooks.stores import (
    ClaimResult,
    Delivery,
    DeliveryStatus,
    ReplayCheck,
    SQLiteStore,
    store_from_url,
)
from suno_hooks.stores.sqlite import SCHEMA_VERSION
from suno_hooks.stores.sqlite._schema import _MIGRATIONS, TASKS_SCHEMA
from suno_hooks.stores.tasks import ExpectedTask, TaskState
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY, unverified_receiver
from ..support.stores import finish


def delivery(task_id: str, stage: str = "complete") -> Delivery:
    return Delivery(key=f"{task_id}:{stage}", task_id=task_id, stage=stage, body=b"{}")


def test_wal_busy_timeout_and_schema_version(tmp_path: Path):
    store = SQLiteStore(tmp_path / "s.db", timeout=2.5)
    with store._connection() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
        version = conn.execute("SELECT version FROM suno_hooks_schema").fetchone()[0]
    assert version == SCHEMA_VERSION
    finish(store, delivery("kept"))
    store.close()
    reopened = SQLiteStore(tmp_path / "s.db")
    assert reopened.claim(delivery("kept"), lease=60).result is ClaimResult.DUPLICATE
    with reopened._connection() as conn:
        rows = conn.execute("SELECT count(*) FROM suno_hooks_schema").fetchone()
    assert rows[0] == 1
    reopened.close()


def test_a_newer_schema_is_refused(tmp_path: Path):
    SQLiteStore(tmp_path / "s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        conn.execute("UPDATE suno_hooks_schema SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(ConfigurationError, match="newer"):
        SQLiteStore(tmp_path / "s.db")


def test_an_unopenable_path_is_a_configuration_error(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="Cannot open"):
        SQLiteStore(tmp_path / "missing-dir" / "s.db")


def test_keys_must_be_task_and_stage(tmp_path: Path):
    store = SQLiteStore(tmp_path / "s.db")
    odd = Delivery(key="something-else", task_id="t", stage="complete", body=b"{}")
    with pytest.raises(ValueError, match="task_id:stage"):
        store.claim(odd, lease=60)
    store.close()


@pytest.mark.parametrize("path", ["file", ":memory:"])
def test_many_threads_claim_each_key_once(tmp_path: Path, path: str):
    store = SQLiteStore(tmp_path / "s.db" if path == "file" else ":memory:")
    wins: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for i in range(40):
            claim = store.claim(delivery(f"task{i}"), lease=60)
            if claim.result is ClaimResult.NEW:
                with lock:
                    wins[f"task{i}"] += 1
                store.finish(f"task{i}:complete", token=claim.token)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins == Counter({f"task{i}": 1 for i in range(40)})
    assert len(store.deliveries(status="done", limit=1000)) == 40
    store.close()


def _claim_in_child(store: SQLiteStore, queue: Any) -> None:
    queue.put(store.claim(delivery("child"), lease=60).result.value)


def test_a_forked_child_opens_its_own_connection(tmp_path: Path):
    store = SQLiteStore(tmp_path / "s.db")
    store.claim(delivery("parent"), lease=60)
    fork = multiprocessing.get_context("fork")
    queue = fork.Queue()
    child = fork.Process(target=_claim_in_child, args=(store, queue))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == "new"
    assert store.claim(delivery("child"), lease=60).result is ClaimResult.IN_PROGRESS
    store.close()


def test_a_locked_database_answers_503_not_500(tmp_path: Path, calls: Any):
    store = SQLiteStore(tmp_path / "s.db", timeout=0.05)
    receiver = unverified_receiver(store=store)
    blocker = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        outcome = receiver.handle(InboundRequest("POST", encode(make_callback(task_id="busy"))))
        assert time.monotonic() - started < 2
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert outcome.status == 503
    assert outcome.body["error"] == "store_unavailable"
    assert outcome.headers["Retry-After"]
    assert calls.count == 0
    assert store.get("busy:complete") is None
    retry = receiver.handle(InboundRequest("POST", encode(make_callback(task_id="busy"))))
    assert retry.body == {"status": "received"}
    store.close()


async def test_receiver_with_a_sqlite_url_through_asgi(tmp_path: Path):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=f"sqlite:///{tmp_path / 'asgi.db'}")
    assert isinstance(receiver.store, SQLiteStore)
    seen: list[str] = []

    async def handler(sender: Any, event: Any, **extra: Any) -> None:
        seen.append(event.dedupe_key)

    body = encode(make_callback(task_id="over-asgi"))
    transport = httpx.ASGITransport(app=asgi_app(receiver), client=("203.0.113.9", 1234))
    with callback_received.connected_to(handler):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = await client.post(
                "/suno/callback", content=body, headers=sign_headers(body, HMAC_KEY)
            )
            second = await client.post(
                "/suno/callback", content=body, headers=sign_headers(body, HMAC_KEY)
            )
    assert first.json() == {"status": "received"}
    assert second.json() == {"status": "duplicate"}
    assert seen == ["over-asgi:complete"]
    kept = receiver.store.get("over-asgi:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    assert kept.body == body and kept.peer == "203.0.113.9"
    assert kept.headers["x-webhook-signature"]
    receiver.store.close()


def test_store_from_url_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    relative = store_from_url("sqlite:///relative.db?retention=3600&timeout=1.5")
    assert isinstance(relative, SQLiteStore)
    assert (relative.path, relative.retention, relative.timeout) == ("relative.db", 3600, 1.5)
    assert (tmp_path / "relative.db").exists()
    absolute = store_from_url(f"sqlite:///{tmp_path / 'with space.db'}".replace(" ", "%20"))
    assert isinstance(absolute, SQLiteStore) and absolute.path == str(tmp_path / "with space.db")
    memory = store_from_url("sqlite:///:memory:?synchronous=full")
    assert isinstance(memory, SQLiteStore) and memory.synchronous == "full"
    for store in (relative, absolute, memory):
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://host/x.db", "Malformed SQLite URL"),
        ("sqlite://", "names no file"),
        ("sqlite:///x.db?colour=blue", "Bad option"),
        ("sqlite:///x.db?timeout=soon", "timeout"),
        ("sqlite:///x.db?synchronous=sometimes", "synchronous"),
        ("sqlite:///x.db?retention=0", "retention"),
        ("memory://?max_keys=10&colour=blue", "Bad option"),
        ("mysql://localhost/db", "Unknown store scheme"),
        ("suno.db", "Not a store URL"),
        ("http://[::1", "Malformed store URL"),
    ],
)
def test_store_from_url_refuses_clearly(
    url: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError, match=message):
        store_from_url(url)


def _open_at_barrier(path: str, start: Any, opened: Any) -> None:
    start.wait()
    SQLiteStore(path).close()
    opened.put(path)


def test_processes_opening_a_new_file_at_once_all_open_it(tmp_path: Path):
    spawn = multiprocessing.get_context("spawn")
    rounds, width = 2, 4
    for n in range(rounds):
        path = str(tmp_path / f"fresh{n}.db")
        start, opened = spawn.Barrier(width), spawn.Queue()
        workers = [
            spawn.Process(target=_open_at_barrier, args=(path, start, opened)) for _ in range(width)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        assert [worker.exitcode for worker in workers] == [0] * width
        assert sorted(opened.get(timeout=5) for _ in range(width)) == [path] * width


async def test_asgi_on_sqlite_settles_the_expected_task_and_records_the_outcome(tmp_path: Path):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=f"sqlite:///{tmp_path / 'settle.db'}")
    store = receiver.store
    assert isinstance(store, SQLiteStore)
    for task_id in ("ok-task", "failing-task"):
        store.expect(ExpectedTask.submitted(task_id, "generate", after=600, now=time.time()))

    async def handler(sender: Any, event: Any, **extra: Any) -> None:
        if event.task_id == "failing-task":
            raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=asgi_app(receiver), client=("203.0.113.9", 1234))
    with callback_received.connected_to(handler):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for task_id in ("ok-task", "failing-task"):
                body = encode(make_callback(task_id=task_id))
                answer = await client.post(
                    "/suno/callback", content=body, headers=sign_headers(body, HMAC_KEY)
                )
                assert answer.json() == {"status": "received"}
    for task_id, status in (("ok-task", DeliveryStatus.DONE), ("failing-task", "failed")):
        task = store.get_task(task_id)
        assert task is not None and (task.state, task.settled_by) == (TaskState.SETTLED, "callback")
        kept = store.get(f"{task_id}:complete")
        assert kept is not None and kept.status == status
    failed = store.get("failing-task:complete")
    assert failed is not None and failed.error is not None and "boom" in failed.error
    store.close()


def test_a_version_3_file_migrates_and_keeps_its_guard_entries(tmp_path: Path):
    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in _MIGRATIONS[:3]:
        for statement in script:
            conn.execute(statement)
    conn.execute("CREATE TABLE suno_hooks_schema (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO suno_hooks_schema (version) VALUES (3)")
    # Versions before 5 created the expected-task table on first use.
    for statement in TASKS_SCHEMA:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO suno_hooks_tasks VALUES ('kept', 'generate', NULL, 1.0, 2.0, 0, "
        "'pending', NULL, 1.0)"
    )
    conn.execute(
        "INSERT INTO suno_hooks_guard VALUES ('old:sig', ?, ?)",
        (ReplayCheck("old:sig", b"body-a", 600).body_digest, time.time() + 600),
    )
    conn.close()
    store = SQLiteStore(path)
    forged = ReplayCheck("old:sig", b"body-forged", 600)
    assert store.claim(delivery("v3"), lease=60, replay=forged).result is ClaimResult.REPLAYED
    claim = store.claim(delivery("v3"), lease=60, replay=ReplayCheck("new:sig", b"b", 600))
    assert claim.result is ClaimResult.NEW
    assert store.finish("v3:complete", token=claim.token)
    kept = store.get_task("kept")
    assert kept is not None and kept.state is TaskState.PENDING
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT version FROM suno_hooks_schema").fetchone() == (
            SCHEMA_VERSION,
        )
    store.close()


def test_a_new_file_has_the_expected_task_table_before_any_task_call(tmp_path: Path):
    SQLiteStore(tmp_path / "fresh.db").close()
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "suno_hooks_tasks" in tables
    reader = SQLiteStore(tmp_path / "fresh.db", read_only=True)
    assert reader.tasks() == []
    reader.close()


def test_a_version_5_file_gains_kept_media_in_place_and_reads_read_only_before(tmp_path: Path):
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in _MIGRATIONS[:5]:
        for statement in script:
            conn.execute(statement)
    conn.execute("CREATE TABLE suno_hooks_schema (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO suno_hooks_schema (version) VALUES (5)")
    conn.execute(
        "INSERT INTO suno_hooks_deliveries (key, task_id, stage, terminal, kind, status, "
        "attempts, received_at, updated_at, meta, body) VALUES ('old:complete', 'old', "
        "'complete', 1, 'music', 'done', 1, 1.0, 1.0, '{}', x'7b7d')"
    )
    conn.close()
    reader = SQLiteStore(path, read_only=True)  # an old file, read as it is
    (old,) = reader.deliveries()
    assert (old.key, old.kept) == ("old:complete", ())
    reader.close()
    store = SQLiteStore(path)
    record = KeptFile(
        "old/complete/a.mp3", "a.mp3", "/m/a.mp3", 1, "0" * 64, None, datetime.now(timezone.utc)
    )
    assert store.record_kept("old:complete", [record])
    done = store.get("old:complete")
    assert done is not None and done.status is DeliveryStatus.DONE and done.kept == (record,)
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT version FROM suno_hooks_schema").fetchone() == (
            SCHEMA_VERSION,
        )
    store.close()
