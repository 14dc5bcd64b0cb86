"""Flask specifics: app as sender, config keys, app factories, CSRF, callback URLs, body limits."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

from suno_hooks import Event, Receiver, task_completed
from suno_hooks.contrib.flask import SunoHooks
from suno_hooks.errors import ConfigurationError
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY, SECRET, Calls, unverified_receiver


def make_app(**config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    return app


def post(app: Flask, body: Any, path: str = "/suno/callback", **kwargs: Any) -> Any:
    raw = encode(body)
    headers = kwargs.pop("headers", None)
    return app.test_client().post(path, data=raw, headers=headers, **kwargs)


def test_signals_are_sent_with_the_app_as_sender(calls: Calls):
    app = make_app()
    other = make_app()
    SunoHooks(app, receiver=unverified_receiver(store=MemoryStore()))
    seen: list[tuple[Any, Event]] = []
    elsewhere: list[Event] = []

    def on_app(sender: Any, event: Event, **extra: Any) -> None:
        seen.append((sender, event))

    def on_other(sender: Any, event: Event, **extra: Any) -> None:
        elsewhere.append(event)

    task_completed.connect(on_app, sender=app)
    task_completed.connect(on_other, sender=other)
    try:
        response = post(app, make_callback())
    finally:
        task_completed.disconnect(on_app, sender=app)
        task_completed.disconnect(on_other, sender=other)
    assert response.status_code == 200
    assert response.get_json() == {"status": "received"}
    assert len(seen) == 1 and seen[0][0] is app
    assert elsewhere == []
    assert calls.count == 1


def test_connect_via_decorator_and_duplicates_run_once():
    app = make_app()
    SunoHooks(app, receiver=unverified_receiver(store=MemoryStore()))
    titles: list[str] = []

    @task_completed.connect_via(app)
    def save(sender: Any, event: Event, **extra: Any) -> None:
        titles.extend(track.title or "" for track in event.tracks)

    body = make_callback()
    try:
        assert post(app, body).get_json() == {"status": "received"}
        assert post(app, body).get_json() == {"status": "duplicate"}
    finally:
        task_completed.disconnect(save, sender=app)
    assert titles == ["Neon Rain", "Neon Rain (Take 2)"]


def test_failing_receiver_is_kept_failed_and_rerun_on_redelivery():
    store = MemoryStore()
    app = make_app()
    SunoHooks(app, receiver=unverified_receiver(store=store))
    attempts: list[int] = []

    def flaky(sender: Any, event: Event, **extra: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("disk full")

    body = make_callback()
    key = f"{body['data']['task_id']}:complete"
    with task_completed.connected_to(flaky, sender=app):
        assert post(app, body).status_code == 200
        kept = store.get(key)
        assert kept is not None and kept.status == "failed" and "disk full" in (kept.error or "")
        assert post(app, body).get_json() == {"status": "received"}
    assert len(attempts) == 2
    done = store.get(key)
    assert done is not None and done.status == "done"


@pytest.mark.parametrize("csrf_first", [True, False])
@pytest.mark.filterwarnings("ignore::suno_hooks.InsecureReceiverWarning")
def test_csrf_protect_does_not_block_the_endpoint(csrf_first: bool, calls: Calls):
    app = make_app(SECRET_KEY="app-secret", SUNO_HOOKS_REQUIRE="none")
    csrf = CSRFProtect()
    if csrf_first:
        csrf.init_app(app)
        SunoHooks(app)
    else:
        SunoHooks(app)
        csrf.init_app(app)

    @app.post("/form")
    def form() -> str:
        return "saved"

    client = app.test_client()
    assert client.post("/form", data={"name": "x"}).status_code == 400
    reply = client.post("/suno/callback", data=encode(make_callback()))
    assert reply.status_code == 200, reply.get_data()
    assert reply.get_json() == {"status": "received"}
    assert client.post("/form", data={"name": "x"}).status_code == 400
    assert calls.count == 1


def test_app_factory_builds_one_receiver_per_app_from_its_config():
    hooks = SunoHooks()

    def create_app(**config: Any) -> Flask:
        app = make_app(**config)
        hooks.init_app(app)
        return app

    signed_app = create_app(SUNO_HOOKS_HMAC_KEYS=[HMAC_KEY], SUNO_HOOKS_STORE="memory://")
    token_app = create_app(SECRET_KEY=SECRET, SUNO_HOOKS_URL_PREFIX="/hooks/suno/")
    assert signed_app.extensions["suno_hooks"] is hooks
    signed = hooks.receiver_for(signed_app)
    token = hooks.receiver_for(token_app)
    assert signed is not token
    assert signed.require == "signature" and isinstance(signed.store, MemoryStore)
    assert token.require == "token"

    body = make_callback()
    assert post(signed_app, body).get_json()["error"] == "missing_signature"
    assert post(signed_app, body, headers=sign_headers(body, HMAC_KEY)).status_code == 200
    assert post(token_app, body, path="/suno/callback").status_code == 404
    assert post(token_app, body, path="/hooks/suno/callback").get_json() == {
        "error": "invalid_token",
        "detail": "A signed callback URL token is required.",
    }
    with token_app.test_request_context("/"):
        url = hooks.callback_url(context={"user": 7})
    query = urlsplit(url).query
    reply = post(token_app, body, path=f"/hooks/suno/callback?{query}")
    assert reply.get_json() == {"status": "received"}


def test_config_keys():
    app = make_app(
        SECRET_KEY="flask-secret",
        SUNO_HOOKS_HMAC_KEYS=f"{HMAC_KEY}, old-key",
        SUNO_HOOKS_SECRET_KEY="hooks-secret",
        SUNO_HOOKS_REQUIRE="either",
        SUNO_HOOKS_TOLERANCE="30",
        SUNO_HOOKS_ALLOWED_IPS=["127.0.0.0/8"],
        SUNO_HOOKS_MAX_BODY=4096,
    )
    receiver = SunoHooks(app).receiver
    assert receiver.require == "either"
    assert receiver.verifier is not None and receiver.verifier.tolerance == 30.0
    assert receiver.max_body == 4096 and receiver.sources is not None
    url = receiver.callback_url("https://x.test/cb")
    assert Receiver(secret_key="hooks-secret").signer.read(
        parse_qs(urlsplit(url).query)["token"][0]
    )  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError):
        SunoHooks(make_app(SUNO_HOOKS_TOLERANCE="soon"))
    with pytest.raises(ConfigurationError):
        SunoHooks(make_app(SUNO_HOOKS_REQUIRE="signature"))


def test_a_ready_receiver_wins_over_config():
    ready = unverified_receiver(store=MemoryStore())
    hooks = SunoHooks()
    app = make_app(SUNO_HOOKS_HMAC_KEYS=[HMAC_KEY])
    hooks.init_app(app, receiver=ready)
    assert hooks.receiver_for(app) is ready
    with app.app_context():
        assert hooks.receiver is ready


def test_callback_url_inside_a_request_uses_the_request_host():
    app = make_app(SECRET_KEY=SECRET)
    hooks = SunoHooks(app)
    with app.test_request_context("/submit", base_url="https://music.example.com"):
        url = hooks.callback_url(context={"user": 42}, feature="replace_section")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "music.example.com",
        "/suno/callback",
    )
    reply = post(app, make_callback(), path=f"/suno/callback?{parts.query}")
    assert reply.get_json() == {"status": "received"}


def test_callback_url_outside_a_request_uses_server_name(calls: Calls):
    app = make_app(SECRET_KEY=SECRET, SERVER_NAME="api.example.com", PREFERRED_URL_SCHEME="https")
    hooks = SunoHooks(app)
    url = hooks.callback_url(context={"user": 42}, feature="lyrics")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "api.example.com",
        "/suno/callback",
    )
    client = app.test_client()
    reply = client.post(
        f"/suno/callback?{parts.query}",
        data=encode(make_callback("lyrics", "error")),
        base_url="https://api.example.com",
    )
    assert reply.get_json() == {"status": "received"}
    event = calls.events[0]
    assert event.context == {"user": 42} and event.feature == "lyrics" and event.kind == "lyrics"


def test_callback_url_outside_an_app_context_needs_the_bound_app():
    hooks = SunoHooks()
    hooks.init_app(make_app(SECRET_KEY=SECRET, SERVER_NAME="x.test"))
    with pytest.raises(RuntimeError):
        hooks.callback_url()


def test_trailing_slash_and_other_methods_are_answered_not_redirected(calls: Calls):
    app = make_app()
    SunoHooks(app, receiver=unverified_receiver(store=MemoryStore()))
    client = app.test_client()
    assert client.post("/suno/callback/", data=encode(make_callback())).status_code == 200
    for method in ("GET", "PUT", "DELETE", "OPTIONS"):
        reply = client.open("/suno/callback", method=method)
        assert reply.status_code == 405
        assert reply.headers["Allow"] == "POST"
        assert reply.get_json()["error"] == "method_not_allowed"
    assert calls.count == 1


def test_chunked_body_is_bounded(calls: Calls):
    app = make_app()
    SunoHooks(app, receiver=unverified_receiver(store=MemoryStore(), max_body=100))
    reply = app.test_client().post(
        "/suno/callback",
        input_stream=io.BytesIO(b"x" * 10_000),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert reply.status_code == 413 and reply.get_json()["error"] == "payload_too_large"
    assert calls.count == 0


def test_chunked_body_within_the_limit_is_read(calls: Calls):
    app = make_app()
    SunoHooks(app, receiver=unverified_receiver(store=MemoryStore()))
    reply = app.test_client().post(
        "/suno/callback",
        input_stream=io.BytesIO(encode(make_callback())),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert reply.get_json() == {"status": "received"}
    assert calls.count == 1


def test_app_max_content_length_is_a_json_413(calls: Calls):
    app = make_app(MAX_CONTENT_LENGTH=50)
    SunoHooks(app, receiver=unverified_receiver(store=MemoryStore()))
    reply = post(app, make_callback())
    assert reply.status_code == 413
    assert reply.get_json()["error"] == "payload_too_large"
    assert calls.count == 0


def test_body_already_read_by_an_earlier_hook_is_still_seen(calls: Calls):
    app = make_app()
    SunoHooks(app, receiver=unverified_receiver(store=MemoryStore()))
    sizes: list[int] = []

    @app.before_request
    def audit() -> None:
        sizes.append(len(request.get_data(cache=True)))

    body = make_callback()
    assert post(app, body).get_json() == {"status": "received"}
    assert sizes == [len(encode(body))]
    assert calls.events[0].raw == json.loads(encode(body))


def test_an_unknown_config_key_is_refused_with_the_closest_known_key():
    typo = "SUNO_HOOKS_HMAC_KEY \\(did you mean SUNO_HOOKS_HMAC_KEYS\\?\\)"
    with pytest.raises(ConfigurationError, match=typo):
        SunoHooks(make_app(SUNO_HOOKS_HMAC_KEY=HMAC_KEY, SUNO_HOOKS_STORE="memory://"))
    with pytest.raises(ConfigurationError, match="unknown suno-hooks key SUNO_HOOKS_COLOUR;"):
        SunoHooks(make_app(SUNO_HOOKS_COLOUR="blue", SUNO_HOOKS_HMAC_KEYS=[HMAC_KEY]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SunoHooks(make_app(SUNO_HOOKS_HMAC_KEYS=[HMAC_KEY], SUNO_HOOKS_URL_PREFIX="/hooks"))


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"SUNO_HOOKS_HMAC_KEYS": ""},
        {"SUNO_HOOKS_HMAC_KEYS": [""]},
        {"SUNO_HOOKS_HMAC_KEYS": [None]},
        {"SUNO_HOOKS_SECRET_KEY": "", "SECRET_KEY": "app-secret"},
    ],
)
def test_a_config_without_a_usable_key_is_refused(config: dict[str, Any]):
    with pytest.raises(ConfigurationError):
        SunoHooks(make_app(SUNO_HOOKS_STORE="memory://", **config))


def test_token_max_age_lease_and_retry_on_error_come_from_config():
    app = make_app(
        SUNO_HOOKS_HMAC_KEYS=[HMAC_KEY],
        SUNO_HOOKS_STORE="memory://",
        SUNO_HOOKS_SECRET_KEY="hooks-secret",
        SUNO_HOOKS_TOKEN_MAX_AGE="3600",
        SUNO_HOOKS_LEASE=12.5,
        SUNO_HOOKS_RETRY_ON_ERROR="true",
    )
    receiver = SunoHooks(app).receiver_for(app)
    assert receiver.signer is not None and receiver.signer.max_age == 3600
    assert receiver.lease == 12.5 and receiver.retry_on_error is True

    @task_completed.connect_via(app)
    def fail(sender: Any, event: Any, **extra: Any) -> None:
        raise RuntimeError("disk full")

    body = encode(make_callback())
    answer = post(app, body, headers=sign_headers(body, HMAC_KEY))
    assert answer.status_code == 500 and answer.json["error"] == "handler_error"
    with pytest.raises(ConfigurationError):
        SunoHooks(make_app(SUNO_HOOKS_RETRY_ON_ERROR="sometimes"))
    with pytest.raises(ConfigurationError):
        SunoHooks(make_app(SUNO_HOOKS_LEASE="long"))
