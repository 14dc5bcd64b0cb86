"""Typed models of every Suno callback family and the normalised `Event` handlers receive."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

if TYPE_CHECKING:
    from .media.kept import KeptFile

__all__ = [
    "CodeInfo",
    "Event",
    "EventKind",
    "EventSource",
    "EventStatus",
    "LyricsVariant",
    "Midi",
    "MidiInstrument",
    "MidiNote",
    "RecoveredTrack",
    "Stem",
    "Stems",
    "Track",
    "UtcDatetime",
    "VoiceResult",
]

EventKind = Literal[
    "music",
    "lyrics",
    "wav",
    "stems",
    "midi",
    "video",
    "cover_image",
    "recovery",
    "voice",
    "unknown",
]
"""The callback's family: `music` for every track feature (generate, extend, covers, uploads,
replace section, …), one name per other family, `unknown` when nothing tells."""
EventStatus = Literal["progress", "completed", "failed"]
"""Where the task stands: `progress` (`text`, `first` or an unfinished market state),
`completed` or `failed`."""
EventSource = Literal["callback", "poll", "replay"]
"""How an event reached the receiver: a live callback, a polled record, or a replay."""


def _zone_as_utc(value: Any) -> Any:
    """Mark a zone-less date-time text as UTC before it is parsed (`"2025-08-19 14:32:07"`)."""
    if type(value) is str:
        if len(value) == 19 and value[10] in " T":
            return value + "Z"
        text = value.strip()
        if len(text) == 10 and text[4:5] == "-":
            return text + "T00:00:00Z"
        if len(text) >= 16 and text[-1] not in "Zz":
            zone = text[16:]
            if "+" not in zone and "-" not in zone:
                return text + "Z"
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_zone_as_utc)]
"""A datetime that is always aware: text without a zone is taken as UTC; epoch numbers are UTC."""


class CallbackModel(BaseModel):
    """Base of the wire models: lax coercion, unknown keys kept, wire names accepted as aliases."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        coerce_numbers_to_str=True,
        frozen=True,
        protected_namespaces=(),  # a wire field is named `model_name`; pydantic < 2.10 warns
    )


class Track(CallbackModel):
    """One generated song of the music family (generate, extend, covers, replace section …).

    `created_at` is always aware: a zone-less `createTime` is taken as UTC."""

    id: str | None = None
    audio_url: str | None = None
    stream_audio_url: str | None = None
    image_url: str | None = None
    source_audio_url: str | None = None
    source_stream_audio_url: str | None = None
    source_image_url: str | None = None
    prompt: str | None = None
    model_name: str | None = None
    title: str | None = None
    tags: str | None = None
    created_at: UtcDatetime | None = Field(default=None, alias="createTime")
    duration: float | None = None


class LyricsVariant(CallbackModel):
    """One lyrics variation of a lyrics callback; `status` is `complete` or `failed`."""

    text: str | None = None
    title: str | None = None
    status: str | None = None
    error_message: str | None = Field(
        default=None, validation_alias=AliasChoices("error_message", "errorMessage")
    )

    @property
    def ok(self) -> bool:
        """True when this variation was generated."""
        return (self.status or "complete").lower() == "complete"


def _stem(snake: str, camel: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(snake, camel))


_STEM_SIDES = ("extract", "remove")


def flat_stems(value: Any) -> Any:
    """An advanced split's stem list, one object per stem: each `{"extract": …, "remove": …}`
    pair of a callback becomes its two sides (marked `side`); a polling record's flat items
    stay as they are; anything that is not an object is left out."""
    if not isinstance(value, list):
        return value
    flat: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            continue
        if not any(side in item for side in _STEM_SIDES):
            flat.append(item)
            continue
        for side in _STEM_SIDES:
            stem = item.get(side)
            if isinstance(stem, dict):
                flat.append({**stem, "side": side})
    return flat


class Stem(CallbackModel):
    """One stem of an advanced stem split (`split_stem_advanced`): its id, URL, length and group
    (`"Lead Vocal"`). `side` is `"extract"` (the group alone), `"remove"` (the song without it),
    or None when the body does not say (a polling record lists stems without sides)."""

    id: str | None = None
    audio_url: str | None = _stem("audio_url", "audioUrl")
    duration: float | None = None
    stem_type_group_name: str | None = _stem("stem_type_group_name", "stemTypeGroupName")
    music_id: str | None = _stem("music_id", "musicId")
    side: Literal["extract", "remove"] | None = None

    @property
    def name(self) -> str:
        """A short name for the stem: its group in snake_case with the side appended
        (`"lead_vocal_extract"`), else its id, else `"stem"`."""
        group = re.sub(r"[^0-9a-z]+", "_", (self.stem_type_group_name or "").lower()).strip("_")
        base = group or self.id or "stem"
        return f"{base}_{self.side}" if self.side else base


