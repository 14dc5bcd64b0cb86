"""The cheap first read of a callback body: JSON loading, the task id (looked up in Kie's
order; two different ids refuse), the stage, status and code, and the de-duplication key.

It is all that verification and de-duplication need; the full model parse (`parsing`) runs only
for a callback that will be dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from ..errors import InvalidJSON, InvalidPayload
from ..events import EventKind, EventStatus
from .codes import SUCCESS_CODES
from .kinds import kind_from_shape, market_kind
from .market import MARKET_PROGRESS_STATES, decode_result, fail_code, is_market, market_stage
from .whole_numbers import whole_number

__all__ = ["MAX_TASK_ID_LENGTH", "Probe", "dedupe_key", "find_task_id", "load_json", "probe"]

MAX_TASK_ID_LENGTH = 128

# Where the task id sits, in lookup order: `data.task_id` (most families), `data.taskId` (cover
# image, voice), top-level `task_id` (MIDI, recovery), top-level `taskId` (the market example).
_TASK_ID_PATHS: tuple[tuple[str, ...], ...] = (
    ("data", "task_id"),
    ("data", "taskId"),
    ("task_id",),
    ("taskId",),
)

_STAGE_STATUS: dict[str, EventStatus] = {
    "text": "progress",
    "first": "progress",
    "complete": "completed",
    "error": "failed",
    **dict.fromkeys(MARKET_PROGRESS_STATES, "progress"),
}
# Raw `callbackType` values that name a documented stage another way.
_STAGE_ALIASES = {"task_completed": "complete"}


def load_json(body: bytes) -> dict[str, Any]:
    """Parse a body that must be a JSON object, or raise `InvalidJSON`."""
    try:
        # Keys repeat between callbacks, values almost never: caching only keys is fastest.
        obj = from_json(body, cache_strings="keys")
    except ValueError:
        raise InvalidJSON("The request body is not valid JSON.") from None
    if not isinstance(obj, dict):
        raise InvalidJSON("The request body must be a JSON object.")
    return obj


def _task_id_value(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        digits = str(value)
        return digits if len(digits) <= MAX_TASK_ID_LENGTH else None
    if isinstance(value, str):
        text = value.strip()
        if 0 < len(text) <= MAX_TASK_ID_LENGTH and text.isprintable():
            return text
    return None


def find_task_id(obj: dict[str, Any]) -> str:
    """The task id at `data.task_id`, `data.taskId`, `task_id` or `taskId`; two different ids
    refuse."""
    data = obj.get("data")
    if type(data) is dict and "taskId" not in data and "task_id" not in obj and "taskId" not in obj:
        only = data.get("task_id")
        if type(only) is str and 0 < len(only) <= MAX_TASK_ID_LENGTH and only.isalnum():
            return only
    found: str | None = None
    for path in _TASK_ID_PATHS:
        if len(path) == 2:
            if not isinstance(data, dict):
                continue
            value = _task_id_value(data.get(path[1]))
        else:
            value = _task_id_value(obj.get(path[0]))
        if value is None:
            continue
        if found is None:
            found = value
        elif value != found:
            raise InvalidPayload("The callback carries two different task ids.")
    if found is None:
        raise InvalidPayload("The callback carries no usable task id.")
    return found


def _code(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except (ValueError, OverflowError):
            return 0
    return 0


@dataclass(slots=True)
class Probe:
    """What is known about a body before the full parse: enough to verify and de-duplicate."""

    obj: dict[str, Any]
    task_id: str
    stage: str
    status: EventStatus
    code: int
    dedupe_key: str
    kind: EventKind
    """The family the body's shape shows; a feature named by the route or token takes precedence."""
    market: bool = False
    """True for a body in the market shape (`data.state`, `data.resultJson`, …)."""
    result: dict[str, Any] | None = None
    """A market body's decoded `resultJson`."""


def dedupe_key(task_id: str, stage: str) -> str:
    """The idempotency key for one stage of one task."""
    return f"{task_id}:{stage}"


def probe(obj: dict[str, Any]) -> Probe:
    """Find the task id, stage and code of a parsed body (cheap; no model validation)."""
    task_id = find_task_id(obj)
    code = _code(obj.get("code"))
    data = obj.get("data")
    raw_type = None
    if type(data) is dict:
        raw_type = data.get("callbackType")
        if (raw_type is None or raw_type == "task_completed") and is_market(data):
            return _probe_market(obj, data, task_id, code)
    success = code in SUCCESS_CODES
    failure = _stated_failure(obj, data)
    if failure is not None:
        # The body's own status wins over its code: a failed task is never completed.
        if success:
            code = _failure_code(data, failure)
        success = False
        stage = "error"
    else:
        stage = raw_type.strip().lower()[:64] if type(raw_type) is str else ""
        stage = _STAGE_ALIASES.get(stage, stage)
    if not stage or (stage == "complete" and not success):
        stage = "complete" if success else "error"
    status = _STAGE_STATUS.get(stage) or ("completed" if success else "failed")
    kind = kind_from_shape(data)
    return Probe(obj, task_id, stage, status, code, dedupe_key(task_id, stage), kind)


def _stated_failure(obj: dict[str, Any], data: Any) -> str | None:
    """The body's own status when it says the task failed (`GENERATE_AUDIO_FAILED`, `FAILED`,
    `SENSITIVE_WORD_ERROR`, as a polling record spells it), else None."""
    values = [obj.get("status")]
    if type(data) is dict:
        values += (data.get("status"), data.get("successFlag"))
    for value in values:
        if type(value) is str:
            text = value.upper()
            if "FAIL" in text or "ERROR" in text:
                return text
    return None


def _failure_code(data: Any, status: str) -> int:
    """The failure code of a body whose status says it failed but whose code says success:
    its `errorCode` when that names a failure, else 400 for a moderation error, else 501."""
    found = data.get("errorCode") if type(data) is dict else None
    if isinstance(found, str):
        found = whole_number(found)
    if type(found) is int and found not in SUCCESS_CODES:
        return found
    return 400 if "SENSITIVE" in status else 501


def _probe_market(obj: dict[str, Any], data: dict[str, Any], task_id: str, code: int) -> Probe:
    """`probe` for the market shape: stage from `state`, code from `failCode` when the envelope's
    code does not say failure, kind from the decoded result."""
    failed_with = fail_code(data.get("failCode"))
    if code in SUCCESS_CODES and failed_with is not None and failed_with not in SUCCESS_CODES:
        code = failed_with
    success = code in SUCCESS_CODES
    stage = market_stage(data.get("state"))
    if stage is None:
        stage = "complete" if success else "error"
    elif stage == "complete" and not success:
        stage = "error"
    status = _STAGE_STATUS.get(stage, "progress")
    result = decode_result(data.get("resultJson"))
    kind = market_kind(data, result)
    key = dedupe_key(task_id, stage)
    return Probe(obj, task_id, stage, status, code, key, kind, market=True, result=result)
