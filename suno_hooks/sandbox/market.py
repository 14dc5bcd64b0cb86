"""The market shape: the `jobs/recordInfo` record and the callback that shares it, as the real
API answers: `resultJson` a JSON string (empty until success), `param.input` JSON text, the
failure fields and `costTime`/`completeTime` null until the task ends, times in epoch ms."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .bodies import failure_message
from .families import MARKET_MODELS

if TYPE_CHECKING:
    from .tasks import Task

__all__ = ["market_callback", "market_model", "market_record"]


def market_model(feature: str) -> str:
    """The market model name for a legacy feature (`generate` → `ai-music-api/generate`)."""
    for model, (mapped, _) in MARKET_MODELS.items():
        if mapped == feature:
            return model
    return "ai-music-api/" + feature.replace("_", "-")


def _result(task: Task) -> dict[str, Any]:
    """What `resultJson` holds: `resultUrls` (every market model) plus, for Suno models, the
    results the way public integration code expects them (Kie publishes no Suno example)."""
    results = task.results
    kind = task.family.kind
    if kind == "music":
        tracks = results["tracks"]
        return {
            "resultUrls": [track["audio_url"] for track in tracks],
            "code": 200,
            "data": tracks,
        }
    if kind == "lyrics":
        items = [{"text": item["text"], "title": item["title"]} for item in results["lyrics"]]
        return {"resultUrls": [], "code": 200, "data": items}
    if kind == "wav":
        return {"resultUrls": [results["wav_url"]], "audioWavUrl": results["wav_url"]}
    if kind == "stems":
        origin = [
            stem["audio_url"] for pair in results.get("origin") or [] for stem in pair.values()
        ]
        return {"resultUrls": [*results["stems"].values(), *origin]}
    if kind == "midi":
        return {"resultUrls": [], "state": "complete", "instruments": results["instruments"]}
    if kind == "video":
        return {"resultUrls": [results["video_url"]]}
    return {"resultUrls": list(results["images"])}


def market_record(task: Task) -> dict[str, Any]:
    """The `data` of a `jobs/recordInfo` answer for the task."""
    if task.failed:
        state = "fail"
    elif task.terminal_reached:
        state = "success"
    else:
        state = "generating" if task.started else "waiting"
    done = state in ("success", "fail")
    code = task.failure or 0
    model = task.model or market_model(task.family.feature)
    failed = state == "fail"
    return {
        "taskId": task.task_id,
        "model": model,
        "state": state,
        # As recorded: an object whose `input` is the request's input as JSON text.
        "param": {"input": json.dumps(task.params, ensure_ascii=False), "model": model},
        "resultJson": json.dumps(_result(task), ensure_ascii=False) if state == "success" else "",
        "failCode": str(code) if failed else None,
        "failMsg": failure_message(task.family.kind, code) if failed else None,
        "costTime": task.updated_ms - task.created_ms if done else None,
        "completeTime": task.updated_ms if done else None,
        "createTime": task.created_ms,
    }


def market_callback(task: Task) -> dict[str, Any]:
    """The market callback: the record plus credits; `variant` 1 adds the top-level `taskId`,
    `data.task_id` and `callbackType: "task_completed"` of the example body in Kie's webhook
    verification guide (https://docs.kie.ai/common-api/webhook-verification)."""
    record = market_record(task) | {"consumeCredits": 12, "remainedCredits": 988}
    failed = record["state"] == "fail"
    code = (task.failure or 501) if failed else 200
    body: dict[str, Any] = {
        "code": code,
        "msg": record["failMsg"] if failed else "success",
        "data": record,
    }
    if task.variant:
        record |= {"task_id": task.task_id, "callbackType": "task_completed"}
        body = {"taskId": task.task_id} | body
    return body
