"""Issue 12, case 4: Django under gunicorn (WSGI) reads chunked callbacks: every one is
dispatched once, and a 2 MiB chunked body is refused with 413, dispatching nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.faults import (
    HMAC_KEY,
    ROOT,
    FaultServer,
    KieSender,
    callbacks,
    chunks,
    fault_env,
    fault_server,
    tally,
)

CALLBACKS = 8


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    """tests/support/fault_django.py migrated and served by gunicorn (2 workers, the Django
    store)."""
    directory = tmp_path_factory.mktemp("django-chunked")
    env = fault_env(directory, "django://", FAULT_DJANGO_DB=str(directory / "site.sqlite3"))
    subprocess.run(
        [sys.executable, "-m", "tests.support.fault_django"], cwd=ROOT, env=env, check=True
    )
    with fault_server("gunicorn", "tests.support.fault_django:application", env) as server:
        yield server


def test_chunked_callbacks_are_dispatched_once_and_a_huge_one_is_413(site: FaultServer):
    with KieSender(site.url, chunk_size=97) as sender:
        sent = sender.send_all(callbacks("chunked", CALLBACKS))
    assert [s.statuses for s in sent] == [[200]] * CALLBACKS
    assert {s.tries[0].answer["status"] for s in sent} == {"received"}

    huge = make_callback(task_id="huge0", msg="x" * (2 * 1024 * 1024))
    raw = encode(huge)
    headers = sign_headers(raw, HMAC_KEY)
    reply = httpx.post(site.url, content=chunks(raw, 65536), headers=headers, timeout=30)
    assert "content-length" not in reply.request.headers
    assert (reply.status_code, reply.json()["error"]) == (413, "payload_too_large")

    keys = [s.key for s in sent]
    assert tally(site.log, keys).counts() == {"dispatched": CALLBACKS, "lost": 0, "doubled": 0}
    assert tally(site.log, ["huge0:complete"]).lost == ["huge0:complete"]
