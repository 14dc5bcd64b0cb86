"""A page without auth answers only loopback names: a site whose own name resolves to 127.0.0.1
(DNS rebinding) reads nothing and replays nothing, under `suno-hooks serve` and the WSGI and ASGI
apps; a page with auth answers any host."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from suno_hooks import Receiver
from suno_hooks.inbox import BasicAuth, inbox_asgi_app, inbox_wsgi_app
from suno_hooks.inbox.guards import loopback_host
from suno_hooks.stores import MemoryStore

from ..support.browser import asgi_server, wsgi_server
from ..support.cli_helpers import serving
from ..support.inbox_helpers import deliver, failing_handler, song

# The page is what these tests are about: their receivers accept callbacks unverified.
pytestmark = pytest.mark.filterwarnings("ignore::suno_hooks.InsecureReceiverWarning")

SECRET = "inbox-hosts-test-secret"


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:1", "[::1]", "[::1]:65535"],
)
def test_loopback_names_with_or_without_a_port(host: str):
    assert loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        "evil.example",
        "evil.example:8000",
        "localhost.evil.example",
        "localhost.",
        "127.0.0.1.nip.io",
        "127.0.0.2",
        "::1",
        "[::1",
        "localhost:",
        "localhost:80x",
        "localhost:１２３",
        "localhost:8000 ",
        "localhost, evil.example",
    ],
)
def test_any_other_host_is_refused(host: str | None):
    assert not loopback_host(host)


def _failed_delivery(receiver: Receiver) -> str:
    outcome = deliver(
        receiver, song("Private", audio_url="https://x/p.mp3", image_url="https://x/p")
    )
    assert outcome.delivery is not None
    return outcome.delivery.key


@contextmanager
def _served(kind: str, app: Any) -> Iterator[str]:
    with wsgi_server(app) if kind == "wsgi" else asgi_server(app) as base:
        yield base


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_page_without_auth_refuses_a_rebound_host(kind: str):
    receiver = Receiver(store=MemoryStore(), secret_key=SECRET, require="none")
    make = inbox_wsgi_app if kind == "wsgi" else inbox_asgi_app
    with failing_handler(receiver) as handler:
        key = _failed_delivery(receiver)
        with _served(kind, make(receiver)) as base:
            port = base.rsplit(":", 1)[1]
            evil = {"Host": f"evil.example:{port}"}
            listing = httpx.get(base + "/", headers=evil)
            assert listing.status_code == 400
            assert "Private" not in listing.text and "localhost" in listing.text
            one = httpx.get(base + "/delivery", params={"key": key}, headers=evil)
            assert one.status_code == 400 and "set-cookie" not in one.headers
            with httpx.Client(base_url=base) as browser:
                page = browser.get("/delivery", params={"key": key})
                assert page.status_code == 200 and "Private" in page.text
                token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                replay = browser.post(
                    "/replay", data={"key": key, "csrf_token": token}, headers=evil
                )
                assert replay.status_code == 400
            assert handler.runs == 1
            for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost"):
                assert httpx.get(base + "/", headers={"Host": host}).status_code == 200
            assert httpx.get(base + "/tasks", headers={"Host": "evil.example"}).status_code == 400


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_page_with_auth_answers_any_host(kind: str):
    receiver = Receiver(store=MemoryStore(), secret_key=SECRET, require="none")
    make = inbox_wsgi_app if kind == "wsgi" else inbox_asgi_app
    credentials = "Basic " + base64.b64encode(b"ops:pw").decode()
    with _served(kind, make(receiver, auth=BasicAuth("ops", "pw"))) as base:
        host = {"Host": "inbox.example.com"}
        assert httpx.get(base + "/", headers=host).status_code == 401
        signed_in = httpx.get(base + "/", headers={**host, "Authorization": credentials})
        assert signed_in.status_code == 200


def test_serve_refuses_a_rebound_host(tmp_path):
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    env = {"SUNO_HOOKS_HMAC_KEYS": "whk_hosts_test", "SUNO_HOOKS_INBOX_AUTH": ""}
    with serving("--store", store, env=env, cwd=tmp_path) as (url, _):
        base = url.removesuffix("/suno/callback")
        port = base.rsplit(":", 1)[1]
        refused = httpx.get(base + "/", headers={"Host": f"evil.example:{port}"})
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("text/html")
        assert len(refused.content) < 300
        forged = httpx.post(
            base + "/replay", data={"key": "k", "csrf_token": "t"}, headers={"Host": "evil.example"}
        )
        assert forged.status_code == 400
        assert httpx.get(base + "/", headers={"Host": f"localhost:{port}"}).status_code == 200
        assert httpx.get(base + "/").status_code == 200
