"""FastAPI under uvicorn (two workers) on the PostgreSQL store, over real HTTP: concurrent
senders that retry like Kie get each callback dispatched once with its own task's context, a
token serves only its task, and a database restart is answered 503 then recovered from."""

from __future__ import annotations

import os
import random
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from suno_hooks import Receiver
from suno_hooks.testing import encode, make_callback

from ..support.postgres import PostgresCluster, restartable_postgres
from ..support.services import free_port, running
from ..support.stores import postgres_schema_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "fastapi-postgres-secret"


@dataclass
class App:
    """The running app: its base URL, the dispatch log its workers append to, the database."""

    base: str
    log: Path
    cluster: PostgresCluster

    def dispatched(self, prefix: str) -> list[tuple[str, str]]:
        """(dedupe key, context user) of every dispatch of tasks named `prefix…`."""
        lines = self.log.read_text().split("\n")
        return [(k, u) for k, u in (line.split() for line in lines if line) if k.startswith(prefix)]

    def callback_url(self, user: int) -> str:
        """A callBackUrl as the app mints it: one token per task, carrying `user`."""
        minted = Receiver(secret_key=SECRET, store="memory://").callback_url(
            f"{self.base}/suno/callback", context={"user": user}
        )
        return f"{self.base}/suno/callback?token={dict(parse_qsl(urlsplit(minted).query))['token']}"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    log = tmp_path_factory.mktemp("fastapi") / "dispatched.log"
    log.touch()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        str(BIN / "uvicorn"),
        "tests.support.fastapi_postgres_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    with restartable_postgres() as cluster:
        env = dict(
            os.environ,
            SUNO_HOOKS_STORE=postgres_schema_url(cluster.server),
            SUNO_HOOKS_SECRET_KEY=SECRET,
            DISPATCH_LOG=str(log),
            PYTHONPATH=str(ROOT),
        )
        with running(command, base + "/health", env=env, cwd=ROOT):
            yield App(base, log, cluster)


def send(client: httpx.Client, url: str, body: bytes) -> httpx.Response:
    """POST like Kie: retry a 409 or a 503 until the answer is final."""
    for _ in range(500):
        reply = client.post(url, content=body, headers={"Content-Type": "application/json"})
        if reply.status_code not in (409, 503):
            return reply
        threading.Event().wait(0.02)
    pytest.fail(f"no final answer from {url}")


def test_concurrent_senders_get_each_callback_dispatched_once(app: App):
    jobs: list[tuple[str, bytes]] = []
    for n in range(15):
        url = app.callback_url(n)
        for stage in ("text", "first", "complete"):
            jobs.append((url, encode(make_callback("music", stage, task_id=f"fa{n}"))))
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def sender(seed: int) -> None:
        order = list(jobs)
        random.Random(seed).shuffle(order)
        with httpx.Client(timeout=30) as client:
            start.wait()
            for url, body in order:
                reply = send(client, url, body)
                with lock:
                    answers.append((reply.status_code, reply.json().get("status", "")))

    threads = [threading.Thread(target=sender, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(answers) == 4 * len(jobs)
    assert {status for status, _ in answers} == {200}
    dispatches = app.dispatched("fa")
    counted = Counter(key for key, _ in dispatches)
    assert all(count == 1 for count in counted.values()), counted.most_common(3)
    assert {f"fa{n}:complete" for n in range(15)} <= set(counted)
    assert sum(1 for _, status in answers if status == "received") == len(dispatches)
    assert all(key.split(":")[0] == f"fa{user}" for key, user in dispatches)


def test_a_token_serves_only_its_task(app: App):
    url = app.callback_url(99)
    with httpx.Client(timeout=30) as client:
        own = send(client, url, encode(make_callback(task_id="tk-own")))
        assert (own.status_code, own.json()) == (200, {"status": "received"})
        other = send(client, url, encode(make_callback(task_id="tk-victim")))
        assert (other.status_code, other.json()["error"]) == (401, "invalid_token")
    assert app.dispatched("tk-") == [("tk-own:complete", "99")]


def test_a_database_restart_is_answered_503_then_recovered(app: App):
    url = app.callback_url(7)
    body = encode(make_callback(task_id="rs-task"))
    with httpx.Client(timeout=30) as client:
        for n in range(6):  # both workers keep connections from before the restart
            warm = encode(make_callback(task_id=f"rs-warm{n}"))
            assert send(client, app.callback_url(n), warm).status_code == 200
        app.cluster.stop()
        down = client.post(url, content=body, headers={"Content-Type": "application/json"})
        assert (down.status_code, down.json()["error"]) == (503, "store_unavailable")
        assert "retry-after" in down.headers
        app.cluster.start()
        # Each worker's kept connections died with the server; the first request replaces them.
        answers = [client.post(url, content=body).json() for _ in range(3)]
    assert answers == [{"status": "received"}, {"status": "duplicate"}, {"status": "duplicate"}]
    assert app.dispatched("rs-task") == [("rs-task:complete", "7")]
