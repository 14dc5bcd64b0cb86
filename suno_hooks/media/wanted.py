"""Every file a completed event names, each with a stable name: track audio and covers (the
`source_*` copies only when nothing else is there), video, WAV, stems, recovered audio, market
`result_urls`, and the inline results (MIDI as JSON, lyrics as text). Never the `stream_*`
URLs: they are live streams of an unfinished file."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from ..events import Event

__all__ = ["WantedFile", "safe_name", "wanted_files"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"\.[a-z0-9]{1,5}")


@dataclass(frozen=True, slots=True)
class WantedFile:
    """One file to keep: its name within the stage and either the URL to copy or the inline
    content to write."""

    name: str
    url: str | None = None
    content: bytes | None = None
    content_type: str | None = None


def safe_name(text: str, fallback: str) -> str:
    """`text` as one path segment: letters, digits, `.`, `_` and `-` only, no leading dot, at
    most 100 characters; `fallback` when nothing is left."""
    cleaned = _UNSAFE.sub("_", text).strip("._")[:100]
    return cleaned or fallback


def _extension(url: str, default: str) -> str:
    try:
        suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    except ValueError:
        return default
    return suffix if _EXTENSION.fullmatch(suffix) else default


class _Plan:
    def __init__(self) -> None:
        self.files: list[WantedFile] = []
        self.names: set[str] = set()
        self.urls: set[str] = set()

    def _unique(self, name: str) -> str:
        stem, dot, extension = name.partition(".")
        candidate, number = name, 1
        while candidate in self.names:
            number += 1
            candidate = f"{stem}-{number}{dot}{extension}"
        self.names.add(candidate)
        return candidate

    def url(self, base: str, url: str | None, default_extension: str) -> None:
        if not isinstance(url, str) or not url.strip() or url in self.urls:
            return
        self.urls.add(url)
        name = self._unique(safe_name(base, "file") + _extension(url, default_extension))
        self.files.append(WantedFile(name, url=url))

    def inline(self, name: str, content: bytes, content_type: str) -> None:
        self.files.append(
            WantedFile(self._unique(name), content=content, content_type=content_type)
        )


def wanted_files(event: Event) -> list[WantedFile]:
    """The files `event` names, in a stable order with stable names."""
    plan = _Plan()
    for number, track in enumerate(event.tracks, 1):
        base = safe_name(track.id or "", f"track-{number}")
        plan.url(base, track.audio_url or track.source_audio_url, ".mp3")
        plan.url(f"{base}.cover", track.image_url or track.source_image_url, ".jpeg")
    for number, recovered in enumerate(event.recovered, 1):
        plan.url(safe_name(recovered.id or "", f"recovered-{number}"), recovered.audio_url, ".mp3")
    plan.url("video", event.video_url, ".mp4")
    plan.url("audio", event.wav_url, ".wav")
    if event.stems is not None:
        for name, url in event.stems.urls().items():
            plan.url(name, url, ".mp3")
    for number, url in enumerate(event.images, 1):
        plan.url(f"cover-{number}", url, ".png")
    for number, url in enumerate(event.result_urls, 1):
        plan.url(f"result-{number}", url, ".bin")
    if event.midi is not None and event.midi.instruments:
        data = json.dumps(event.midi.model_dump(mode="json"), ensure_ascii=False, indent=2)
        plan.inline("midi.json", data.encode(), "application/json")
    for number, variant in enumerate(event.lyrics, 1):
        if variant.ok and variant.text:
            text = f"{variant.title}\n\n{variant.text}\n" if variant.title else variant.text + "\n"
            plan.inline(f"lyrics-{number}.txt", text.encode(), "text/plain; charset=utf-8")
    return plan.files
