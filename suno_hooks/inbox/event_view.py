"""The event of a kept delivery as handlers saw it, rebuilt from its body by the library's own
parser, and laid out for the page: covers, players, lyrics, video, images, MIDI."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._callbacks.stored import event_of
from ..events import Event, Midi, Track
from ..stores import Delivery
from ..stores.base import PROGRESS_STAGES
from .media import Media, MediaTag, media

__all__ = ["EventView", "MidiLine", "TrackView", "event_of", "event_view", "pretty_body"]


@dataclass(frozen=True, slots=True)
class TrackView:
    """One track: its words and numbers, its cover and a player for each of its audio links."""

    track: Track
    cover: Media
    players: list[Media]


@dataclass(frozen=True, slots=True)
class MidiLine:
    """One MIDI instrument summarised: note count, pitch range and time span."""

    name: str
    notes: int
    pitches: str
    span: str


@dataclass(slots=True)
class EventView:
    """What the page shows of an event; `problem` says why there is no event."""

    event: Event | None
    problem: str | None = None
    outcome: str = "unknown"
    """The task's outcome as this delivery tells it (`completed`, `failed` or `progress`),
    whatever became of the delivery itself."""
    tracks: list[TrackView] = field(default_factory=list)
    players: list[Media] = field(default_factory=list)
    videos: list[Media] = field(default_factory=list)
    images: list[Media] = field(default_factory=list)
    midi: list[MidiLine] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """A few words for the listing: a title, a count, or the error."""
        event = self.event
        if event is None:
            return self.problem or ""
        if not event.ok:
            return event.error or event.msg
        titles = [t.title for t in event.tracks if t.title] or [
            v.title for v in event.lyrics if v.title
        ]
        if titles:
            more = len(titles) - 1
            return titles[0] + (f" (+{more})" if more else "")
        if self.players or self.videos or self.images:
            count = len(self.players) + len(self.videos) + len(self.images)
            return f"{count} file{'s' if count != 1 else ''}"
        if event.midi is not None:
            return f"{len(event.midi.instruments)} MIDI instruments"
        return event.msg


def event_view(
    delivery: Delivery, *, now: float, copy: Callable[[object], str | None] | None = None
) -> EventView:
    """The page's view of a delivery's event; a body the parser refuses gives a `problem`.
    `copy` gives the link to the kept copy of a file (by its URL), played once it expired."""

    def shown(tag: MediaTag, label: str, value: object, born: datetime | float) -> Media:
        item = media(tag, label, value, born=born, now=now)
        url = copy(value) if copy is not None and item.expired else None
        if url is None:
            return item
        return dataclasses.replace(item, url=url, expired=False, kept=True)

    try:
        event = event_of(delivery)
    except Exception as exc:
        problem = f"The body does not parse as a callback: {exc}"
        return EventView(
            None, problem=problem, outcome=_STAGE_OUTCOMES.get(delivery.stage, "unknown")
        )
    born = delivery.received_at
    view = EventView(event, outcome=event.status)
    for track in event.tracks:
        made = track.created_at or born
        players = [
            shown("audio", label, getattr(track, name), made)
            for name, label in _TRACK_AUDIO
            if getattr(track, name)
        ]
        cover = shown("image", "cover", track.image_url, made)
        view.tracks.append(TrackView(track, cover, players))
    if event.wav_url:
        view.players.append(shown("audio", "WAV", event.wav_url, born))
    if event.stems is not None:
        for name, url in event.stems.urls().items():
            view.players.append(shown("audio", name, url, born))
    for item in event.recovered:
        if item.audio_url:
            label = item.title or item.id or "recovered"
            view.players.append(shown("audio", label, item.audio_url, born))
    if event.video_url:
        view.videos.append(shown("video", "video", event.video_url, born))
    for number, url in enumerate(event.images, 1):
        view.images.append(shown("image", f"image {number}", url, born))
    if event.midi is not None:
        view.midi = midi_lines(event.midi)
    return view


def midi_lines(midi: Midi) -> list[MidiLine]:
    """One summary line per instrument of a MIDI result."""
    lines = []
    for number, instrument in enumerate(midi.instruments, 1):
        notes = instrument.notes
        pitches = [n.pitch for n in notes if n.pitch is not None]
        starts = [n.start for n in notes if n.start is not None]
        ends = [n.end for n in notes if n.end is not None]
        lines.append(
            MidiLine(
                name=instrument.name or f"instrument {number}",
                notes=len(notes),
                pitches=f"{min(pitches)}–{max(pitches)}" if pitches else "–",
                span=f"{min(starts):.2f}–{max(ends):.2f} s" if starts and ends else "–",
            )
        )
    return lines


def pretty_body(body: bytes) -> str:
    """The raw body indented as JSON; text that is not JSON as it came."""
    text = body.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return text
    return json.dumps(parsed, indent=2, ensure_ascii=False)


_STAGE_OUTCOMES = {"complete": "completed", "error": "failed"} | dict.fromkeys(
    PROGRESS_STAGES, "progress"
)

_TRACK_AUDIO = (
    ("audio_url", "audio"),
    ("stream_audio_url", "stream"),
    ("source_audio_url", "source audio"),
    ("source_stream_audio_url", "source stream"),
)
