"""What an archive keeps is recorded with the delivery in the receiver's store (over real HTTP
against the sandbox), and a later keep trusts the store's record as it trusts the sidecars."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from suno_hooks.media import MediaArchive
from suno_hooks.media.archive import store_of
from suno_hooks.stores import MemoryStore
from suno_hooks.stores.delivery_json import delivery_document

from ..support.media_helpers import (
    LOCAL,
    event_of,
    file_bytes,
    kept_archive,
    media_server,
    music_body,
    rig,
    settled_event,
)
from ..support.sandbox_rig import Rig, make_rig, rig_timing

__all__ = ["kept_archive", "make_rig", "rig", "rig_timing"]


def test_the_store_records_what_was_kept_and_a_second_keep_sends_nothing(
    rig: Rig, kept_archive: MediaArchive, tmp_path: Path
) -> None:
    event = settled_event(rig, "generate")
    store = rig.receiver.store
    delivery = store.get(event.dedupe_key)
    assert delivery is not None and delivery.status == "done"
    assert delivery.kept == tuple(sorted(event.kept, key=lambda record: record.name))
    document = delivery_document(delivery)
    assert {item["name"] for item in document["kept"]} == {r.name for r in event.kept}
    requests = dict(rig.sandbox.media_requests)
    for sidecars in (tmp_path / "kept").rglob(".kept"):  # only the store's record is left
        shutil.rmtree(sidecars)
    again = kept_archive.keep(event, store=store)
    assert sorted(again, key=lambda record: record.name) == list(delivery.kept)
    assert dict(rig.sandbox.media_requests) == requests


def test_the_store_catches_up_with_files_kept_before_it_recorded_them(
    rig: Rig, kept_archive: MediaArchive, tmp_path: Path
) -> None:
    kept_archive.disconnect(rig.receiver)
    event = settled_event(rig, "wav")
    store = rig.receiver.store
    assert store.get(event.dedupe_key).kept == ()  # type: ignore[union-attr]
    (record,) = kept_archive.keep(event)  # no store: the sidecar alone records it
    requests = dict(rig.sandbox.media_requests)
    assert kept_archive.keep(event, store=store) == [record]
    assert dict(rig.sandbox.media_requests) == requests
    assert store.get(event.dedupe_key).kept == (record,)  # type: ignore[union-attr]


def test_a_store_that_cannot_record_never_loses_the_files(tmp_path: Path) -> None:
    class Broken(MemoryStore):
        def record_kept(self, key: str, files: Any) -> bool:
            raise ConnectionError("down")

    class Sender:
        store = Broken()

    assert store_of(Sender()) is Sender.store and store_of(object()) is None
    archive = MediaArchive(tmp_path / "kept", **LOCAL)
    with media_server() as server:
        track = {"id": "s1", "audio_url": f"{server.url}/files/s1.mp3?size=1000"}
        event = event_of(music_body("broken1", [track]))
        (record,) = archive.keep(event, store=Sender.store)
        assert Path(record.location).read_bytes() == file_bytes("s1.mp3", 1000)
        assert archive.keep(event, store=Sender.store) == [record]
        assert server.total == 1
    archive.close()


def test_a_manual_keep_uses_the_connected_receivers_store_and_flask_apps_have_one(
    rig: Rig, kept_archive: MediaArchive, tmp_path: Path
) -> None:
    from flask import Flask

    from suno_hooks.contrib.flask import SunoHooks

    kept_archive.disconnect(rig.receiver)
    event = settled_event(rig, "wav")
    kept_archive.connect(rig.receiver)
    (record,) = kept_archive.keep(event)  # no store named: the connected receiver's
    assert rig.receiver.store.get(event.dedupe_key).kept == (record,)  # type: ignore[union-attr]
    app = Flask("kept")
    app.config["SUNO_HOOKS_SECRET_KEY"] = "flask-secret"
    SunoHooks().init_app(app, receiver=rig.receiver)
    assert store_of(app) is rig.receiver.store
