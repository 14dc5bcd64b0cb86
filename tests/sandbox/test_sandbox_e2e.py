"""The sandbox against a real receiver, over real HTTP both ways: the sandbox under uvicorn,
the receiver under uvicorn (ASGI) and under gunicorn (WSGI, two workers) with a SQLite inbox.
Every family: create -> callbacks -> the receiver's signals fire once per stage with the right
kind and typed results; every scenario gets the answer the receiver promises."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from suno_hooks.sandbox import FAMILIES, MARKET_MODELS, SandboxHandle, Timing, serve_sandbox
from suno_hooks.sandbox.bodies import VARIANTS
from suno_hooks.stores import SQLiteStore

from ..support.sandbox_helpers import (
    MARKET_REQUESTS,
    REQUESTS,
    SANDBOX_HMAC,
    ReceiverServer,
    receiver_server,
)

STAGE_SIGNAL = {
    "text": "task_progress",
    "first": "task_progress",
    "complete": "task_completed",
    "error": "task_failed",
}
KIND = {
    "lyrics": "lyrics",
    "wav": "wav",
    "vocal_removal": "stems",
    "midi": "midi",
    "video": "video",
    "cover_image": "cover_image",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with serve_sandbox(hmac_key=SANDBOX_HMAC, timing=Timing.fast()) as handle:
        yield handle


@pytest.fixture(scope="module", params=["uvicorn", "gunicorn"])
def receiver(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReceiverServer]:
    with receiver_server(request.param, tmp_path_factory.mktemp(request.param)) as server:
        yield server


def run(
    sandbox: SandboxHandle,
    receiver: ReceiverServer,
    feature: str,
    *scenarios: str,
    **context: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Create a task of `feature` with `scenarios`, wait until it settles; the task and the
    signals the receiver sent for it."""
    path, body = REQUESTS[feature]
    callback = receiver.callback_url(feature, **context)
    task_id = sandbox.create(path, body | {"callBackUrl": callback, "sandbox": list(scenarios)})
    task = sandbox.wait(task_id)
    return task, receiver.signals(task_id)


