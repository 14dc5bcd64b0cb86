"""examples/django_app under a real server (gunicorn for WSGI, uvicorn for ASGI): mint a
callback URL through its page, deliver signed callbacks over HTTP, read the track list."""

from __future__ import annotations

import html
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from django.utils import formats

from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.cli_helpers import run_cli
from ..support.services import free_port, running
from ..support.snippets import run_example_script

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_app"
HMAC_KEY = "whk_example_key"


def example_env(tmp_path: Path, asynchronous: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SUNO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="suno_site.settings",
        DJANGO_SECRET_KEY="example-test-secret",
        SUNO_EXAMPLE_DB=str(tmp_path / "example.sqlite3"),
        SUNO_HOOKS_HMAC_KEYS=HMAC_KEY,
        SUNO_EXAMPLE_ASYNC="1" if asynchronous else "",
    )
    return env


@pytest.fixture(params=["gunicorn", "uvicorn"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The example project migrated and served on a free loopback port; its base URL."""
    asynchronous = request.param == "uvicorn"
    env = example_env(tmp_path, asynchronous)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=EXAMPLE, env=env, check=True
    )
    port = free_port()
    if asynchronous:
        command = ["-m", "uvicorn", "suno_site.asgi:application", "--port", str(port)]
    else:
        command = ["-m", "gunicorn", "suno_site.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"]
    base = f"http://127.0.0.1:{port}"
    with running([sys.executable, *command], base + "/", env=env, cwd=EXAMPLE):
        yield base


def mint_callback_url(client: httpx.Client, base: str) -> str:
    form = client.get(base + "/replace-section/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token, form
    page = client.post(
        base + "/replace-section/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "task_id": "5c79b3b0e2c1a9f0a1b2c3d4e5f60718",
            "audio_id": "e231c3c1-9d1e-4a4e-8f0b-0d4f5e6a7b8c",
            "title": "Neon Rain",
            "tags": "synthwave",
            "prompt": "A brighter second chorus",
            "full_lyrics": "[Verse] Neon rain\n[Chorus] A brighter second chorus",
        },
        headers={"Referer": base + "/replace-section/"},
    )
    assert page.status_code == 200, page.text
    found = re.search(r'<pre id="payload">(.*?)</pre>', page.text, re.S)
    assert found, page.text
    payload = json.loads(html.unescape(found.group(1)))
    assert payload["infillStartS"] < payload["infillEndS"] and payload["fullLyrics"]
    return str(payload["callBackUrl"])


def test_example_stores_completed_tracks_once_and_lists_them(site: str):
    with httpx.Client(timeout=10) as client:
        url = mint_callback_url(client, site)
        assert url.startswith(site + "/suno/callback?token=")

        body = make_callback(stage="complete")
        raw = encode(body)
        headers = sign_headers(raw, HMAC_KEY)
        first = client.post(url, content=raw, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json() == {"status": "received"}
        again = client.post(url, content=raw, headers=headers)
        assert again.json() == {"status": "duplicate"}

        forged = client.post(url, content=raw, headers=sign_headers(raw, "not-the-key"))
        assert forged.status_code == 401
        assert forged.json()["error"] == "invalid_signature"
        unsigned = client.post(site + "/suno/callback", content=encode(make_callback()))
        assert unsigned.status_code == 401

        page = client.get(site + "/").text

    assert page.count('<li class="track">') == 2
    for track in body["data"]["data"]:
        assert f"<h2>{html.escape(track['title'])}</h2>" in page
        assert f'<img src="{track["image_url"]}"' in page
        assert f'<audio controls src="{track["audio_url"]}"></audio>' in page
    assert page.count("edit request #1") == 2


def test_the_readme_script_and_cli_deliver_to_the_example(site: str, tmp_path: Path):
    with httpx.Client(timeout=10) as client:
        url = mint_callback_url(client, site)
    task_id = "5c79b3b0e2c1a9f0a1b2c3d4e5f60718"
    printed = run_example_script(
        EXAMPLE / "README.md", tmp_path, url, task_id, env={"SUNO_HOOKS_HMAC_KEYS": HMAC_KEY}
    )
    assert printed.strip() == "{'status': 'received'}"
    resent = run_cli("send", url, "--task-id", task_id, "--hmac-key", HMAC_KEY)
    assert resent.returncode == 0, resent.stderr
    code, answer = resent.stdout.split(" ", 1)
    assert (code, json.loads(answer)) == ("200", {"status": "duplicate"})
    assert httpx.get(site + "/").text.count('<li class="track">') == 2


def test_the_admin_is_styled_and_shows_delivery_times_in_utc(site: str, tmp_path: Path):
    env = example_env(tmp_path, asynchronous=False)
    env.update(
        DJANGO_SUPERUSER_PASSWORD="example-admin-pw", DJANGO_SUPERUSER_EMAIL="admin@example.test"
    )
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "admin"],
        cwd=EXAMPLE,
        env=env,
        check=True,
        capture_output=True,
    )
    with httpx.Client(base_url=site, timeout=10) as client:
        body = encode(make_callback(task_id="admin-times"))
        sent = client.post("/suno/callback", content=body, headers=sign_headers(body, HMAC_KEY))
        assert sent.json() == {"status": "received"}
        css = client.get("/static/admin/css/base.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        login = client.get("/admin/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login)
        assert token
        client.post(
            "/admin/login/?next=/admin/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": "admin",
                "password": "example-admin-pw",
            },
            headers={"Referer": site + "/admin/login/"},
        )
        page = client.get("/admin/suno_hooks/delivery/").text
    assert "admin-times" in page and "/static/admin/css/base.css" in page
    with sqlite3.connect(env["SUNO_EXAMPLE_DB"]) as db:
        [(stored,)] = db.execute(
            "SELECT received_at FROM suno_hooks_delivery WHERE task_id = 'admin-times'"
        ).fetchall()
    received = datetime.fromisoformat(stored).replace(tzinfo=timezone.utc)
    assert formats.localize(received) in page  # the stored UTC time, not shifted


def test_the_example_database_is_ignored_by_git():
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(EXAMPLE / "db.sqlite3")], cwd=EXAMPLE, check=False
    )
    assert ignored.returncode == 0


def _raw_status(base: str, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes (a method httpx would normalise) and read the status and body."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith((b"}", b"}\n")):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_chunked_bodies_and_odd_methods_get_the_table_answers(
    site: str, request: pytest.FixtureRequest
):
    """Chunked bodies under WSGI are read (413 past the bound); TRACE gets our 405, and so
    does `post` under uvicorn (gunicorn refuses a lower-case method itself, with 400)."""
    body = make_callback(task_id="c" * 32)
    raw = encode(body)

    def chunks(data: bytes, size: int = 97) -> Iterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    with httpx.Client(timeout=10) as client:
        url = site + "/suno/callback"
        chunked = client.post(url, content=chunks(raw), headers=sign_headers(raw, HMAC_KEY))
        assert "content-length" not in chunked.request.headers
        assert chunked.status_code == 200, chunked.text
        assert chunked.json() == {"status": "received"}
        huge = b'{"data": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        too_large = client.post(url, content=chunks(huge, 65536))
        assert (too_large.status_code, too_large.json()["error"]) == (413, "payload_too_large")
    lower = b"post /suno/callback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    lower += b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(raw) + raw
    trace = b"TRACE /suno/callback HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    odd = [trace, lower] if request.node.callspec.params["site"] == "uvicorn" else [trace]
    for raw_request in odd:
        status, answer = _raw_status(site, raw_request)
        assert status == 405, answer
        assert json.loads(answer)["error"] == "method_not_allowed"
