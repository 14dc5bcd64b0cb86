"""The sandbox answers as the real API's recordings do (tests/fixtures/api/), over real HTTP, and
the poller reads each recorded shape: `msg` everywhere, `data: null` for an unknown task, 422
"Record does not exist" for derived tasks on unknown ids, `recordId`, null market failure fields
with `param.input` as JSON text, `fullLyrics` required, and style boost's synchronous answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from httpx import Client

from suno_hooks import Event
from suno_hooks._callbacks.parsing import build_event
from suno_hooks._callbacks.poll_records import callback_body
from suno_hooks._callbacks.probe import load_json, probe
from suno_hooks.client import SunoClient
from suno_hooks.reconcile import Reconciler
from suno_hooks.sandbox import Sandbox, SandboxHandle, Timing, serve_asgi
from suno_hooks.sandbox.families import (
    MARKET_CREATE_PATH,
    MARKET_POLL_PATH,
    POLL_PATHS,
    STYLE_PATH,
)
from suno_hooks.stores import SQLiteStore

from ..conftest import fixture_json
from ..support.sandbox_helpers import MARKET_REQUESTS, REQUESTS, SOURCE_AUDIO, SOURCE_TASK
from ..support.sandbox_rig import API_KEY, Rig, make_rig, rig_receiver, rig_timing

__all__ = ["make_rig", "rig_timing"]

KEY = "shape-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
CALLBACK = "http://127.0.0.1:9/suno/callback"  # never called: every callback is dropped
DERIVED = ("wav", "video", "midi", "vocal_removal")


def shape(value: Any) -> Any:
    """The JSON value with every leaf replaced by its type name: what a recording fixes."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else type(value).__name__


def recorded(name: str) -> dict[str, Any]:
    return fixture_json(f"api/{name}")


@contextmanager
def sandbox(**options: Any) -> Iterator[Client]:
    options.setdefault("scenarios", ["drop@all"])
    with serve_asgi(Sandbox(api_key=KEY, **options).app) as url, Client(base_url=url) as http:
        yield http


@pytest.fixture(scope="module")
def api() -> Iterator[Client]:
    with sandbox() as http:
        yield http


def post(api: Client, path: str, body: Any) -> dict[str, Any]:
    response = api.post(path, json=body, headers=AUTH)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert set(answer) == {"code", "msg", "data"}, answer  # `msg` on every endpoint
    return answer


def get(api: Client, path: str, task_id: str) -> dict[str, Any]:
    response = api.get(path, params={"taskId": task_id}, headers=AUTH)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    assert set(answer) == {"code", "msg", "data"}, answer
    return answer


def settle(http: Client, task_id: str) -> None:
    """Wait until the sandbox has finished the task (through its control API)."""
    handle = SandboxHandle(str(http.base_url), api_key=KEY)
    try:
        handle.wait(task_id)
    finally:
        handle.close()


