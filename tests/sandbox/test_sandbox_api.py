"""The sandbox's Kie-compatible endpoints over HTTP (uvicorn in a thread of the test process):
the Bearer key, required fields, the span rule, scenarios, polling answers that follow a task,
the control API; hypothesis: a create body never gets a 500 or an undocumented code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from httpx import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suno_hooks.sandbox import FAMILIES, MARKET_MODELS, Sandbox, Timing, serve_asgi
from suno_hooks.sandbox.families import MARKET_CREATE_PATH, MARKET_POLL_PATH
from suno_hooks.sandbox.records import poll_record
from suno_hooks.sandbox.results import make_results
from suno_hooks.sandbox.scenarios import plan_steps
from suno_hooks.sandbox.tasks import Task

from ..conftest import fixture_json
from ..support.sandbox_helpers import MARKET_REQUESTS, REQUESTS

AUTH = {"Authorization": "Bearer test-key"}
CALLBACK = "http://127.0.0.1:9/suno/callback"  # never called: every callback is dropped here
DOCUMENTED_CREATE_CODES = {200, 401, 413, 422}


@contextmanager
def serving(sandbox: Sandbox) -> Iterator[Client]:
    """An HTTP client on `sandbox` served by uvicorn in a background thread."""
    with serve_asgi(sandbox.app) as url, Client(base_url=url) as http:
        yield http


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """A sandbox that drops every callback, so nothing leaves the process."""
    with serving(Sandbox(api_key="test-key", scenarios=["drop@all"])) as http:
        yield http


def create(client: Client, path: str, body: Any, headers: dict[str, str] = AUTH) -> Any:
    response = client.post(path, content=json.dumps(body), headers=headers)
    assert response.status_code == 200
    return response.json()


def valid(feature: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    path, body = REQUESTS[feature]
    return path, {**body, "callBackUrl": CALLBACK, **changes}


@pytest.mark.parametrize("feature", sorted(REQUESTS))
def test_a_valid_create_request_answers_a_task_id(client: Client, feature: str) -> None:
    path, body = valid(feature)
    answer = create(client, path, body)
    assert answer["code"] == 200 and answer["msg"] == "success"
    assert len(answer["data"]["taskId"]) == 32


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic test-key"}, {"Authorization": "Bearer wrong"}]
)
def test_the_bearer_key_is_required(client: Client, headers: dict[str, str]) -> None:
    path, body = valid("generate")
    answer = create(client, path, body, headers)
    assert answer["code"] == 401 and answer["data"] is None
    poll = client.get("/api/v1/generate/record-info", params={"taskId": "x"}, headers=headers)
    assert poll.json()["code"] == 401


@pytest.mark.parametrize(
    ("feature", "field"),
    [(f, name) for f, family in sorted(FAMILIES.items()) for name in family.required],
)
def test_each_required_field_is_checked(client: Client, feature: str, field: str) -> None:
    path, body = valid(feature)
    del body[field]
    message = "Please enter callBackUrl." if field == "callBackUrl" else f"Please enter {field}"
    assert create(client, path, body) == {"code": 422, "msg": message, "data": None}


def test_extend_with_its_own_parameters_requires_them() -> None:
    sandbox = Sandbox(scenarios=["drop@all"])
    with serving(sandbox) as client:
        path, body = valid("extend", defaultParamFlag=True, style="jazz", title="More")
        assert create(client, path, body)["msg"] == "Please enter continueAt"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (10, 15.99, "must be between 6 and 60 seconds"),
        (10, 70.01, "must be between 6 and 60 seconds"),
        (20, 10, "infillStartS must be less than infillEndS"),
        (-1, 10, "infillStartS must be 0 or more"),
        (10.123, 20, "infillStartS must have at most two decimal places"),
        ("10", 20, "infillStartS must be a number"),
    ],
)
def test_the_replace_section_span_rule(client: Client, start: Any, end: Any, message: str) -> None:
    path, body = valid("replace_section", infillStartS=start, infillEndS=end)
    answer = create(client, path, body)
    assert answer["code"] == 422 and message in answer["msg"]


@pytest.mark.parametrize(
    ("feature", "changes", "code", "message"),
    [
        ("generate", {"callBackUrl": "ftp://x/y"}, 422, "callBackUrl must be an http or https URL"),
        ("generate", {"model": "V9"}, 422, "model must be one of"),
        ("generate", {"customMode": "yes"}, 422, "customMode must be true or false"),
        ("mashup", {"uploadUrlList": ["https://a.example/x.mp3"]}, 422, "exactly 2"),
        ("lyrics", {"prompt": "x" * 201}, 413, "at most 200 characters"),
        ("vocal_removal", {"type": "karaoke"}, 422, "type must be one of"),
        ("upload_extend", {"continueAt": 0}, 422, "continueAt must be greater than 0"),
        ("wav", {"sandbox": ["explode"]}, 422, "Unknown sandbox scenario"),
        ("wav", {"sandbox": ["fail:531"]}, 422, "document the failure codes 400, 451, 500, 501"),
        ("wav", {"sandbox": ["reorder"]}, 422, "needs a family with a first stage"),
        ("wav", {"sandbox": ["variant:5"]}, 422, "documented spellings"),
        ("wav", {"sandbox": ["duplicate@first"]}, 422, "targets a stage"),
        ("wav", {"sandbox": 7}, 422, "list of scenario names"),
    ],
)
def test_bad_fields_and_scenarios_get_documented_errors(
    client: Client, feature: str, changes: dict[str, Any], code: int, message: str
) -> None:
    path, body = valid(feature, **changes)
    answer = create(client, path, body)
    assert answer["code"] == code and message in answer["msg"], answer


@pytest.mark.parametrize("raw", [b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe", b"null"])
def test_a_body_that_is_not_a_json_object_gets_422(client: Client, raw: bytes) -> None:
    for path in ("/api/v1/generate", MARKET_CREATE_PATH):
        answer = client.post(path, content=raw, headers=AUTH).json()
        assert answer["code"] == 422


@pytest.mark.parametrize("model", sorted(MARKET_REQUESTS))
def test_market_create_and_record_info(client: Client, model: str) -> None:
    body = {"model": model, "callBackUrl": CALLBACK, "input": MARKET_REQUESTS[model]}
    task_id = create(client, MARKET_CREATE_PATH, body)["data"]["taskId"]
    answer = client.get(MARKET_POLL_PATH, params={"taskId": task_id}, headers=AUTH).json()
    assert answer["code"] == 200 and answer["msg"] == "success"
    assert answer["data"]["taskId"] == task_id and answer["data"]["model"] == model
    param = answer["data"]["param"]
    assert param["model"] == model and json.loads(param["input"]) == body["input"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"callBackUrl": CALLBACK, "input": {}}, "Please enter model"),
        ({"model": "ai-music-api/unknown", "callBackUrl": CALLBACK, "input": {}}, "not a Suno"),
        ({"model": "ai-music-api/generate", "callBackUrl": CALLBACK}, "Please enter input"),
        ({"model": "ai-music-api/generate", "input": {"prompt": "x"}}, "Please enter callBackUrl"),
        (
            {
                "model": "ai-music-api/replace-section",
                "callBackUrl": CALLBACK,
                "input": {**MARKET_REQUESTS["ai-music-api/replace-section"], "infill_end_s": 12},
            },
            "(infill_end_s - infill_start_s) must be between 6 and 60 seconds",
        ),
    ],
)
def test_market_create_errors(client: Client, body: dict[str, Any], message: str) -> None:
    answer = create(client, MARKET_CREATE_PATH, body)
    assert answer["code"] == 422 and message in answer["msg"]


def test_polling_an_unknown_task_or_the_wrong_family_answers_data_null(client: Client) -> None:
    path, body = valid("wav")
    task_id = create(client, path, body)["data"]["taskId"]
    assert (
        client.get("/api/v1/wav/record-info", params={"taskId": task_id}, headers=AUTH).json()[
            "data"
        ]["taskId"]
        == task_id
    )
    unknown = fixture_json("api/record-info.unknown-task.json")
    for wrong in ("/api/v1/generate/record-info", "/api/v1/lyrics/record-info"):
        assert client.get(wrong, params={"taskId": task_id}, headers=AUTH).json() == unknown
    answer = client.get("/api/v1/wav/record-info", params={"taskId": "nope"}, headers=AUTH)
    assert answer.json() == unknown
    answer = client.get("/api/v1/wav/record-info", headers=AUTH)
    assert answer.json() == {"code": 422, "msg": "Please enter taskId", "data": None}


def test_an_unknown_path_answers_in_kie_shape(client: Client) -> None:
    response = client.post("/api/v1/nothing-here", json={}, headers=AUTH)
    assert response.status_code == 404 and response.json()["code"] == 404


def _task(feature: str, failing: bool = False) -> Task:
    family = FAMILIES[feature]
    params = dict(REQUESTS[feature][1])
    task = Task(
        family=family,
        callback_url=CALLBACK,
        params=params,
        request=params,
        results={},
        scenarios=(),
        steps=plan_steps(family, (), failing),
        failure=family.default_failure if failing else None,
    )
    task.results = make_results(task.task_id, family.kind, feature, params)
    return task


def test_the_music_record_follows_the_stages_reached() -> None:
    task = _task("generate")
    seen = []
    for stage in (None, "text", "first", "complete"):
        if stage:
            task.reach(stage)
        record = poll_record(task)
        seen.append((record["status"], len(record["response"]["sunoData"])))
    assert seen == [("PENDING", 0), ("TEXT_SUCCESS", 0), ("FIRST_SUCCESS", 1), ("SUCCESS", 2)]
    track = poll_record(task)["response"]["sunoData"][0]
    assert {"audioUrl", "streamAudioUrl", "imageUrl", "modelName", "createTime"} <= set(track)
    assert poll_record(task)["callbackUrl"] == CALLBACK


@pytest.mark.parametrize(
    ("feature", "pending", "success", "failed"),
    [
        ("lyrics", "PENDING", "SUCCESS", "GENERATE_LYRICS_FAILED"),
        ("wav", "PENDING", "SUCCESS", "GENERATE_WAV_FAILED"),
        ("vocal_removal", "PENDING", "SUCCESS", "GENERATE_AUDIO_FAILED"),
        ("midi", 0, 1, 3),
        ("video", "PENDING", "SUCCESS", "GENERATE_MP4_FAILED"),
        ("cover_image", 0, 1, 3),
    ],
)
def test_single_result_records_follow_the_task(
    feature: str, pending: Any, success: Any, failed: Any
) -> None:
    key = "status" if feature == "lyrics" else "successFlag"
    task = _task(feature)
    assert poll_record(task)[key] == pending
    task.reach("complete")
    assert poll_record(task)[key] == success
    broken = _task(feature, failing=True)
    broken.reach("error")
    record = poll_record(broken)
    assert record[key] == (failed if feature != "lyrics" else "SENSITIVE_WORD_ERROR")
    assert record["errorMessage"]


def test_the_control_api_sets_scenarios_and_lists_tasks() -> None:
    sandbox = Sandbox(scenarios=["drop@all"])
    with serving(sandbox) as client:
        state = client.put("/sandbox/scenarios", json={"scenarios": ["duplicate"], "next": True})
        assert state.json()["next"] == ["duplicate"]
        path, body = valid("wav")
        first = create(client, path, body)["data"]["taskId"]
        second = create(client, path, body)["data"]["taskId"]
        tasks = {t["task_id"]: t for t in client.get("/sandbox/tasks").json()["tasks"]}
        assert tasks[first]["scenarios"] == ["drop@all", "duplicate"]
        assert tasks[second]["scenarios"] == ["drop@all"]
        waited = client.get(f"/sandbox/tasks/{first}/wait", params={"timeout": 5}).json()
        assert waited["state"] == "settled" and waited["reached"] == ["complete"]
        bad = client.put("/sandbox/scenarios", json={"scenarios": ["nope"]})
        assert bad.status_code == 422 and bad.json()["error"] == "invalid_scenario"
        assert client.get("/sandbox/tasks/unknown").status_code == 404
        assert client.post("/sandbox/reset").json() == {"status": "reset"}
        assert client.get("/sandbox/tasks").json() == {"tasks": []}
        assert client.get("/sandbox/scenarios").json()["scenarios"] == ["drop@all"]


def test_waiting_for_a_task_that_does_not_settle_times_out() -> None:
    sandbox = Sandbox(timing=Timing(first_delay=60), scenarios=["drop@all"])
    with serving(sandbox) as client:
        path, body = valid("lyrics")
        task_id = create(client, path, body)["data"]["taskId"]
        answer = client.get(f"/sandbox/tasks/{task_id}/wait", params={"timeout": 0.01})
        assert answer.status_code == 408 and answer.json()["task"]["state"] == "running"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@st.composite
def create_bodies(draw: st.DrawFn) -> tuple[str, Any]:
    """A create request near the valid one: fields dropped, retyped, or noise added."""
    if draw(st.booleans()):
        model = draw(st.sampled_from([*sorted(MARKET_MODELS), "other"]))
        inputs = dict(MARKET_REQUESTS.get(model, {"prompt": "x"}))
        body: dict[str, Any] = {"model": model, "callBackUrl": CALLBACK, "input": inputs}
        target = inputs if draw(st.booleans()) else body
        path = MARKET_CREATE_PATH
    else:
        path, body = valid(draw(st.sampled_from(sorted(REQUESTS))))
        target = body
    for name in draw(st.lists(st.sampled_from(sorted(target) or ["x"]), max_size=3)):
        if draw(st.booleans()):
            target.pop(name, None)
        else:
            target[name] = draw(_json_values)
    if draw(st.booleans()):
        body["sandbox"] = draw(
            st.lists(st.sampled_from(["drop", "fail:500", "variant:1", "reorder", "x@y"]))
        )
    if draw(st.integers(0, 9)) == 0:
        return path, draw(_json_values)
    return path, body


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=create_bodies())
def test_create_bodies_get_documented_answers_never_a_500(
    client: Client, case: tuple[str, Any]
) -> None:
    path, body = case
    response = client.post(path, content=json.dumps(body), headers=AUTH)
    assert response.status_code == 200
    answer = response.json()
    assert answer["code"] in DOCUMENTED_CREATE_CODES, answer
    assert isinstance(answer["msg"], str) and answer["msg"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from([*sorted({f.poll_path for f in FAMILIES.values()}), MARKET_POLL_PATH]),
    task_id=st.text(max_size=40),
)
def test_polling_any_task_id_gets_a_documented_answer(
    client: Client, path: str, task_id: str
) -> None:
    response = client.get(path, params={"taskId": task_id}, headers=AUTH)
    assert response.status_code == 200
    answer = response.json()
    if path == MARKET_POLL_PATH or not task_id.strip():
        assert answer["code"] in {404, 422} and answer["data"] is None
    else:
        assert answer == {"code": 200, "msg": "success", "data": None}


def test_timing_presets() -> None:
    assert Timing.named("fast") == Timing.fast()
    realistic = Timing.named("realistic")
    assert realistic.timeout == 15 and realistic.stage_delay >= 10
    assert [realistic.retry_delay(n) for n in (1, 2)] == [5.0, 10.0]
    with pytest.raises(ValueError, match="fast"):
        Timing.named("slow")
