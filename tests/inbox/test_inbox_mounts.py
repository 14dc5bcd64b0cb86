"""The inbox page where applications mount it, under real servers and headless Chromium:
`suno-hooks serve`, Flask, Starlette and the Django admin; unauthenticated access is refused
everywhere it is exposed."""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from flask import Flask, session
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from suno_hooks import Receiver
from suno_hooks.contrib.flask import SunoHooks
from suno_hooks.contrib.starlette import inbox_routes, suno_routes
from suno_hooks.errors import ConfigurationError, SunoHooksWarning
from suno_hooks.inbox.request import MAX_FORM
from suno_hooks.stores import MemoryStore

from ..support.browser import asgi_server, browser, follow, wsgi_server
from ..support.cli_helpers import run_cli, serving
from ..support.inbox_helpers import deliver, failing_handler, song

# The page is what these tests are about: their receivers accept callbacks unverified.
pytestmark = pytest.mark.filterwarnings("ignore::suno_hooks.InsecureReceiverWarning")

__all__ = ["browser"]


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# -- Flask -----------------------------------------------------------------------------------


def flask_app(receiver: Receiver, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="flask-test-secret", **config)

    @app.get("/login")
    def login() -> str:
        session["ops"] = True
        return "signed in"

    return app


def test_flask_inbox_behind_the_apps_check_replays_in_the_browser(browser: WebDriver):
    receiver = Receiver(store=MemoryStore(), require="none")
    app = flask_app(receiver)
    SunoHooks(app, receiver=receiver, inbox=True, inbox_auth=lambda: bool(session.get("ops")))
    with failing_handler(receiver) as handler:
        outcome = deliver(
            receiver, song("Flask song", audio_url="https://x/f.mp3", image_url="https://x/f.png")
        )
        assert outcome.delivery is not None
        with wsgi_server(app) as base:
            refused = httpx.get(base + "/suno/inbox/")
            assert refused.status_code == 403 and "Flask song" not in refused.text
            assert (
                httpx.get(
                    base + "/suno/inbox/delivery", params={"key": outcome.delivery.key}
                ).status_code
                == 403
            )
            browser.get(base + "/login")
            browser.get(base + "/suno/inbox/")
            assert browser.find_element(By.CSS_SELECTOR, "td.summary a").text == "Flask song"
            assert (
                browser.find_element(By.CSS_SELECTOR, "link[rel=stylesheet]").get_attribute("href")
                == base + "/suno/inbox/inbox.css"
            )
            follow(browser, browser.find_element(By.CSS_SELECTOR, "td.when a"))
            handler.broken = False
            follow(browser, browser.find_element(By.CSS_SELECTOR, "form.replay button"))
            assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "done"
            assert httpx.post(base + "/suno/callback", content=b"{}").status_code == 400


def test_flask_inbox_with_basic_auth_from_config():
    receiver = Receiver(store=MemoryStore(), require="none")
    app = flask_app(receiver, SUNO_HOOKS_INBOX=True, SUNO_HOOKS_INBOX_AUTH="ops:pw")
    with warnings.catch_warnings():
        # The inbox keys are known config keys: the extension warns of none. (Only its own
        # warnings: another test's objects collected meanwhile may warn of their own.)
        warnings.simplefilter("error", SunoHooksWarning)
        SunoHooks(app, receiver=receiver)
    client = app.test_client()
    refused = client.get("/suno/inbox/")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('Basic realm="suno-hooks inbox"')
    assert client.get("/suno/inbox/", headers=basic("ops", "nope")).status_code == 401
    assert client.get("/suno/inbox/", headers=basic("ops", "pw")).status_code == 200
    assert (
        client.post("/suno/inbox/replay", headers=basic("ops", "pw"), data={"key": "k"}).status_code
        == 403
    )


def test_flask_inbox_is_off_by_default_and_needs_an_auth_setting():
    receiver = Receiver(store=MemoryStore(), require="none")
    app = flask_app(receiver)
    SunoHooks(app, receiver=receiver)
    assert app.test_client().get("/suno/inbox/").status_code == 404
    with pytest.raises(ConfigurationError, match="SUNO_HOOKS_INBOX_AUTH"):
        SunoHooks(flask_app(receiver, SUNO_HOOKS_INBOX=True), receiver=receiver)