def legacy(feature: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    path, body = REQUESTS[feature]
    return path, {**body, "callBackUrl": CALLBACK, **changes}


def market(model: str, **changes: Any) -> dict[str, Any]:
    return {"model": model, "callBackUrl": CALLBACK, "input": {**MARKET_REQUESTS[model], **changes}}


def test_an_unknown_task_on_record_info_is_data_null(api: Client):
    expected = recorded("record-info.unknown-task.json")
    for path in POLL_PATHS:
        assert get(api, path, "0123456789abcdef0123456789abcdef") == expected, path


@pytest.mark.parametrize("feature", DERIVED)
def test_derived_tasks_on_unknown_ids_answer_record_does_not_exist(api: Client, feature: str):
    expected = recorded("derived.unknown-id.json")
    path, body = legacy(feature, taskId="0123456789abcdef0123456789abcdef")
    assert post(api, path, body) == expected
    if "audioId" in body:
        path, body = legacy(feature, audioId="00000000-0000-4000-8000-000000000000")
        assert post(api, path, body) == expected
    path, body = legacy(feature)  # the sample song every sandbox knows
    assert post(api, path, body)["code"] == 200


def test_a_derived_task_may_use_a_song_the_sandbox_made(api: Client):
    path, body = legacy("generate")
    task_id = post(api, path, body)["data"]["taskId"]
    settle(api, task_id)
    tracks = get(api, "/api/v1/generate/record-info", task_id)["data"]["response"]["sunoData"]
    audio_id = tracks[0]["id"]
    path, body = legacy("wav", taskId=task_id, audioId=audio_id)
    assert post(api, path, body)["code"] == 200
    path, body = legacy("wav", taskId=task_id, audioId=SOURCE_AUDIO)
    assert post(api, path, body) == recorded("derived.unknown-id.json")


def test_a_create_without_callback_url(api: Client):
    expected = recorded("create.no-callback-url.json")
    path, body = legacy("generate")
    del body["callBackUrl"]
    assert post(api, path, body) == expected
    body = market("ai-music-api/generate")
    del body["callBackUrl"]
    assert post(api, MARKET_CREATE_PATH, body) == expected


@pytest.mark.parametrize("lyrics", [None, "", "  "])
def test_replace_section_requires_full_lyrics(api: Client, lyrics: str | None):
    path, body = legacy("replace_section", fullLyrics=lyrics)
    if lyrics is None:
        del body["fullLyrics"]
    assert post(api, path, body) == recorded("replace-section.no-full-lyrics.json")
    assert post(api, *legacy("replace_section"))["code"] == 200


def test_market_create_task_answers_a_record_id(api: Client):
    answer = post(api, MARKET_CREATE_PATH, market("ai-music-api/generate"))
    assert shape(answer) == shape(recorded("jobs.create-task.json"))
    assert answer["data"]["recordId"] and answer["data"]["taskId"]


def test_market_records_while_generating_and_once_done():
    body = market("ai-music-api/generate")
    with sandbox(timing=Timing(first_delay=60)) as slow:
        task_id = post(slow, MARKET_CREATE_PATH, body)["data"]["taskId"]
        running = get(slow, MARKET_POLL_PATH, task_id)
    assert running["data"]["state"] == "generating"
    assert shape(running) == shape(recorded("jobs.record-info.generating.json"))
    with sandbox() as fast:
        task_id = post(fast, MARKET_CREATE_PATH, body)["data"]["taskId"]
        settle(fast, task_id)
        done = get(fast, MARKET_POLL_PATH, task_id)
    assert shape(done) == shape(recorded("jobs.record-info.success.json"))
    record = done["data"]
    assert "updateTime" not in record and (record["failCode"], record["failMsg"]) == (None, None)
    assert json.loads(record["param"]["input"]) == body["input"]
    assert record["param"]["model"] == "ai-music-api/generate"


def test_a_failed_market_record_fills_its_failure_fields():
    failing = market("ai-music-api/generate") | {"sandbox": ["fail:500"]}
    with sandbox() as fast:
        task_id = post(fast, MARKET_CREATE_PATH, failing)["data"]["taskId"]
        settle(fast, task_id)
        record = get(fast, MARKET_POLL_PATH, task_id)["data"]
    assert record["state"] == "fail" and record["failCode"] == "500" and record["failMsg"]
    assert isinstance(record["costTime"], int) and record["resultJson"] == ""


def test_style_boost_answers_at_once(api: Client):
    answer = post(api, STYLE_PATH, {"content": "dreamy lo-fi"})
    assert shape(answer) == shape(recorded("style.generate.json"))
    data = answer["data"]
    assert data["successFlag"] == "成功" and "errorMessage" not in data
    assert data["createTime"] > 1_700_000_000_000  # epoch milliseconds
    assert post(api, STYLE_PATH, {})["code"] == 422


def test_every_error_answer_uses_msg(api: Client):
    assert get(api, MARKET_POLL_PATH, "no-such-task")["code"] == 404
    assert post(api, MARKET_CREATE_PATH, {"model": "ai-music-api/nope"})["code"] == 422
    refused = api.get(MARKET_POLL_PATH, params={"taskId": "x"}, headers={})
    assert set(refused.json()) == {"code", "msg", "data"}


# -- the poller reads every recorded shape ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "feature"),
    [
        ("record-info.unknown-task.json", "generate"),
        ("record-info.unknown-task.json", "wav"),
        ("record-info.unknown-task.json", "stems"),
        ("jobs.record-info.waiting.json", "ai-music-api/generate"),
        ("jobs.record-info.generating.json", "ai-music-api/generate"),
    ],
)
def test_a_record_with_nothing_known_yet_gives_no_body(name: str, feature: str):
    assert callback_body("t", feature, recorded(name)) is None


