"""The example apps under their real servers (gunicorn for Flask, uvicorn for Starlette), driven
over HTTP with signed callbacks: mint a callBackUrl, deliver, read the page."""

from __future__ import annotations

import html
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.cli_helpers import run_cli
from ..support.services import free_port, running
from ..support.snippets import run_example_script

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HMAC_KEY = "whk_example_key"


def serve(command: list[str], port: int, db: Path) -> Iterator[str]:
    """Start a server process, wait until it answers, yield its base URL, stop it."""
    env = dict(
        os.environ,
        KIE_WEBHOOK_HMAC_KEYS=HMAC_KEY,
        SECRET_KEY="example-secret",
        TRACKS_DB=str(db),
        PYTHONPATH=str(ROOT),
    )
    base = f"http://127.0.0.1:{port}"
    with running(command, base + "/", env=env, cwd=ROOT):
        yield base


@pytest.fixture(scope="module")
def flask_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    db = tmp_path_factory.mktemp("flask") / "tracks.db"
    command = [
        str(BIN / "gunicorn"),
        "--workers",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        "examples.flask_app.app:create_app()",
    ]
    yield from serve(command, port, db)


@pytest.fixture(scope="module")
def starlette_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    db = tmp_path_factory.mktemp("starlette") / "tracks.db"
    command = [
        str(BIN / "uvicorn"),
        "examples.starlette_app.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    yield from serve(command, port, db)


def submit(client: httpx.Client, csrf: bool) -> tuple[str, str]:
    """Submit a replace-section task through the page's form; the task id and minted URL."""
    data = {"prompt": "A brighter chorus"}
    if csrf:
        page = client.get("/").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, "the form carries a CSRF token"
        data["csrf_token"] = found.group(1)
    reply = client.post("/replace-section", data=data)
    assert reply.status_code == 200, reply.text
    task_id = re.search(r'data-task-id="([^"]+)"', reply.text)
    url = re.search(r'data-callback-url="([^"]+)"', reply.text)
    assert task_id and url
    return task_id.group(1), html.unescape(url.group(1))


def exercise(base: str, csrf: bool) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        task_id, callback_url = submit(client, csrf)
        assert callback_url.startswith(f"{base}/suno/callback?token=")

        first = make_callback(stage="first", task_id=task_id)
        body = make_callback(stage="complete", task_id=task_id)
        track = body["data"]["data"][0]
        track["title"] = "Brighter Chorus <edit>"
        raw = encode(body)

        # One task's signature covers only task id and timestamp: an earlier second for `first`.
        first_headers = sign_headers(first, HMAC_KEY, timestamp=int(time.time()) - 1)
        progress = httpx.post(callback_url, content=encode(first), headers=first_headers)
        assert progress.json() == {"status": "received"}
        unsigned = httpx.post(
            callback_url, content=raw, headers={"Content-Type": "application/json"}
        )
        assert unsigned.status_code == 401 and unsigned.json()["error"] == "missing_signature"
        delivered = httpx.post(callback_url, content=raw, headers=sign_headers(raw, HMAC_KEY))
        assert delivered.json() == {"status": "received"}
        again = httpx.post(callback_url, content=raw, headers=sign_headers(raw, HMAC_KEY))
        assert again.json() == {"status": "duplicate"}

        page = client.get("/").text
        assert html.escape("Brighter Chorus <edit>") in page
        assert f'<img src="{track["image_url"]}"' in page
        assert f'<audio controls preload="none" src="{track["audio_url"]}"' in page
        assert page.count(f'data-track-id="{track["id"]}"') == 1
        assert page.count("<audio controls") == 2
        assert "completed" in page


def test_flask_example_under_gunicorn(flask_server: str):
    exercise(flask_server, csrf=True)


def test_starlette_example_under_uvicorn(starlette_server: str):
    exercise(starlette_server, csrf=False)


@pytest.mark.parametrize(
    ("example", "csrf"), [("flask_app", True), ("starlette_app", False)], ids=["flask", "starlette"]
)
def test_the_readme_script_and_cli_deliver_to_the_example(
    example: str, csrf: bool, request: pytest.FixtureRequest, tmp_path: Path
):
    base = request.getfixturevalue(example.replace("_app", "_server"))
    readme = ROOT / "examples" / example / "README.md"
    with httpx.Client(base_url=base, timeout=10) as client:
        task_id, callback_url = submit(client, csrf)
    printed = run_example_script(
        readme, tmp_path, callback_url, task_id, env={"KIE_WEBHOOK_HMAC_KEYS": HMAC_KEY}
    )
    assert printed.strip() == "{'status': 'received'}"
    resent = run_cli("send", callback_url, "--task-id", task_id, "--hmac-key", HMAC_KEY)
    assert resent.returncode == 0, resent.stderr
    code, answer = resent.stdout.split(" ", 1)
    assert (code, json.loads(answer)) == ("200", {"status": "duplicate"})
