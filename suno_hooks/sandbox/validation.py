"""Create-request checks as Kie documents them: required fields, field types, the callback URL,
the replace-section span rule; each failure is a `CreateError` with Kie's code and a message."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import SunoHooksException
from .families import MARKET_MODELS, Family

if TYPE_CHECKING:
    from .tasks import TaskBook

__all__ = [
    "CreateError",
    "SpanRule",
    "check_create",
    "check_market",
    "check_source",
    "check_style",
    "snake",
]

MODELS = ("V3_5", "V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5", "V6", "V6_WILD", "V6_MINI")
STEM_TYPES = ("separate_vocal", "split_stem", "split_stem_advanced")
LYRICS_PROMPT_LIMIT = 200
# Features made from an existing song; Kie answers 422 "Record does not exist" for unknown ids.
DERIVED = ("wav", "video", "midi", "vocal_removal")
# Kie's own wording where it is not "Please enter <field>".
_MISSING = {"callBackUrl": "Please enter callBackUrl."}

_TEXT = "text"
_FLAG = "flag"
_NUMBER = "number"
_URLS = "urls"

FIELD_TYPES: dict[str, str] = {
    **dict.fromkeys(
        (
            "prompt",
            "style",
            "title",
            "tags",
            "negativeTags",
            "model",
            "callBackUrl",
            "uploadUrl",
            "audioId",
            "taskId",
            "type",
            "author",
            "domainName",
            "fullLyrics",
            "lyrics",
            "vocalGender",
            "personaId",
        ),
        _TEXT,
    ),
    **dict.fromkeys(("customMode", "instrumental", "defaultParamFlag"), _FLAG),
    **dict.fromkeys(
        (
            "infillStartS",
            "infillEndS",
            "continueAt",
            "styleWeight",
            "weirdnessConstraint",
            "audioWeight",
        ),
        _NUMBER,
    ),
    "uploadUrlList": _URLS,
}


def snake(name: str) -> str:
    """The market API's snake_case spelling of a legacy camelCase field (`infillStartS` →
    `infill_start_s`)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_SNAKE_TYPES = {snake(name): kind for name, kind in FIELD_TYPES.items()}


class CreateError(SunoHooksException):
    """A create or polling request Kie would refuse: `code` and `msg` go in the answer's body."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


@dataclass(frozen=True)
class SpanRule:
    """The replace-section span rule: `infillEndS − infillStartS` between `minimum` and
    `maximum` seconds (Kie's pages: 6–60 s), times ≥ 0 with at most two decimals."""

    minimum: float = 6.0
    maximum: float = 60.0

    def check(self, start: float, end: float, names: tuple[str, str]) -> None:
        """Raise `CreateError` (422) naming the rule the span breaks."""
        first, second = names
        for name, value in ((first, start), (second, end)):
            if value < 0:
                raise CreateError(422, f"{name} must be 0 or more.")
            if abs(round(value, 2) - value) > 1e-9:
                raise CreateError(422, f"{name} must have at most two decimal places.")
        if start >= end:
            raise CreateError(422, f"{first} must be less than {second}.")
        span = end - start
        if not self.minimum <= span <= self.maximum:
            raise CreateError(
                422,
                f"The replaced span ({second} - {first}) must be between "
                f"{self.minimum:g} and {self.maximum:g} seconds.",
            )


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _check_type(name: str, value: Any, kind: str) -> None:
    if kind == _TEXT and not isinstance(value, str):
        raise CreateError(422, f"{name} must be a string.")
    if kind == _FLAG and not isinstance(value, bool):
        raise CreateError(422, f"{name} must be true or false.")
    if kind == _NUMBER and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or abs(value) > 1e9
    ):
        raise CreateError(422, f"{name} must be a number.")
    if kind == _URLS and (
        not isinstance(value, list) or not all(isinstance(url, str) and url for url in value)
    ):
        raise CreateError(422, f"{name} must be a list of URLs.")


