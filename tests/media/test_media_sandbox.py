"""End to end over real HTTP: a task created with the client at the sandbox, its callback
received, and every file it names kept byte for byte in a local directory; the sandbox's
`media:*` scenarios."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from suno_hooks import Event
from suno_hooks.media import KeepFailed, KeptFile, MediaArchive, MediaTimeouts
from suno_hooks.sandbox.media import media_bytes

from ..support.media_helpers import LOCAL, rig, settled_event
from ..support.sandbox_rig import Rig, make_rig, rig_timing

__all__ = ["make_rig", "rig", "rig_timing"]

FEATURES = ["generate", "upload_cover", "wav", "stems", "midi", "video", "cover_image", "lyrics"]
FEATURES += ["ai-music-api/generate-lyrics", "ai-music-api/replace-section"]


@pytest.fixture
def archive(rig: Rig, tmp_path: Path) -> Iterator[MediaArchive]:
    kept = MediaArchive(
        tmp_path / "kept",
        allowed_hosts=["127.0.0.1"],
        allow_http=["127.0.0.1"],  # named hosts only, as a project would write it
        allow_private=["127.0.0.1"],
        backoff=0.01,
    )
    kept.connect(rig.receiver)
    yield kept
    kept.close()


def expected_bytes(record: KeptFile, event: Event) -> bytes:
    if record.source is None:  # inline: MIDI or lyrics, written from the event
        return Path(record.location).read_bytes()
    name = urlsplit(record.source).path.removeprefix("/media/")
    made = media_bytes(name)
    assert made is not None and record.content_type == made[1]
    return made[0]


@pytest.mark.parametrize("feature", FEATURES)
def test_every_file_of_a_task_is_kept_byte_for_byte(
    rig: Rig, archive: MediaArchive, feature: str
) -> None:
    event = settled_event(rig, feature)
    assert event.status == "completed" and event.kept
    for record in event.kept:
        data = Path(record.location).read_bytes()
        assert data == expected_bytes(record, event)
        assert hashlib.sha256(data).hexdigest() == record.sha256 and record.bytes == len(data)
        assert record.key.startswith(f"{event.task_id}/{event.stage}/")
    fetched = sum(1 for record in event.kept if record.source is not None)
    requests = dict(rig.sandbox.media_requests)
    assert sum(requests.values()) == fetched
    assert not any(".stream." in path for path in requests)  # never the stream URLs
    assert archive.keep(event) == event.kept
    assert dict(rig.sandbox.media_requests) == requests  # nothing fetched twice


def test_the_music_of_a_song_is_all_there(rig: Rig, archive: MediaArchive) -> None:
    event = settled_event(rig, "generate")
    names = sorted(record.name for record in event.kept)
    tracks = sorted(track.id or "" for track in event.tracks)
    assert names == sorted([f"{t}.mp3" for t in tracks] + [f"{t}.cover.png" for t in tracks])
    advanced = settled_event(rig, "stems", type="split_stem_advanced")
    assert sorted(r.name for r in advanced.kept) == [
        "lead_vocal_extract.mp3",
        "lead_vocal_remove.mp3",
    ]


@pytest.mark.parametrize(("mode", "status"), [("missing", 404), ("expired", 403)])
def test_a_missing_or_expired_file_is_final(
    rig: Rig, archive: MediaArchive, mode: str, status: int
) -> None:
    event = settled_event(rig, "video", sandbox=[f"media:{mode}"])
    assert event.kept == []
    delivery = rig.receiver.store.get(event.dedupe_key)  # type: ignore[attr-defined]
    assert delivery.status == "failed" and f"{status}:" in (delivery.error or "")
    assert list(rig.sandbox.media_requests.values()) == [1]  # a final answer is not retried


def test_a_slow_file_is_kept_within_its_time_and_refused_past_it(
    rig: Rig, archive: MediaArchive, tmp_path: Path
) -> None:
    event = settled_event(rig, "wav", sandbox=["media:slow"])  # 16 KB in 4 KiB steps of 0.1 s
    (record,) = event.kept
    assert Path(record.location).read_bytes() == expected_bytes(record, event)
    impatient = MediaArchive(tmp_path / "impatient", **LOCAL, timeouts=MediaTimeouts(total=0.25))
    event.kept.clear()
    with pytest.raises(KeepFailed, match="time ran out"):
        impatient.keep(event)
    impatient.close()
    assert not any((tmp_path / "impatient").rglob("*.wav"))


def boxes(data: bytes) -> list[bytes]:
    """The kinds of an MP4's top-level boxes, in order."""
    kinds, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        assert size >= 8, (at, size)
        kinds.append(data[at + 4 : at + 8])
        at += size
    assert at == len(data)
    return kinds


def test_each_kind_of_sandbox_file_is_a_real_file_of_its_kind() -> None:
    video, video_type = media_bytes("t1/video.mp4") or (b"", "")
    assert video_type == "video/mp4"
    kinds = boxes(video)
    assert kinds[0] == b"ftyp" and kinds[-1] == b"free"
    assert kinds.index(b"moov") < kinds.index(b"mdat")  # the index before the data
    index = video[: video.index(b"mdat")]
    assert b"avc1" in index and b"mp4a" in index  # an H.264 video track and an AAC one
    assert video != (media_bytes("t2/video.mp4") or (b"", ""))[0]
    audio, _ = media_bytes("t1/track.mp3") or (b"", "")
    assert audio.startswith(b"ID3") and audio[10:12] == b"\xff\xfb"
    wave, _ = media_bytes("t1/track.wav") or (b"", "")
    assert wave[:4] == b"RIFF" and wave[8:12] == b"WAVE"
    image, _ = media_bytes("t1/cover.png") or (b"", "")
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
