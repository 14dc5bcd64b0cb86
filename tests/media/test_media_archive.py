"""`MediaArchive` against a real HTTP media server and a local directory: what is kept, how it
is recorded and announced, retries, final answers, the size cap and the file's deadline."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from suno_hooks import Event, Receiver, task_completed
from suno_hooks.handoff import ThreadHandoff
from suno_hooks.inbound import InboundRequest
from suno_hooks.media import (
    KeepFailed,
    KeptFile,
    MediaArchive,
    MediaError,
    MediaTimeouts,
    MediaTooLarge,
    wanted_files,
)
from suno_hooks.signals import media_failed, media_kept
from suno_hooks.testing import encode, make_callback, sign_headers

from ..support.media_helpers import (
    LOCAL,
    MediaServer,
    event_of,
    file_bytes,
    media_server,
    music_body,
)

HANDOFF_KEY = "whk_media_handoff_0123456789"


@pytest.fixture
def server() -> Iterator[MediaServer]:
    with media_server() as running:
        yield running


def archive_for(root: Path, **options: Any) -> MediaArchive:
    options.setdefault("backoff", 0.01)
    return MediaArchive(root, **LOCAL, **options)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_every_file_is_kept_once_byte_for_byte(tmp_path: Path, server: MediaServer) -> None:
    tracks = [
        {
            "id": "t1",
            "audio_url": f"{server.url}/files/t1.mp3?size=200000&token=secret",
            "stream_audio_url": f"{server.url}/files/stream-t1",
            "image_url": f"{server.url}/files/t1.jpeg?size=3000",
        },
        {
            "id": "t2",
            "source_audio_url": f"{server.url}/files/t2-source.mp3",
            "source_stream_audio_url": f"{server.url}/files/stream-t2",
            "source_image_url": f"{server.url}/files/t2-source.png",
        },
    ]
    event = event_of(music_body("task-1", tracks))
    announced: list[KeptFile] = []
    archive = archive_for(tmp_path)

    def on_kept(sender: Any, *, event: Any, kept: KeptFile) -> None:
        assert sender is archive
        announced.append(kept)

    with media_kept.connected_to(on_kept):
        kept = archive.keep(event)
    assert [record.key for record in kept] == [
        "task-1/complete/t1.mp3",
        "task-1/complete/t1.cover.jpeg",
        "task-1/complete/t2.mp3",
        "task-1/complete/t2.cover.png",
    ]
    assert announced == kept == event.kept
    expected = {
        "t1.mp3": file_bytes("t1.mp3", 200000),
        "t1.cover.jpeg": file_bytes("t1.jpeg", 3000),
        "t2.mp3": file_bytes("t2-source.mp3", 4096),
        "t2.cover.png": file_bytes("t2-source.png", 4096),
    }
    for record in kept:
        assert Path(record.location).read_bytes() == expected[record.name]
        assert record.sha256 == sha(expected[record.name])
        assert record.bytes == len(expected[record.name])
        assert record.kept_at.tzinfo is not None
        assert KeptFile.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    assert kept[0].content_type == "audio/mpeg"
    assert kept[0].source == f"{server.url}/files/t1.mp3"  # the token stays out of the record
    assert "secret" not in json.dumps([record.to_dict() for record in kept])
    assert not any("stream" in path for path in server.requests)
    assert server.total == 4

    again = event_of(music_body("task-1", tracks))
    assert archive.keep(again) == kept
    assert server.total == 4  # a second keep asks nothing
    assert archive_for(tmp_path).keep(again) == kept  # nor does a new archive on the same target
    assert server.total == 4
    archive.close()


def test_inline_results_and_every_family_have_stable_names() -> None:
    names = {
        kind: [wanted.name for wanted in wanted_files(event_of(make_callback(kind, "complete")))]
        for kind in ("lyrics", "wav", "stems", "midi", "video", "cover_image")
    }
    assert names["lyrics"] == ["lyrics-1.txt"]
    assert names["wav"] == ["audio.wav"]
    assert names["video"] == ["video.mp4"]
    assert names["midi"] == ["midi.json"]
    assert names["cover_image"][0].startswith("cover-1.")
    assert names["stems"] and all(name.endswith(".mp3") for name in names["stems"])
    advanced = make_callback("stems", "complete")
    del advanced["data"]["vocal_separation_info"]
    advanced["data"]["vocal_removal_info"] = {
        "origin_data": [
            {
                "extract": {"id": "e", "audio_url": "https://cdn1.suno.ai/e.mp3"},
                "remove": {"id": "r", "audio_url": "https://cdn1.suno.ai/r"},
            }
        ]
    }
    assert [w.name for w in wanted_files(event_of(advanced))] == ["e_extract.mp3", "r_remove.mp3"]
    market = {
        "code": 200,
        "msg": "success",
        "data": {
            "taskId": "m1",
            "model": "ai-music-api/create-music-video",
            "state": "success",
            "resultJson": json.dumps({"resultUrls": ["https://cdn1.suno.ai/v.mp4"] * 2}),
        },
    }
    assert [w.name for w in wanted_files(event_of(market))] == ["result-1.mp4"]


def test_midi_and_lyrics_are_written_from_the_event(tmp_path: Path) -> None:
    archive = archive_for(tmp_path)
    midi = archive.keep(event_of(make_callback("midi", "complete", task_id="m")))
    lyrics = archive.keep(event_of(make_callback("lyrics", "complete", task_id="l")))
    data = json.loads((tmp_path / "m/complete/midi.json").read_text())
    assert data["instruments"] and midi[0].content_type == "application/json"
    text = (tmp_path / "l/complete/lyrics-1.txt").read_text()
    assert lyrics[0].sha256 == sha(text.encode()) and text.strip()
    archive.close()


def test_transient_answers_are_retried(tmp_path: Path, server: MediaServer) -> None:
    server.fail("/files/a.mp3", 503, 429, 502)
    archive = archive_for(tmp_path)
    url = f"{server.url}/files/a.mp3"
    kept = archive.keep(event_of(music_body("retry", [{"id": "a", "audio_url": url}])))
    assert server.requests["/files/a.mp3"] == 4
    assert kept[0].sha256 == sha(file_bytes("a.mp3", 4096))
    archive.close()


@pytest.mark.parametrize(("status", "tries"), [(404, 1), (410, 1), (403, 1), (500, 3)])
def test_final_answers_and_the_last_try_fail_the_file(
    tmp_path: Path, server: MediaServer, status: int, tries: int
) -> None:
    server.fail("/files/gone.mp3", *[status] * 5)
    archive = archive_for(tmp_path, tries=3)
    failed: list[dict[str, Any]] = []
    tracks = [
        {"id": "gone", "audio_url": f"{server.url}/files/gone.mp3?sig=abc"},
        {"id": "here", "audio_url": f"{server.url}/files/here.mp3"},
    ]

    def on_failed(sender: Any, **kwargs: Any) -> None:
        failed.append(kwargs)

    with media_failed.connected_to(on_failed), pytest.raises(KeepFailed) as caught:
        archive.keep(event_of(music_body("gone", tracks)))
    assert server.requests["/files/gone.mp3"] == tries
    assert [record.name for record in caught.value.kept] == ["here.mp3"]
    assert caught.value.failures["gone.mp3"].status == status
    assert failed[0]["name"] == "gone.mp3" and failed[0]["url"] == f"{server.url}/files/gone.mp3"
    assert "abc" not in str(caught.value)
    assert files_under(tmp_path) == [
        "gone/complete/.kept/here.mp3.json",
        "gone/complete/here.mp3",
    ]
    archive.close()


def test_a_body_past_the_cap_is_stopped_and_leaves_nothing(
    tmp_path: Path, server: MediaServer
) -> None:
    archive = archive_for(tmp_path, max_bytes=1_000_000)
    tracks = [
        {"id": "endless", "audio_url": f"{server.url}/endless/x.mp3"},
        {"id": "announced", "audio_url": f"{server.url}/files/big.mp3?size=1000001"},
    ]
    with pytest.raises(KeepFailed) as caught:
        archive.keep(event_of(music_body("big", tracks)))
    assert set(caught.value.failures) == {"endless.mp3", "announced.mp3"}
    assert all(isinstance(e, MediaTooLarge) for e in caught.value.failures.values())
    assert server.requests["/endless/x.mp3"] == 1  # a file over the cap is not tried again
    assert files_under(tmp_path) == []
    archive.close()


def test_redirects_are_followed_by_hand_at_most_three_times(
    tmp_path: Path, server: MediaServer
) -> None:
    archive = archive_for(tmp_path)
    final = f"{server.url}/files/r.mp3"
    url = final
    for _ in range(3):
        url = f"{server.url}/redirect?to={url}"
    kept = archive.keep(event_of(music_body("hops", [{"id": "r", "audio_url": url}])))
    assert kept[0].sha256 == sha(file_bytes("r.mp3", 4096))
    url = f"{server.url}/redirect?to={url}"
    four = event_of(music_body("hops4", [{"id": "r", "audio_url": url}]))
    with pytest.raises(KeepFailed, match="more than 3 redirects"):
        archive.keep(four)
    archive.close()


def test_the_files_deadline_covers_a_slow_body(tmp_path: Path, server: MediaServer) -> None:
    archive = archive_for(tmp_path, timeouts=MediaTimeouts(total=0.3), tries=2)
    url = f"{server.url}/slow/s.mp3?size=100000"
    with pytest.raises(KeepFailed) as caught:
        archive.keep(event_of(music_body("slow", [{"id": "s", "audio_url": url}])))
    error = caught.value.failures["s.mp3"]
    assert isinstance(error, MediaError) and "time ran out" in error.detail
    assert files_under(tmp_path) == []
    archive.close()


def test_connect_keeps_every_completed_event(tmp_path: Path, server: MediaServer) -> None:
    receiver = Receiver(secret_key="media-connect", store="memory://")
    archive = archive_for(tmp_path)
    archive.connect(receiver)
    try:
        first = music_body("c1", [{"id": "c", "audio_url": f"{server.url}/files/c.mp3"}])
        progress = json.loads(json.dumps(first))
        progress["data"]["callbackType"] = "first"
        receiver.deliver(progress, source="callback")
        assert server.total == 0
        outcome = receiver.deliver(first, source="callback")
        assert outcome.status == 200
        assert (tmp_path / "c1/complete/c.mp3").read_bytes() == file_bytes("c.mp3", 4096)
        server.fail("/files/d.mp3", 404)
        missing = music_body("c2", [{"id": "d", "audio_url": f"{server.url}/files/d.mp3"}])
        failed = receiver.deliver(missing, source="callback")
        assert failed.delivery is not None and failed.delivery.status == "failed"
        assert "d.mp3" in (failed.delivery.error or "")  # failed, so a replay tries again
    finally:
        archive.close()
    receiver.deliver(music_body("c3", [{"id": "e", "audio_url": f"{server.url}/files/e.mp3"}]))
    assert "/files/e.mp3" not in server.requests


def test_with_a_hand_off_the_files_are_kept_by_the_worker_after_the_answer(
    tmp_path: Path, server: MediaServer
) -> None:
    handoff = ThreadHandoff(workers=1)
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    receiver = Receiver(hmac_keys=[HANDOFF_KEY], store=store, handoff=handoff)
    gate = threading.Event()

    def held(sender: Any, event: Event, **extra: Any) -> None:
        gate.wait(10)  # connected before the archive, so it runs first: the worker waits here

    task_completed.connect(held, sender=receiver, weak=False)
    archive = archive_for(tmp_path / "kept")
    archive.connect(receiver)
    try:
        raw = encode(music_body("h1", [{"id": "h", "audio_url": f"{server.url}/files/h.mp3"}]))
        answer = receiver.handle(InboundRequest("POST", raw, sign_headers(raw, HANDOFF_KEY)))
        assert (answer.status, answer.body) == (200, {"status": "queued"})
        assert server.total == 0  # answered before the worker fetched anything
        gate.set()
        assert handoff.close(timeout=10)
        kept = receiver.store.get("h1:complete")
        assert kept is not None and kept.status == "done"
        assert [record.name for record in kept.kept] == ["h.mp3"]
        assert (tmp_path / "kept/h1/complete/h.mp3").read_bytes() == file_bytes("h.mp3", 4096)
        assert server.requests["/files/h.mp3"] == 1
    finally:
        gate.set()
        task_completed.disconnect(held, sender=receiver)
        archive.close()


@pytest.mark.parametrize("parallel", [1, 3])
def test_an_event_s_files_are_fetched_parallel_at_a_time(
    tmp_path: Path, server: MediaServer, parallel: int
) -> None:
    tracks = [
        {"id": f"s{n}", "audio_url": f"{server.url}/slow/s{n}.mp3?size=40960&step=4096"}
        for n in range(4)
    ]
    tracks[1]["audio_url"] = f"{server.url}/files/missing.mp3"
    server.fail("/files/missing.mp3", *[404] * 5)
    archive = archive_for(tmp_path, parallel=parallel)
    announced: list[str] = []

    def on_kept(sender: Any, *, event: Any, kept: KeptFile) -> None:
        announced.append(kept.name)

    with media_kept.connected_to(on_kept), pytest.raises(KeepFailed) as caught:
        archive.keep(event_of(music_body("parallel", tracks)))
    archive.close()
    assert server.most_streaming == min(parallel, 3)
    assert [record.name for record in caught.value.kept] == ["s0.mp3", "s2.mp3", "s3.mp3"]
    assert announced == ["s0.mp3", "s2.mp3", "s3.mp3"]  # in the event's order, whatever ends first
    assert list(caught.value.failures) == ["s1.mp3"]
    for record in caught.value.kept:
        assert Path(record.location).read_bytes() == file_bytes(f"{record.name}", 40960)


def test_parallel_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="parallel"):
        MediaArchive(tmp_path, parallel=0)
