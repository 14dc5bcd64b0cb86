"""The page's guards and validators without a browser: URL safety, filters from the query
string, form and cookie parsing, HTTP Basic, the CSRF token, and answers to bad requests."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suno_hooks import Receiver
from suno_hooks.errors import ConfigurationError
from suno_hooks.inbound import Headers
from suno_hooks.inbox import BasicAuth, InboxCore, PageRequest, SignedCsrf, basic_auth, csrf_key
from suno_hooks.inbox.listing import ListQuery
from suno_hooks.inbox.media import MEDIA_LIFETIME, media, safe_url
from suno_hooks.inbox.wsgi import inbox_wsgi_app
from suno_hooks.stores import MemoryStore

from ..support.browser import wsgi_server
from ..support.inbox_helpers import deliver, failing_handler, song

# The page is what these tests are about: their receivers accept callbacks unverified.
pytestmark = pytest.mark.filterwarnings("ignore::suno_hooks.InsecureReceiverWarning")

TEXT = st.text(st.characters(codec="utf-8"), max_size=80)


@given(TEXT)
def test_safe_url_passes_only_absolute_http_urls(value: str):
    url = safe_url(value)
    if url is not None:
        assert url.lower().startswith(("http://", "https://"))
        assert all(ord(c) >= 33 for c in url)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("https://cdn.example.com/a.mp3", True),
        ("HTTP://cdn.example.com/a.mp3", True),
        ("javascript:alert(1)", False),
        ("data:audio/mp3;base64,AA", False),
        ("//cdn.example.com/a.mp3", False),
        ("/local/a.mp3", False),
        ("https://", False),
        ("https://x/a b", False),
        (None, False),
        (42, False),
    ],
)
def test_safe_url_examples(value: object, shown: bool):
    assert (safe_url(value) is not None) is shown


def test_media_expires_after_fourteen_days():
    now = time.time()
    assert not media("audio", "a", "https://x/a", born=now - MEDIA_LIFETIME + 60, now=now).expired
    old = media("audio", "a", "https://x/a", born=now - MEDIA_LIFETIME - 60, now=now)
    assert old.expired and not old.playable


@given(
    st.dictionaries(
        st.sampled_from(["status", "kind", "stage", "task", "source", "page", "x"]), TEXT
    )
)
def test_any_query_string_gives_a_valid_query(params: dict[str, str]):
    query, problems = ListQuery.from_params(params)
    assert query.page >= 1
    assert query.status in (None, "processing", "done", "failed", "abandoned")
    assert all(len(p) < 200 for p in problems)
    again, _ = ListQuery.from_params(query.params())
    assert again == query


@settings(max_examples=200)
@given(st.binary(max_size=300), st.text(max_size=200), st.sampled_from(["GET", "POST"]))
def test_any_form_body_and_cookie_header_parse_without_error(body: bytes, cookie: str, method: str):
    request = PageRequest(
        method=method,
        path="/replay",
        headers=Headers.of({"content-type": "application/x-www-form-urlencoded", "cookie": cookie}),
        body=body,
    )
    assert isinstance(request.form, dict)
    assert isinstance(request.cookies, dict)
    assert SignedCsrf(b"k" * 32).verify(request) is False


@given(st.text(max_size=120))
def test_basic_auth_refuses_anything_but_its_credentials(header: str):
    auth = BasicAuth("ops", "s3cret")
    request = PageRequest(method="GET", path="/", headers=Headers.of({"authorization": header}))
    assert auth(request) is False
    good = "Basic " + base64.b64encode(b"ops:s3cret").decode()
    assert auth(PageRequest(method="GET", path="/", headers=Headers.of({"authorization": good})))


def test_basic_auth_settings():
    assert isinstance(basic_auth("ops:pw:with:colons"), BasicAuth)
    for bad in ("no-colon", ":pw", "user:"):
        with pytest.raises(ConfigurationError):
            basic_auth(bad)
    assert "s3cret" not in repr(basic_auth(("ops", "s3cret")))


def test_csrf_token_must_match_this_browser_cookie():
    guard = SignedCsrf(b"secret")
    first = PageRequest(method="GET", path="/delivery")
    token, headers = guard.issue(first)
    cookie = headers[0][1].split(";")[0]
    assert "HttpOnly" in headers[0][1] and "SameSite=Strict" in headers[0][1]

    def post(token: str, cookie: str) -> PageRequest:
        return PageRequest(
            method="POST",
            path="/replay",
            headers=Headers.of(
                {"content-type": "application/x-www-form-urlencoded", "cookie": cookie}
            ),
            body=f"csrf_token={token}&key=k".encode(),
        )

    assert guard.verify(post(token, cookie))
    other_token, other_headers = guard.issue(first)
    other_cookie = other_headers[0][1].split(";")[0]
    assert not guard.verify(post(token, other_cookie))
    assert not guard.verify(post(other_token, cookie))
    assert not SignedCsrf(b"another").verify(post(token, cookie))
    assert not guard.verify(post("", cookie))


def test_replay_post_without_a_valid_token_is_refused_and_changes_nothing():
    receiver = Receiver(store=MemoryStore(), require="none")
    with failing_handler(receiver) as handler:
        outcome = deliver(receiver, song("X", audio_url="https://x/a", image_url="https://x/i"))
        assert outcome.delivery is not None
        key = outcome.delivery.key
        with wsgi_server(inbox_wsgi_app(receiver)) as base, httpx.Client(base_url=base) as client:
            page = client.get("/delivery", params={"key": key})
            assert page.status_code == 200 and "suno_inbox_csrf" in client.cookies
            forged = client.post("/replay", data={"key": key, "csrf_token": "forged"})
            assert forged.status_code == 403
            assert "stale or came from another site" in forged.text
            fresh = httpx.post(base + "/replay", data={"key": key})
            assert fresh.status_code == 403
            assert client.get("/replay").status_code == 405
            assert client.get("/nowhere").status_code == 404
            assert handler.runs == 1
        kept = receiver.store.get(key)
        assert kept is not None and kept.status.value == "failed"


def test_page_headers_forbid_framing_and_caching():
    core = InboxCore(Receiver(store=MemoryStore(), require="none"), secret_key="page-secret")
    answer = core.handle(PageRequest(method="GET", path="/"))
    headers = dict(answer.headers)
    assert answer.status == 200
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "text/html; charset=utf-8"


def test_an_unreachable_store_is_a_503_page():
    from suno_hooks.stores import RedisStore

    from ..support.services import free_port

    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.2)
    core = InboxCore(Receiver(store=store, require="none"), secret_key="page-secret")
    answer = core.handle(PageRequest(method="GET", path="/"))
    assert answer.status == 503
    assert b"could not be read" in answer.body and b"Traceback" not in answer.body


def test_a_filter_value_of_escaped_characters_is_quoted_short():
    _, problems = ListQuery.from_params(
        {"status": "0" * 15 + "\U0001136d" * 40, "page": "\x1f" * 80}
    )
    assert len(problems) == 2
    assert all(len(problem) < 200 for problem in problems)


def test_the_csrf_key_is_derived_from_the_receivers_secret_never_the_secret_itself():
    secret = "receiver-secret-value"
    by_token = csrf_key(Receiver(store=MemoryStore(), secret_key=secret))
    assert by_token == csrf_key(Receiver(store=MemoryStore(), secret_key=secret))
    assert by_token != secret.encode() and len(by_token) == 32
    assert by_token != csrf_key(Receiver(store=MemoryStore(), secret_key=secret + "x"))
    by_hmac = csrf_key(Receiver(store=MemoryStore(), hmac_keys=[secret, "older-key"]))
    assert by_hmac == csrf_key(Receiver(store=MemoryStore(), hmac_keys=secret))
    assert by_hmac != secret.encode()
    given = csrf_key(Receiver(store=MemoryStore(), secret_key=secret), "page-secret")
    assert given == csrf_key(Receiver(store=MemoryStore(), require="none"), "page-secret")
    assert given not in (by_token, b"page-secret")


def test_a_page_under_auth_needs_a_secret_a_loopback_page_may_keep_its_own():
    bare = Receiver(store=MemoryStore(), require="none")
    with pytest.raises(ConfigurationError, match="secret_key=") as raised:
        inbox_wsgi_app(bare, auth=BasicAuth("ops", "pw"))
    assert "pw" not in str(raised.value)
    with pytest.raises(ConfigurationError):
        InboxCore(bare)
    assert inbox_wsgi_app(bare).core.csrf.field == "csrf_token"
    assert csrf_key(bare, per_process=True) != csrf_key(bare, per_process=True)


def test_tokens_issued_by_one_worker_verify_in_another():
    def worker() -> InboxCore:
        return InboxCore(Receiver(store=MemoryStore(), hmac_keys=["whk_shared"]))

    token, headers = worker().csrf.issue(PageRequest(method="GET", path="/delivery"))
    cookie = headers[0][1].split(";")[0]
    replay = PageRequest(
        method="POST",
        path="/replay",
        headers=Headers.of({"content-type": "application/x-www-form-urlencoded", "cookie": cookie}),
        body=f"csrf_token={token}&key=k".encode(),
    )
    assert worker().csrf.verify(replay)
    assert not SignedCsrf(b"whk_shared").verify(replay)