def test_a_recorded_market_success_is_the_completed_event():
    answer = recorded("jobs.record-info.success.json")
    body = callback_body(answer["data"]["taskId"], "ai-music-api/generate", answer)
    assert body is not None
    event = build_event(probe(load_json(json.dumps(body).encode())), feature="generate")
    assert (event.stage, event.status, event.code) == ("complete", "completed", 200)
    assert event.result_urls and event.error is None


def test_the_client_record_reads_the_recorded_answers(api: Client):
    with SunoClient(KEY, base_url=str(api.base_url), backoff=0) as client:
        unknown = client.record("no-such-task", "generate")
        assert unknown == recorded("record-info.unknown-task.json")
        assert callback_body("no-such-task", "generate", unknown) is None
        task_id = client.create("ai-music-api/generate", callBackUrl=CALLBACK,
                                **MARKET_REQUESTS["ai-music-api/generate"]).task_id  # fmt: skip
        settle(api, task_id)
        answer = client.record(task_id, "ai-music-api/generate")
    assert shape(answer) == shape(recorded("jobs.record-info.success.json"))
    assert callback_body(task_id, "ai-music-api/generate", answer) is not None


def test_a_dropped_advanced_split_is_reconciled_with_typed_stems(make_rig: Any, tmp_path: Path):
    rig: Rig = make_rig(rig_receiver(SQLiteStore(tmp_path / "rig.db")))
    control = SandboxHandle(rig.sandbox_url, api_key=API_KEY)
    control.set_scenarios(["drop"], next_only=True)
    with rig.client(poll_after=0) as client:
        fields = {"taskId": SOURCE_TASK, "audioId": SOURCE_AUDIO, "type": "split_stem_advanced"}
        task_id = client.create("stems", **fields).task_id
        control.wait(task_id)
        assert rig.terminal(task_id) == []
        Reconciler(rig.receiver, client, after=0, every=1).run_once()
    control.close()
    (event,) = rig.terminal(task_id)
    assert event.source == "poll" and event.stems is not None
    stems = event.stems.origin_data
    assert [s.stem_type_group_name for s in stems] == ["Lead Vocal", "Lead Vocal"]
    assert all(s.id and s.duration and s.audio_url for s in stems)
    assert len(event.stems.urls()) == 2


def test_an_advanced_split_callback_reaches_the_handler_typed(make_rig: Any, tmp_path: Path):
    rig: Rig = make_rig(rig_receiver(SQLiteStore(tmp_path / "rig.db")))
    control = SandboxHandle(rig.sandbox_url, api_key=API_KEY)
    with rig.client(poll_after=0) as client:
        fields = {"taskId": SOURCE_TASK, "audioId": SOURCE_AUDIO, "type": "split_stem_advanced"}
        task_id = client.create("stems", **fields).task_id
    control.wait(task_id)
    control.close()
    events: list[Event] = rig.terminal(task_id)
    (event,) = events
    assert event.source == "callback" and event.stems is not None
    assert [s.side for s in event.stems.origin_data] == ["extract", "remove"]
    assert set(event.stems.urls()) == {"lead_vocal_extract", "lead_vocal_remove"}