class CountingInput:
    """A WSGI input stream over bytes that counts how many it gave."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)
        self.given = 0

    def _count(self, chunk: bytes) -> bytes:
        self.given += len(chunk)
        return chunk

    def read(self, size: int | None = -1) -> bytes:
        return self._count(self._stream.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(self._stream.readline(size))

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_flask_inbox_reads_at_most_a_form_of_a_32_mib_body(signed_in: bool, chunked: bool):
    from werkzeug.test import create_environ

    receiver = Receiver(store=MemoryStore(), require="none")
    app = flask_app(receiver, SUNO_HOOKS_INBOX=True, SUNO_HOOKS_INBOX_AUTH="ops:pw")
    SunoHooks(app, receiver=receiver)
    huge = b"key=k&csrf_token=" + b"x" * (32 * 1024 * 1024)
    stream = CountingInput(huge)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    environ = create_environ(
        "/suno/inbox/replay",
        method="POST",
        headers=basic("ops", "pw") | headers if signed_in else headers,
    )
    environ["wsgi.input"] = stream
    if chunked:  # no length: the server marks where the body ends
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(len(huge))
    answered: list[str] = []
    b"".join(app(environ, lambda status, _headers, _exc=None: answered.append(status)))
    assert answered == ["403 FORBIDDEN" if signed_in else "401 UNAUTHORIZED"]
    if not signed_in:
        assert stream.given == 0
    # A body of unknown length is read one byte past MAX_FORM, to tell it is longer.
    assert stream.given <= (MAX_FORM + 1 if chunked else MAX_FORM)


# -- Starlette -------------------------------------------------------------------------------


def starlette_app(receiver: Receiver, auth: Any) -> Starlette:
    return Starlette(
        routes=[
            Mount("/suno", routes=suno_routes(receiver)),
            Mount(
                "/ops/inbox",
                routes=inbox_routes(receiver, auth=auth, secret_key="starlette-inbox-secret"),
            ),
        ]
    )


def test_starlette_inbox_with_basic_auth_in_the_browser(browser: WebDriver):
    receiver = Receiver(store=MemoryStore(), require="none")
    outcome = deliver(
        receiver, song("Starlette song", audio_url="https://x/s.mp3", image_url="https://x/s.png")
    )
    assert outcome.delivery is not None
    with asgi_server(starlette_app(receiver, "ops:pw")) as base:
        refused = httpx.get(base + "/ops/inbox/")
        assert refused.status_code == 401 and "Starlette song" not in refused.text
        browser.get(base + "/ops/inbox/")
        assert "Starlette song" not in browser.page_source
        browser.get(base.replace("http://", "http://ops:pw@") + "/ops/inbox/")
        assert browser.find_element(By.CSS_SELECTOR, "td.summary a").text == "Starlette song"
        follow(browser, browser.find_element(By.CSS_SELECTOR, "td.when a"))
        audio = browser.find_element(By.TAG_NAME, "audio")
        assert audio.get_attribute("src") == "https://x/s.mp3"


def test_starlette_inbox_with_an_async_request_check():
    receiver = Receiver(store=MemoryStore(), require="none")

    async def is_staff(request: Request) -> bool:
        return request.headers.get("x-staff") == "yes"

    check: Callable[[Request], Awaitable[bool]] = is_staff
    with asgi_server(starlette_app(receiver, check)) as base:
        assert httpx.get(base + "/ops/inbox/").status_code == 403
        assert httpx.get(base + "/ops/inbox/", headers={"x-staff": "yes"}).status_code == 200
    with pytest.raises(TypeError):
        inbox_routes(receiver, auth=None)


# -- suno-hooks serve ------------------------------------------------------------------------


def test_serve_shows_the_inbox_at_the_root_beside_the_callback(tmp_path, browser: WebDriver):
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    env = {"SUNO_HOOKS_HMAC_KEYS": "", "SUNO_HOOKS_SECRET_KEY": ""}
    with serving("--store", store, env=env, cwd=tmp_path) as (url, _):
        base = url.removesuffix("/suno/callback")
        sent = run_cli("send", url, "--kind", "lyrics", "--task-id", "c" * 32, env=env)
        assert sent.returncode == 0, sent.stderr
        browser.get(base + "/")
        assert browser.title == "Deliveries · suno-hooks inbox"
        assert texts_of(browser, "td.mono a") == ["c" * 32]
        assert texts_of(browser, "td span.kind") == ["lyrics"]


def test_serve_without_the_inbox_and_refusing_open_hosts(tmp_path):
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    with serving("--store", store, "--no-inbox", cwd=tmp_path) as (url, _):
        answer = httpx.get(url.removesuffix("/suno/callback") + "/")
        assert answer.status_code == 404 and answer.json()["error"] == "not_found"
    refused = run_cli(
        "serve",
        "--host",
        "0.0.0.0",
        "--store",
        store,
        "--hmac-key",
        "k",
        env={"SUNO_HOOKS_INBOX_AUTH": ""},
    )
    assert refused.returncode == 2
    assert "Refusing to serve the inbox page on 0.0.0.0 without --inbox-auth" in refused.stderr
    with serving("--store", store, "--inbox-auth", "ops:pw", cwd=tmp_path) as (url, _):
        base = url.removesuffix("/suno/callback")
        assert httpx.get(base + "/").status_code == 401
        assert httpx.get(base + "/", headers=basic("ops", "pw")).status_code == 200


def texts_of(browser: WebDriver, selector: str) -> list[str]:
    return [element.text for element in browser.find_elements(By.CSS_SELECTOR, selector)]