def _check_fields(body: dict[str, Any], required: tuple[str, ...], types: dict[str, str]) -> None:
    for name in required:
        if not _present(body.get(name)):
            raise CreateError(422, _MISSING.get(name) or f"Please enter {name}")
    for name, value in body.items():
        kind = types.get(name)
        if kind is not None and value is not None:
            _check_type(name, value, kind)


def _check_callback_url(url: str, name: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CreateError(422, f"{name} must be an http or https URL.")


def _as_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise CreateError(422, "The request body must be a JSON object.")
    return body


def check_create(family: Family, request: Any, span: SpanRule) -> dict[str, Any]:
    """The create request of a legacy endpoint, checked; raise `CreateError` otherwise."""
    body = _as_object(request)
    required = family.required
    if family.feature == "extend" and body.get("defaultParamFlag") is True:
        required += ("prompt", "style", "title", "continueAt")
    _check_fields(body, required, FIELD_TYPES)
    _check_callback_url(body["callBackUrl"], "callBackUrl")
    _check_family_rules(family, body, span)
    return body


def _check_family_rules(family: Family, body: dict[str, Any], span: SpanRule) -> None:
    model = body.get("model")
    if family.is_music and model is not None and model not in MODELS:
        raise CreateError(422, f"model must be one of {', '.join(MODELS)}.")
    if family.feature == "replace_section":
        if not _present(body.get("fullLyrics")):
            raise CreateError(422, "fullLyrics cannot be blank")
        span.check(body["infillStartS"], body["infillEndS"], ("infillStartS", "infillEndS"))
    elif family.feature == "mashup" and len(body["uploadUrlList"]) != 2:
        raise CreateError(422, "uploadUrlList must hold exactly 2 URLs.")
    elif family.feature == "lyrics" and len(body["prompt"]) > LYRICS_PROMPT_LIMIT:
        raise CreateError(413, f"prompt must be at most {LYRICS_PROMPT_LIMIT} characters.")
    elif family.feature == "vocal_removal" and body.get("type", STEM_TYPES[0]) not in STEM_TYPES:
        raise CreateError(422, f"type must be one of {', '.join(STEM_TYPES)}.")
    elif family.feature in ("extend", "upload_extend"):
        at = body.get("continueAt")
        if at is not None and at <= 0:
            raise CreateError(422, "continueAt must be greater than 0.")


def check_source(family: Family, body: dict[str, Any], book: TaskBook) -> None:
    """A derived task (WAV, video, MIDI, stems) must name a song the sandbox knows, by task id
    and (when given) audio id; raise `CreateError` (422 "Record does not exist") otherwise."""
    if family.feature in DERIVED and not book.has_song(body.get("taskId"), body.get("audioId")):
        raise CreateError(422, "Record does not exist")


def check_market(body: Any, span: SpanRule) -> tuple[str, str, dict[str, Any]]:
    """A `jobs/createTask` request, checked: its model, the legacy feature it stands for and
    its `input`; raise `CreateError` otherwise."""
    body = _as_object(body)
    _check_fields(body, ("model", "callBackUrl"), FIELD_TYPES)
    _check_callback_url(body["callBackUrl"], "callBackUrl")
    model = body["model"]
    if model not in MARKET_MODELS:
        raise CreateError(422, f"model {model[:80]!r} is not a Suno model on this API.")
    feature, required = MARKET_MODELS[model]
    inputs = body.get("input")
    if not isinstance(inputs, dict):
        raise CreateError(422, "Please enter input")
    _check_fields(inputs, required, _SNAKE_TYPES)
    if feature == "replace_section":
        span.check(
            inputs["infill_start_s"], inputs["infill_end_s"], ("infill_start_s", "infill_end_s")
        )
    checked: dict[str, Any] = inputs
    return model, feature, checked


def check_style(body: Any) -> dict[str, Any]:
    """A boost-music-style request (`{"content": ...}`), checked; raise `CreateError` otherwise."""
    checked = _as_object(body)
    _check_fields(checked, ("content",), {"content": _TEXT})
    return checked