def stage_signals(signals: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((entry["stage"], entry["signal"]) for entry in signals)


def expected_signals(stages: tuple[str, ...]) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for stage in stages:
        counts[(stage, "callback_received")] += 1
        counts[(stage, STAGE_SIGNAL[stage])] += 1
    return counts


def check_results(feature: str, entry: dict[str, Any], record: dict[str, Any]) -> None:
    """The typed results of a terminal event agree with the sandbox's polling record."""
    kind = KIND.get(feature, "music")
    assert entry["kind"] == kind
    data = record["data"]
    if kind == "music":
        suno = data["response"]["sunoData"]
        assert entry["tracks"] == [track["audioUrl"] for track in suno]
        assert len(entry["tracks"]) == (
            1 if feature in ("add_instrumental", "replace_section") else 2
        )
        assert all(isinstance(duration, float) for duration in entry["durations"])
    elif kind == "lyrics":
        assert entry["lyrics"] == [item["title"] for item in data["response"]["data"]]
    elif kind == "wav":
        assert entry["wav_url"] == data["response"]["audioWavUrl"]
    elif kind == "stems":
        assert len(entry["stems"]) == 12 and entry["stems"]["vocal"] == data["response"]["vocalUrl"]
    elif kind == "midi":
        assert entry["midi"] == [len(i["notes"]) for i in data["midiData"]["instruments"]]
    elif kind == "video":
        assert entry["video_url"] == data["response"]["videoUrl"]
    else:
        assert entry["images"] == data["response"]["images"] and len(entry["images"]) == 2


def poll(sandbox: SandboxHandle, feature: str, task_id: str) -> dict[str, Any]:
    return sandbox.poll(FAMILIES[feature].poll_path, task_id)


@pytest.mark.parametrize("feature", sorted(REQUESTS))
def test_every_family_fires_each_stage_once_with_typed_results(
    sandbox: SandboxHandle, receiver: ReceiverServer, feature: str
) -> None:
    task, signals = run(sandbox, receiver, feature)
    stages = FAMILIES[feature].stages
    assert [a["status"] for a in task["attempts"]] == [200] * len(stages)
    assert [a["answer"]["status"] for a in task["attempts"]] == ["received"] * len(stages)
    assert stage_signals(signals) == expected_signals(stages)
    assert {entry["feature"] for entry in signals} == {feature}
    terminal = [e for e in signals if e["stage"] == "complete" and e["signal"] == "task_completed"]
    check_results(feature, terminal[0], poll(sandbox, feature, task["task_id"]))
    if "first" in stages:
        first = next(e for e in signals if e["stage"] == "first")
        assert len(first["tracks"]) == 1


@pytest.mark.parametrize("feature", sorted(REQUESTS))
def test_every_family_fails_with_each_documented_code(
    sandbox: SandboxHandle, receiver: ReceiverServer, feature: str
) -> None:
    for code in FAMILIES[feature].failure_codes:
        task, signals = run(sandbox, receiver, feature, f"fail:{code}")
        assert [a["status"] for a in task["attempts"]] == [200]
        assert stage_signals(signals) == expected_signals(("error",)), code
        assert {(e["kind"], e["code"], e["status"]) for e in signals} == {
            (KIND.get(feature, "music"), code, "failed")
        }


@pytest.mark.parametrize("code", [400, 408, 413, 451, 500, 501, 531])
def test_music_fails_with_each_documented_code(
    sandbox: SandboxHandle, receiver: ReceiverServer, code: int
) -> None:
    task, signals = run(sandbox, receiver, "generate", f"fail:{code}")
    assert [e["code"] for e in signals if e["signal"] == "task_failed"] == [code]
    record = poll(sandbox, "generate", task["task_id"])["data"]
    assert record["errorCode"] == code and record["status"].endswith(("FAILED", "ERROR"))


def test_a_duplicate_is_acknowledged_and_ignored(
    sandbox: SandboxHandle, receiver: ReceiverServer
) -> None:
    task, signals = run(sandbox, receiver, "generate", "duplicate", "duplicate@first")
    answers = [(a["stage"], a["note"], a["answer"]["status"]) for a in task["attempts"]]
    assert answers == [
        ("text", None, "received"),
        ("first", None, "received"),
        ("first", "duplicate", "duplicate"),
        ("complete", None, "received"),
        ("complete", "duplicate", "duplicate"),
    ]
    assert stage_signals(signals) == expected_signals(("text", "first", "complete"))


def test_a_late_first_after_complete_is_ignored(
    sandbox: SandboxHandle, receiver: ReceiverServer
) -> None:
    task, signals = run(sandbox, receiver, "extend", "reorder")
    answers = [(a["stage"], a["answer"]["status"]) for a in task["attempts"]]
    assert answers == [("text", "received"), ("complete", "received"), ("first", "stale")]
    assert stage_signals(signals) == expected_signals(("text", "complete"))


def test_forged_and_replayed_callbacks_are_refused(
    sandbox: SandboxHandle, receiver: ReceiverServer
) -> None:
    task, signals = run(sandbox, receiver, "generate", "forge", "replay@first")
    answers = [(a["stage"], a["injected"], a["status"]) for a in task["attempts"]]
    assert answers == [
        ("text", None, 200),
        ("first", None, 200),
        ("first", "replayed", 401),
        ("complete", "forged", 401),
        ("complete", None, 200),
    ]
    errors = [a["answer"]["error"] for a in task["attempts"] if a["status"] == 401]
    assert errors == ["replayed_signature", "invalid_signature"]
    assert stage_signals(signals) == expected_signals(("text", "first", "complete"))


def test_a_handler_error_answers_500_and_the_sandbox_retries(
    sandbox: SandboxHandle, receiver: ReceiverServer
) -> None:
    task, signals = run(sandbox, receiver, "lyrics", fail_once=True)
    assert [(a["attempt"], a["status"]) for a in task["attempts"]] == [(1, 500), (2, 200)]
    assert task["attempts"][0]["answer"]["error"] == "handler_error"
    # The failed delivery's handlers ran again on the retry; the failing one succeeded then.
    assert [e["signal"] for e in signals].count("callback_received") == 1
    assert [e["signal"] for e in signals].count("task_completed") == 2


def test_a_timed_out_answer_is_sent_again_and_acknowledged_as_duplicate(
    sandbox: SandboxHandle, receiver: ReceiverServer
) -> None:
    task, signals = run(sandbox, receiver, "wav", "timeout")
    attempts = task["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2]
    assert attempts[0]["error"].startswith("timeout") and not attempts[0]["ok"]
    assert attempts[1]["answer"] == {"status": "duplicate"}
    assert stage_signals(signals) == expected_signals(("complete",))


def test_a_dropped_callback_is_absent_from_the_inbox_but_present_in_polling(
    sandbox: SandboxHandle, receiver: ReceiverServer
) -> None:
    task, signals = run(sandbox, receiver, "generate", "drop")
    assert [a["stage"] for a in task["attempts"]] == ["text", "first"]
    assert stage_signals(signals) == expected_signals(("text", "first"))
    store = SQLiteStore(receiver.store.removeprefix("sqlite:///"))
    try:
        kept = {d.stage for d in store.deliveries(task_id=task["task_id"])}
    finally:
        store.close()
    assert kept == {"text", "first"}
    record = poll(sandbox, "generate", task["task_id"])["data"]
    assert record["status"] == "SUCCESS" and len(record["response"]["sunoData"]) == 2


@pytest.mark.parametrize("feature", ["generate", "extend", "replace_section", *sorted(KIND)])
def test_documented_variants_reach_the_receiver_typed(
    sandbox: SandboxHandle, receiver: ReceiverServer, feature: str
) -> None:
    kind = KIND.get(feature, "music")
    stages = FAMILIES[feature].stages
    for variant in range(1, VARIANTS[kind]):
        task, signals = run(sandbox, receiver, feature, f"variant:{variant}")
        assert all(a["status"] == 200 for a in task["attempts"]), task["attempts"]
        assert stage_signals(signals) == expected_signals(stages), (variant, signals)
        terminal = [e for e in signals if e["signal"] == "task_completed"]
        check_results(feature, terminal[0], poll(sandbox, feature, task["task_id"]))
        task, signals = run(sandbox, receiver, feature, f"variant:{variant}", "fail")
        assert stage_signals(signals) == expected_signals(("error",)), (variant, signals)


@pytest.mark.parametrize("model", sorted(MARKET_REQUESTS))
def test_market_tasks_call_back_once_in_the_market_shape(
    sandbox: SandboxHandle, receiver: ReceiverServer, model: str
) -> None:
    feature = MARKET_MODELS[model][0]
    body = {
        "model": model,
        "callBackUrl": receiver.callback_url(feature),
        "input": MARKET_REQUESTS[model],
    }
    task_id = sandbox.create("/api/v1/jobs/createTask", body)
    task = sandbox.wait(task_id)
    assert [a["status"] for a in task["attempts"]] == [200]
    signals = receiver.signals(task_id)
    assert stage_signals(signals) == expected_signals(("complete",))
    record = sandbox.poll("/api/v1/jobs/recordInfo", task_id)
    assert record["code"] == 200 and record["data"]["state"] == "success"
    assert record["data"]["model"] == model
    check_market_results(feature, signals[-1], record["data"])


def check_market_results(feature: str, entry: dict[str, Any], record: dict[str, Any]) -> None:
    """A market event carries the model, the decoded `resultUrls` and, for songs, the tracks."""
    result = json.loads(record["resultJson"])
    assert entry["model"] == record["model"]
    assert entry["result_urls"] == result["resultUrls"]
    assert entry["kind"] == KIND.get(feature, "music")
    if entry["kind"] == "music":
        assert entry["tracks"] == [track["audio_url"] for track in result["data"]]
        assert entry["tracks"] == entry["result_urls"] and entry["tracks"]


@pytest.mark.parametrize("feature", sorted(REQUESTS))
@pytest.mark.parametrize("variant", ["", "variant"])
def test_the_market_scenario_sends_any_family_in_the_market_shape(
    sandbox: SandboxHandle, receiver: ReceiverServer, feature: str, variant: str
) -> None:
    task, signals = run(sandbox, receiver, feature, "market", *filter(None, [variant]))
    assert [a["status"] for a in task["attempts"]] == [200]
    assert stage_signals(signals) == expected_signals(("complete",))
    record = sandbox.poll("/api/v1/jobs/recordInfo", task["task_id"])["data"]
    check_market_results(feature, signals[-1], record)


@pytest.mark.parametrize("feature", ["generate", "lyrics", "wav"])
def test_a_failed_market_task_fires_task_failed_with_its_code(
    sandbox: SandboxHandle, receiver: ReceiverServer, feature: str
) -> None:
    code = FAMILIES[feature].default_failure
    task, signals = run(sandbox, receiver, feature, "market", f"fail:{code}")
    assert stage_signals(signals) == expected_signals(("error",))
    assert {(e["code"], e["status"]) for e in signals} == {(code, "failed")}
    record = sandbox.poll("/api/v1/jobs/recordInfo", task["task_id"])["data"]
    assert record["state"] == "fail" and record["failCode"] == str(code)
