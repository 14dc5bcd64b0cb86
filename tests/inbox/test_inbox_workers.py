"""The replay form under several workers: a page rendered by one gunicorn worker is replayed by
another, its CSRF token signed with a key both derive from the receiver's secret."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from suno_hooks import Receiver

from ..support.inbox_helpers import deliver, failing_handler, song
from ..support.services import free_port, running

# The page is what these tests are about: their receivers accept callbacks unverified.
pytestmark = pytest.mark.filterwarnings("ignore::suno_hooks.InsecureReceiverWarning")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
USER, PASSWORD = "ops", "workers-pw"


def _failed_delivery(store: str) -> str:
    receiver = Receiver(store=store, require="none")
    with failing_handler(receiver):
        outcome = deliver(
            receiver, song("Two workers", audio_url="https://x/a", image_url="https://x/i")
        )
    assert outcome.delivery is not None
    kept = receiver.store.get(outcome.delivery.key)
    assert kept is not None and kept.status.value == "failed"
    receiver.store.close()
    return kept.key


@pytest.mark.parametrize("secret", ["INBOX_WORKERS_SECRET_KEY", "INBOX_WORKERS_HMAC_KEY"])
def test_a_form_from_one_worker_replays_on_another(tmp_path, secret: str):
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    key = _failed_delivery(store)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        INBOX_WORKERS_STORE=store,
        INBOX_WORKERS_PASSWORD=PASSWORD,
        PYTHONPATH=str(ROOT),
        **{secret: "workers-test-secret-value"},
    )
    command = [str(BIN / "gunicorn"), "tests.support.inbox_workers_app:app", "-w", "2"]
    command += ["-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    with running(command, base + "/", env=env, cwd=ROOT):
        forms: dict[str, tuple[str, str]] = {}

        def render() -> httpx.Response:
            return httpx.get(base + "/delivery", params={"key": key}, auth=(USER, PASSWORD))

        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(4) as pool:
            while len(forms) < 2 and time.monotonic() < deadline:
                for page in pool.map(lambda _: render(), range(4)):
                    assert page.status_code == 200, page.text
                    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                    cookie = page.cookies["suno_inbox_csrf"]
                    forms[page.headers["x-worker-pid"]] = (token, cookie)
        assert len(forms) == 2, f"only worker {list(forms)} answered in 30 s"
        (rendered_by, (token, cookie)), (other, _) = forms.items()

        while True:
            replay = httpx.post(
                base + "/replay",
                data={"key": key, "csrf_token": token},
                cookies={"suno_inbox_csrf": cookie},
                headers={"X-Want-Pid": other},
                auth=(USER, PASSWORD),
            )
            if replay.status_code != 421 or time.monotonic() > deadline + 30:
                break
        assert replay.headers["x-worker-pid"] == other != rendered_by
        assert replay.status_code == 303, replay.text
        assert "replayed=done" in replay.headers["location"]
    kept = Receiver(store=store, require="none").store.get(key)
    assert kept is not None and kept.status.value == "done"