class Stems(CallbackModel):
    """The URLs of a vocal-removal (`separate_vocal`) or stem-split (`split_stem`) result;
    each stem is read under its callback (`drums_url`) and polling (`drumsUrl`) spelling."""

    origin_url: str | None = _stem("origin_url", "originUrl")
    instrumental_url: str | None = _stem("instrumental_url", "instrumentalUrl")
    vocal_url: str | None = _stem("vocal_url", "vocalUrl")
    backing_vocals_url: str | None = _stem("backing_vocals_url", "backingVocalsUrl")
    bass_url: str | None = _stem("bass_url", "bassUrl")
    brass_url: str | None = _stem("brass_url", "brassUrl")
    drums_url: str | None = _stem("drums_url", "drumsUrl")
    fx_url: str | None = _stem("fx_url", "fxUrl")
    guitar_url: str | None = _stem("guitar_url", "guitarUrl")
    keyboard_url: str | None = _stem("keyboard_url", "keyboardUrl")
    percussion_url: str | None = _stem("percussion_url", "percussionUrl")
    piano_url: str | None = _stem("piano_url", "pianoUrl")
    strings_url: str | None = _stem("strings_url", "stringsUrl")
    synth_url: str | None = _stem("synth_url", "synthUrl")
    woodwinds_url: str | None = _stem("woodwinds_url", "woodwindsUrl")
    origin_data: Annotated[list[Stem], BeforeValidator(flat_stems)] = Field(
        default_factory=list, validation_alias=AliasChoices("origin_data", "originData")
    )
    """The stems of an advanced split (`split_stem_advanced`), one per side of each group."""

    def urls(self) -> dict[str, str]:
        """The stems that have a URL, by name (`"vocal"`, `"drums"`, …, and an advanced split's
        `"lead_vocal_extract"` …, numbered when a name repeats), empty ones left out."""
        found: dict[str, str] = {}
        for name, value in self:
            if isinstance(value, str) and value and name.endswith("_url"):
                found[name[:-4]] = value
        for stem in self.origin_data:
            if not stem.audio_url:
                continue
            name = base = stem.name
            number = 1
            while name in found:
                number += 1
                name = f"{base}_{number}"
            found[name] = stem.audio_url
        return found


class MidiNote(CallbackModel):
    """One note of a MIDI instrument; times in seconds, velocity 0–1."""

    pitch: int | None = None
    start: float | None = None
    end: float | None = None
    velocity: float | None = None


class MidiInstrument(CallbackModel):
    """One instrument track of a MIDI result (its notes may be empty)."""

    name: str | None = None
    notes: list[MidiNote] = Field(default_factory=list)


class Midi(CallbackModel):
    """A MIDI transcription result."""

    state: str | None = None
    instruments: list[MidiInstrument] = Field(default_factory=list)


class RecoveredTrack(CallbackModel):
    """One track of a recovery-audio callback; `status` is `success` or `failed`."""

    id: str | None = None
    audio_url: str | None = None
    title: str | None = None
    status: str | None = None
    error: str | None = None


class VoiceResult(CallbackModel):
    """The result of a Suno Voice validate, regenerate or create callback."""

    status: str | None = None
    validate_info: str | None = Field(default=None, alias="validateInfo")
    voice_id: str | None = Field(default=None, alias="voiceId")
    error_code: int | None = Field(default=None, alias="errorCode")
    error_message: str | None = Field(default=None, alias="errorMessage")


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What a callback `code` means: its meaning, whether a retry may help, and whether the
    credits were refunded (Kie says so of 531 alone)."""

    code: int
    meaning: str
    retryable: bool
    credits_refunded: bool


@dataclass(slots=True)
class Event:
    """The normalised callback every handler receives, whatever the feature; `raw` is the body.

    Treat it as read-only: every receiver of a callback gets the same instance."""

    task_id: str
    kind: EventKind
    stage: str
    status: EventStatus
    code: int
    msg: str
    code_info: CodeInfo
    dedupe_key: str
    raw: dict[str, Any]
    feature: str | None = None
    context: dict[str, Any] | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    tracks: list[Track] = field(default_factory=list)
    lyrics: list[LyricsVariant] = field(default_factory=list)
    wav_url: str | None = None
    stems: Stems | None = None
    midi: Midi | None = None
    video_url: str | None = None
    images: list[str] = field(default_factory=list)
    recovered: list[RecoveredTrack] = field(default_factory=list)
    voice: VoiceResult | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
    """A market callback's decoded `resultJson` (None when it is not a JSON object)."""
    result_urls: list[str] = field(default_factory=list)
    """A market callback's `resultUrls`."""
    model: str | None = None
    """A market callback's model name (`data.model`)."""
    source: EventSource = "callback"
    """How the event reached the receiver: `callback`, `poll` (reconciler) or `replay`."""
    kept: list[KeptFile] = field(default_factory=list)
    """The files a `MediaArchive` has kept for this event so far (`suno_hooks.media`)."""

    @property
    def ok(self) -> bool:
        """True when the task (or this stage of it) succeeded."""
        return self.status != "failed"

    @property
    def is_terminal(self) -> bool:
        """True for the task's last callback (`complete`, `error`), false for `text`/`first`."""
        return self.status != "progress"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the event, for handing it to a task queue."""
        return {
            "task_id": self.task_id,
            "kind": self.kind,
            "feature": self.feature,
            "stage": self.stage,
            "status": self.status,
            "ok": self.ok,
            "code": self.code,
            "msg": self.msg,
            "error": self.error,
            "context": self.context,
            "received_at": self.received_at.isoformat(),
            "dedupe_key": self.dedupe_key,
            "tracks": [t.model_dump(mode="json") for t in self.tracks],
            "lyrics": [v.model_dump(mode="json") for v in self.lyrics],
            "wav_url": self.wav_url,
            "stems": self.stems.model_dump(mode="json") if self.stems else None,
            "midi": self.midi.model_dump(mode="json") if self.midi else None,
            "video_url": self.video_url,
            "images": self.images,
            "recovered": [r.model_dump(mode="json") for r in self.recovered],
            "voice": self.voice.model_dump(mode="json") if self.voice else None,
            "result": self.result,
            "result_urls": self.result_urls,
            "model": self.model,
            "source": self.source,
            "raw": self.raw,
        }

    def to_json(self) -> str:
        """The event as a JSON string (see `to_dict`)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)
