"""A Django project without a database (`DATABASES = {}`) and a `memory://` or `redis://` store,
served by gunicorn (the sync view) and uvicorn (the async view): a signed callback reaches
every receiver once, and a transaction database that is not configured fails the checks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.django_nodb_settings import HMAC_KEY
from ..support.services import RedisServer, free_port, running

ROOT = Path(__file__).resolve().parents[2]
RECEIVERS = ["blinker-async", "blinker-sync", "django-async", "django-sync"]


def site_env(tmp_path: Path, store: str, *, asynchronous: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NODB_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.support.django_nodb_settings",
        NODB_STORE=store,
        NODB_ASYNC="1" if asynchronous else "",
        NODB_RECORD=str(tmp_path / "received.txt"),
        NODB_LOG=str(tmp_path / "warnings.log"),
    )
    return env


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
        return
    redis = RedisServer(tmp_path / "redis", persistent=False).start()
    try:
        yield redis.url
    finally:
        redis.stop()


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_a_project_without_a_database_runs_every_receiver_once(
    server: str, store: str, tmp_path: Path
):
    asynchronous = server == "uvicorn"
    env = site_env(tmp_path, store, asynchronous=asynchronous)
    port = free_port()
    if asynchronous:
        app = ["uvicorn", "--factory", "django.core.asgi:get_asgi_application"]
        command = [*app, "--port", str(port)]
    else:
        # One worker for memory://, whose deliveries live in the worker's own process.
        workers = "1" if store == "memory://" else "2"
        app = ["gunicorn", "django.core.wsgi:get_wsgi_application()"]
        command = [*app, "-b", f"127.0.0.1:{port}", "-w", workers]
    base = f"http://127.0.0.1:{port}"
    served = running([sys.executable, "-m", *command], base + "/", env=env, cwd=ROOT)
    with served, httpx.Client(base_url=base, timeout=10) as client:
        task_id = f"nodb{server}{store[:5]}"
        raw = encode(make_callback(task_id=task_id))
        headers = sign_headers(raw, HMAC_KEY)
        first = client.post("/suno/callback", content=raw, headers=headers)
        assert (first.status_code, first.json()) == (200, {"status": "received"})
        again = client.post("/suno/callback", content=raw, headers=headers)
        assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    received = (tmp_path / "received.txt").read_text(encoding="utf-8").splitlines()
    assert sorted(received) == [f"{receiver} {task_id}" for receiver in RECEIVERS]
    logged = (tmp_path / "warnings.log").read_text(encoding="utf-8")
    assert not [line for line in logged.splitlines() if line.startswith(("ERROR", "CRITICAL"))]
    assert "Traceback" not in logged


def check(
    tmp_path: Path, alias: str | None = None, store: str = "memory://"
) -> subprocess.CompletedProcess[str]:
    """`django check` on the project without a database; a ready receiver names `alias`."""
    env = site_env(tmp_path, store, asynchronous=False)
    if alias is not None:
        env["NODB_TRANSACTION_ALIAS"] = alias
    command = [sys.executable, "-m", "django", "check", "--fail-level", "WARNING"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_a_database_the_project_lacks_fails_the_checks(tmp_path: Path):
    passed = check(tmp_path)
    assert passed.returncode == 0, passed.stderr
    missing = check(tmp_path, "reports")
    assert missing.returncode == 1
    assert "suno_hooks.E011" in missing.stderr and "'reports'" in missing.stderr
    # Django stands in a dummy "default" for DATABASES = {}: the ORM store has no database.
    orm = check(tmp_path, store="django://")
    assert orm.returncode == 1
    assert "suno_hooks.E006" in orm.stderr and "'default'" in orm.stderr
