"""`SunoClient` / `AsyncSunoClient` over real HTTP against a scripted Kie-like server."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from suno_hooks import Receiver
from suno_hooks._security.tokens import TOKEN_PARAM
from suno_hooks.client import (
    ApiConnectionError,
    ApiError,
    AsyncSunoClient,
    AuthenticationFailed,
    FeatureDisabled,
    InsufficientCredits,
    InvalidRequest,
    Maintenance,
    RateLimited,
    ServerError,
    SpanRule,
    SpanWarning,
    SunoClient,
    TaskNotFound,
    ValidationFailed,
    feature,
)
from suno_hooks.client.plan import Answer, ClientPlans
from suno_hooks.stores import SQLiteStore, TaskState

from ..support.kie_stub import KieStub, kie
from ..support.services import free_port

__all__ = ["kie"]

KEY = "kie-secret-api-key-123"
RS = "/api/v1/generate/replace-section"
OK = (200, {"code": 200, "msg": "success", "data": {"taskId": "task-001"}})


@pytest.fixture
def receiver(tmp_path: Path) -> Receiver:
    return Receiver(secret_key="s3cret", store=SQLiteStore(tmp_path / "tasks.db"))


def client(kie: KieStub, **options: object) -> SunoClient:
    return SunoClient(KEY, base_url=kie.url, backoff=0, **options)  # type: ignore[arg-type]


def test_replace_section_posts_the_legacy_request_and_expects_the_task(
    kie: KieStub, receiver: Receiver
):
    kie.script(RS, OK)
    with client(kie, receiver=receiver, callback_base="https://app.example/suno/callback") as c:
        submitted = c.replace_section(
            task_id="src-task",
            audio_id="audio-1",
            start=10.5,
            end=20.75,
            prompt="calm piano",
            tags="jazz",
            title="Bridge",
            duration=180,
            full_lyrics="la la",
            context={"user": 42},
        )
    assert (submitted.task_id, submitted.feature) == ("task-001", "replace_section")
    (request,) = kie.seen(RS)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["taskId"] == "src-task" and body["audioId"] == "audio-1"
    assert (body["infillStartS"], body["infillEndS"]) == (10.5, 20.75)
    assert (body["prompt"], body["tags"], body["title"], body["fullLyrics"]) == (
        "calm piano",
        "jazz",
        "Bridge",
        "la la",
    )
    assert body["callBackUrl"] == submitted.callback_url
    token = parse_qs(urlsplit(body["callBackUrl"]).query)[TOKEN_PARAM][0]
    claims = receiver.signer.read(token)  # type: ignore[union-attr]
    assert (claims.feature, claims.context) == ("replace_section", {"user": 42})
    task = receiver.store.get_task("task-001")  # type: ignore[attr-defined]
    assert task is not None and task.state is TaskState.PENDING
    assert (task.feature, task.context) == ("replace_section", {"user": 42})
    assert task.next_poll_at == pytest.approx(task.submitted_at + 600)


def test_market_create_wraps_the_input(kie: KieStub, receiver: Receiver):
    kie.script("/api/v1/jobs/createTask", (200, {"code": 200, "data": {"taskId": "m-1"}}))
    with client(kie, receiver=receiver, callback_base="https://app.example/cb") as c:
        submitted = c.replace_section(
            task_id="src",
            audio_id="a",
            start=0,
            end=12,
            prompt="p",
            tags="t",
            title="x",
            full_lyrics="words",
            market=True,
        )
    (request,) = kie.seen("/api/v1/jobs/createTask")
    assert request.body["model"] == "ai-music-api/replace-section"
    assert request.body["input"] == {
        "task_id": "src",
        "audio_id": "a",
        "prompt": "p",
        "tags": "t",
        "title": "x",
        "full_lyrics": "words",
        "infill_start_s": 0,
        "infill_end_s": 12,
    }
    assert request.body["callBackUrl"] == submitted.callback_url
    assert receiver.store.get_task("m-1").feature == "ai-music-api/replace-section"  # type: ignore[attr-defined]


@pytest.mark.parametrize("market", [False, True])
@pytest.mark.parametrize("lyrics", ["", "   ", None, 7])
def test_replace_section_requires_full_lyrics_on_both_apis(kie: KieStub, market, lyrics):
    # Kie answers 422 "fullLyrics cannot be blank" without it: refuse before spending a request.
    with client(kie) as c, pytest.raises(InvalidRequest, match="full_lyrics"):
        c.replace_section(
            task_id="s", audio_id="a", start=0, end=12, prompt="p", tags="t", title="x",
            full_lyrics=lyrics, market=market,
        )  # fmt: skip
    with client(kie) as c, pytest.raises(TypeError, match="full_lyrics"):
        c.replace_section(  # type: ignore[call-arg]
            task_id="s", audio_id="a", start=0, end=12, prompt="p", tags="t", title="x",
            market=market,
        )  # fmt: skip
    assert kie.requests == []


@pytest.mark.parametrize(
    ("start", "end", "duration", "rule"),
    [
        (-1, 10, None, "start at 0 s or later"),
        (20, 10, None, "end after it starts"),
        (10.555, 20, None, "decimal places"),
        (10, 14, None, "at least 6.0 s"),
        (0, 61, None, "at most 60.0 s"),
        (100, 110, 105, "after the song's end"),
        (math.nan, 10, None, "finite"),
    ],
)
def test_the_span_rule_refuses_before_any_request(
    kie: KieStub, start: float, end: float, duration: float | None, rule: str
):
    with client(kie) as c, pytest.raises(InvalidRequest, match=rule):
        c.replace_section(
            task_id="s", audio_id="a", start=start, end=end, prompt="p", tags="t", title="x",
            full_lyrics="la", duration=duration,
        )  # fmt: skip
    assert kie.requests == []


def test_the_share_rule_warns_by_default_and_can_be_hard(kie: KieStub):
    kie.script(RS, OK)
    with client(kie) as c, pytest.warns(SpanWarning, match="more than 50%"):
        c.replace_section(
            task_id="s", audio_id="a", start=0, end=40, prompt="p", tags="t", title="x",
            full_lyrics="la", duration=60,
        )  # fmt: skip
    strict = SpanRule(share_is_hard=True, min_seconds=10, max_seconds=480)
    with client(kie, span_rule=strict) as c, pytest.raises(InvalidRequest, match="more than 50%"):
        c.replace_section(
            task_id="s", audio_id="a", start=0, end=40, prompt="p", tags="t", title="x",
            full_lyrics="la", duration=60,
        )  # fmt: skip
    assert len(kie.seen(RS)) == 1


@given(
    start=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 1000)),
    end=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 1000)),
    duration=st.one_of(st.none(), st.floats(0, 1000)),
)
@example(start=5.2506636095610994e-12, end=6, duration=None)
def test_span_rule_accepts_exactly_the_documented_spans(start, end, duration):
    rule = SpanRule()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpanWarning)
        refused: InvalidRequest | None = None
        try:
            rule.check(start, end, duration)
        except InvalidRequest as exc:
            refused = exc
    if refused is not None:
        assert str(refused).endswith(".")
        return
    span = round(end - start, 2)
    assert 0 <= start < end and 6 <= span <= 60
    # Two decimals, up to the float noise the rule forgives (a millionth of a hundredth).
    assert round(start, 2) == pytest.approx(start, abs=1e-8)
    assert round(end, 2) == pytest.approx(end, abs=1e-8)
    assert duration is None or end <= duration


ERRORS = [
    (401, AuthenticationFailed),
    (402, InsufficientCredits),
    (404, TaskNotFound),
    (422, ValidationFailed),
    (455, Maintenance),
    (505, FeatureDisabled),
    (501, ApiError),
]


@pytest.mark.parametrize(("code", "kind"), ERRORS)
@pytest.mark.parametrize("http_status", [200, "same"])
def test_documented_errors_are_typed_and_not_retried(kie, code, kind, http_status):
    status = code if http_status == "same" else 200
    kie.script(RS, (status, {"code": code, "msg": f"refused {code}", "data": None}))
    with client(kie) as c, pytest.raises(kind) as raised:
        c.create("replace_section", taskId="s", audioId="a")
    assert type(raised.value) is kind
    assert (raised.value.code, raised.value.message, raised.value.endpoint) == (
        code,
        f"refused {code}",
        RS,
    )
    assert len(kie.seen(RS)) == 1


@pytest.mark.parametrize(
    ("code", "kind"), [(429, RateLimited), (500, ServerError), (503, ServerError)]
)
def test_rate_limits_and_server_errors_are_retried_then_reported(kie, code, kind):
    polling = feature("replace_section").record_path
    kie.script(polling, (code, {"code": code, "msg": "busy"}))
    with client(kie, retries=2) as c, pytest.raises(kind):
        c.record("t", "replace_section")
    assert len(kie.seen(polling)) == 3
    # A create is sent again after a 429 only: after a 5xx, Kie may have made the task.
    kie.script(RS, (code, {"code": code, "msg": "busy"}))
    with client(kie, retries=2) as c, pytest.raises(kind):
        c.create("replace_section", taskId="s")
    assert len(kie.seen(RS)) == (3 if code == 429 else 1)


def test_a_retry_that_succeeds_returns_the_task(kie: KieStub):
    kie.script(
        RS, (429, {"code": 429, "msg": "slow down"}, {"Retry-After": "0"}), (429, b"<html>"), OK
    )
    with client(kie, retries=3) as c:
        assert c.create("replace_section", taskId="s").task_id == "task-001"
    assert len(kie.seen(RS)) == 3


def test_lyrics_use_their_own_code_table(kie: KieStub):
    kie.script("/api/v1/lyrics", (200, {"code": 429, "msg": "credits"}))
    with client(kie) as c, pytest.raises(InsufficientCredits):
        c.create("lyrics", prompt="a song")
    kie.script("/api/v1/lyrics/record-info", (200, {"code": 430, "msg": "too often"}))
    with client(kie, retries=1) as c, pytest.raises(RateLimited):
        c.record("t", "lyrics")
    assert len(kie.seen("/api/v1/lyrics/record-info")) == 2


def test_the_api_key_never_shows(kie: KieStub):
    kie.script(RS, (401, {"code": 401, "msg": f"Invalid key {KEY}"}))
    c = client(kie)
    with pytest.raises(AuthenticationFailed) as raised:
        c.create("replace_section", taskId="s")
    assert KEY not in str(raised.value) and KEY not in repr(c) and KEY not in repr(c.plans)
    assert "***" in str(raised.value)
    c.close()


def test_an_unreachable_api_is_retried_then_reported():
    closed = f"http://127.0.0.1:{free_port()}"
    with (
        SunoClient(KEY, base_url=closed, backoff=0, retries=1) as c,
        pytest.raises(ApiConnectionError) as raised,
    ):
        c.create("generate", prompt="x")
    assert raised.value.code == 0 and KEY not in str(raised.value)


def test_record_reads_the_feature_endpoint(kie: KieStub):
    record = {"code": 200, "msg": "success", "data": {"taskId": "t1", "status": "SUCCESS"}}
    kie.script("/api/v1/jobs/recordInfo", (200, record))
    kie.script(
        "/api/v1/suno/recovery/record-info", (200, {"code": 201, "msg": "running", "data": None})
    )
    with client(kie) as c:
        assert c.record("t1", "ai-music-api/generate") == record
        assert c.record("r1", "recovery")["code"] == 201
    assert kie.seen("/api/v1/jobs/recordInfo")[0].query == {"taskId": "t1"}


def test_unknown_features_and_missing_ids_are_refused(kie: KieStub):
    with client(kie) as c:
        with pytest.raises(InvalidRequest, match="Unknown feature"):
            c.create("karaoke")
        with pytest.raises(InvalidRequest, match="task id"):
            c.record(" ", "lyrics")
    with pytest.raises(InvalidRequest, match="API key"):
        SunoClient("")
    assert kie.requests == []


async def test_the_async_client_shares_the_behaviour(kie: KieStub, receiver: Receiver):
    kie.script(RS, (429, {"code": 429, "msg": "slow down"}), OK)
    async with AsyncSunoClient(
        KEY, base_url=kie.url, backoff=0, receiver=receiver, callback_base="https://a.example/cb"
    ) as c:
        submitted = await c.replace_section(
            task_id="s", audio_id="a", start=1, end=9, prompt="p", tags="t", title="x",
            full_lyrics="la",
        )  # fmt: skip
        with pytest.raises(InvalidRequest):
            await c.replace_section(
                task_id="s", audio_id="a", start=1, end=2, prompt="p", tags="t", title="x",
                full_lyrics="la",
            )  # fmt: skip
        with pytest.raises(InvalidRequest, match="full_lyrics"):
            await c.replace_section(
                task_id="s", audio_id="a", start=1, end=9, prompt="p", tags="t", title="x",
                full_lyrics="",
            )  # fmt: skip
    assert submitted.task_id == "task-001" and len(kie.seen(RS)) == 2
    assert receiver.store.get_task("task-001") is not None  # type: ignore[attr-defined]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    status=st.integers(100, 599),
    body=st.one_of(
        st.binary(max_size=40),
        st.fixed_dictionaries(
            {"code": st.one_of(st.integers(-5, 1000), st.text(max_size=4), st.none())},
            optional={"msg": json_values, "data": json_values},
        ).map(lambda d: __import__("json").dumps(d).encode()),
    ),
    record=st.booleans(),
)
def test_every_answer_is_a_body_or_a_typed_error(status, body, record):
    plans = ClientPlans(KEY)
    error: ApiError | None = None
    try:
        found = plans.read_answer("/api/v1/generate", Answer(status, {}, body), record=record)
    except ApiError as exc:
        error = exc
    if error is not None:
        assert error.code not in (0, 200) and KEY not in str(error)
        assert type(error).retryable == (
            error.code == 429 or (500 <= error.code <= 599 and error.code not in (501, 505))
        )
        return
    assert isinstance(found, dict)
    assert status < 400 or found.get("code") not in (None, 0, 200) or record
