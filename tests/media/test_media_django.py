"""The media archive in Django: files kept through a `Storage` (FileSystemStorage, and
`default_storage` unless told), the Django media signals, and the `SUNO_HOOKS["MEDIA"]` checks."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.test import override_settings

from suno_hooks.contrib.django import signals as django_signals
from suno_hooks.contrib.django.media import DjangoStorageTarget, get_archive
from suno_hooks.contrib.django.media_checks import check_media
from suno_hooks.media import KeptFile, MediaArchive
from suno_hooks.sandbox.media import media_bytes

from ..support.media_helpers import (
    LOCAL,
    event_of,
    file_bytes,
    media_server,
    music_body,
    rig,
    settled_event,
)
from ..support.sandbox_rig import Rig, make_rig, rig_timing

__all__ = ["make_rig", "rig", "rig_timing"]

SETTINGS_LOCAL = {"ALLOWED_HOSTS": ["127.0.0.1"], "ALLOW_HTTP": True, "ALLOW_PRIVATE": True}


@pytest.fixture
def storage(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(location=tmp_path / "media")


def test_a_sandbox_song_is_kept_in_a_file_system_storage(
    rig: Rig, storage: FileSystemStorage
) -> None:
    archive = MediaArchive(DjangoStorageTarget(storage), **LOCAL, backoff=0.01)
    archive.connect(rig.receiver)
    heard: list[KeptFile] = []

    def on_kept(sender: Any, *, kept: KeptFile, **extra: Any) -> None:
        heard.append(kept)

    django_signals.media_kept.connect(on_kept)
    try:
        event = settled_event(rig, "generate")
    finally:
        django_signals.media_kept.disconnect(on_kept)
        archive.close()
    assert len(event.kept) == 4 and heard == event.kept
    for record in event.kept:
        assert record.location == f"suno/{record.key}"
        with storage.open(record.location, "rb") as file:
            data = file.read()
        assert hashlib.sha256(data).hexdigest() == record.sha256
        assert record.source is not None
        made = media_bytes(record.source.split("/media/", 1)[1])
        assert made is not None and data == made[0]


def test_the_name_the_storage_returns_is_recorded(storage: FileSystemStorage) -> None:
    storage.save("suno/taken/complete/a.mp3", ContentFile(b"someone else's file"))
    with media_server() as server:
        archive = MediaArchive(DjangoStorageTarget(storage), **LOCAL)
        url = f"{server.url}/files/a.mp3"
        event = event_of(music_body("taken", [{"id": "a", "audio_url": url}]))
        (record,) = archive.keep(event)
        assert archive.keep(event_of(music_body("taken", [{"id": "a", "audio_url": url}]))) == [
            record
        ]
        assert server.total == 1
        archive.close()
    assert record.location != "suno/taken/complete/a.mp3"
    with storage.open(record.location, "rb") as file:
        assert file.read() == file_bytes("a.mp3", 4096)
    with storage.open("suno/taken/complete/a.mp3", "rb") as file:
        assert file.read() == b"someone else's file"


def test_the_archive_from_settings_uses_the_default_storage(tmp_path: Path) -> None:
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "default")},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(
        SUNO_HOOKS={"STORE": "memory://", "MEDIA": SETTINGS_LOCAL}, STORAGES=storages
    ):
        archive = get_archive()
        assert get_archive() is archive
        assert isinstance(archive.target, DjangoStorageTarget)
        with media_server() as server:
            url = f"{server.url}/files/d.mp3"
            (record,) = archive.keep(event_of(music_body("d", [{"id": "d", "audio_url": url}])))
        assert (tmp_path / "default" / record.location).read_bytes() == file_bytes("d.mp3", 4096)
        archive.close()
    with override_settings(SUNO_HOOKS={"STORE": "memory://", "MEDIA": {"TARGET": str(tmp_path)}}):
        assert repr(get_archive().target) == f"LocalTarget({str(tmp_path.resolve())!r})"


def media_ids(media: Any, **extra: Any) -> list[str]:
    with override_settings(SUNO_HOOKS={"STORE": "memory://", "MEDIA": media}, **extra):
        found = check_media()
    assert all(message.hint for message in found)
    return [message.id or "" for message in found]


def test_a_misconfigured_target_is_named_by_a_check() -> None:
    assert media_ids({"TARGET": "django", "STORAGE": "default", **SETTINGS_LOCAL}) == []
    assert media_ids({"TARGET": "/srv/music", "MAX_BYTES": 10}) == []
    assert media_ids({"TARGET": "s3://bucket/prefix"}) == []
    assert media_ids(["not", "a", "dict"]) == ["suno_hooks.E101"]
    assert media_ids({"TARGETS": "django"}) == ["suno_hooks.E101"]
    assert media_ids({"MAX_BYTES": -1, "ALLOW_HTTP": "yes"}) == ["suno_hooks.E102"] * 2
    assert media_ids({"STORAGE": "music"}) == ["suno_hooks.E103"]
    assert media_ids({"TARGET": "ftp://music/x"}) == ["suno_hooks.E104"]
    with override_settings(SUNO_HOOKS={"STORE": "memory://", "MEDIA": {"STORAGE": "nope"}}):
        found = checks.run_checks(tags=["suno_hooks"])
    assert "suno_hooks.E103" in [message.id for message in found]
