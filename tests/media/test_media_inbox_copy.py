"""The inbox page plays the kept copy once the original expired: a song made at the sandbox and
kept over real HTTP, its page in headless Chromium (WSGI and ASGI) with the page's clock 20
days on; the file route's safety and ranges on the Flask and Django mounts; an object store
answered with a presigned URL (moto's S3 server)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from suno_hooks import Event
from suno_hooks.inbox import InboxCore, inbox_asgi_app, inbox_wsgi_app
from suno_hooks.inbox.request import PageRequest, PageResponse
from suno_hooks.media import KeptFile, LocalTarget, MediaArchive
from suno_hooks.sandbox.media import media_bytes

from ..support.browser import asgi_server, browser, follow, wsgi_server
from ..support.media_helpers import LOCAL, kept_archive, rig, settled_event
from ..support.sandbox_rig import Rig, make_rig, rig_timing
from .test_media_objectstore import s3
from .test_media_objectstore import target as s3_target

__all__ = ["browser", "kept_archive", "make_rig", "rig", "rig_timing", "s3"]

LATER = 20 * 24 * 3600.0
NOW = datetime.now(timezone.utc)


@pytest.fixture
def kept_song(rig: Rig, kept_archive: MediaArchive) -> Event:
    return settled_event(rig, "generate")


def later_core(app: Any) -> Any:
    app.core.clock = lambda: time.time() + LATER  # the originals have expired by then
    return app


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
def test_an_expired_song_plays_from_its_kept_copy(
    browser: WebDriver, rig: Rig, kept_song: Event, tmp_path: Path, server: str
) -> None:
    media = tmp_path / "kept"
    with ExitStack() as stack:
        if server == "wsgi":
            app = later_core(inbox_wsgi_app(rig.receiver, media=media))
            base = stack.enter_context(wsgi_server(app))
        else:
            app = later_core(inbox_asgi_app(rig.receiver, media=str(media)))
            base = stack.enter_context(asgi_server(app))
        key = kept_song.dedupe_key
        browser.get(f"{base}/delivery?{urlencode({'key': key})}")
        audios = browser.find_elements(By.CSS_SELECTOR, "figure.kept audio")
        assert len(audios) == len(kept_song.tracks)
        assert all("/kept?" in (audio.get_attribute("src") or "") for audio in audios)
        assert "(kept copy)" in browser.find_element(By.CSS_SELECTOR, "figure.kept").text
        assert "stream: expired" in browser.page_source  # never kept, so still expired
        loaded = "const a = arguments[0]; a.preload = 'auto'; a.load();"
        browser.execute_script(loaded, audios[0])
        WebDriverWait(browser, 10).until(
            lambda b: b.execute_script("return arguments[0].duration > 1", audios[0])
        )
        covers = browser.find_elements(By.CSS_SELECTOR, ".cover img")
        WebDriverWait(browser, 10).until(
            lambda b: all(
                b.execute_script("return arguments[0].naturalWidth > 0", cover) for cover in covers
            )
        )
        requests = dict(rig.sandbox.media_requests)
        follow(browser, browser.find_element(By.LINK_TEXT, "← all deliveries"))
        assert dict(rig.sandbox.media_requests) == requests  # played from the archive


def kept_answer(
    serve: Callable[[PageRequest], PageResponse], key: str, name: str, **headers: str
) -> PageResponse:
    from suno_hooks.inbound import Headers

    query = {"key": key, "name": name}
    return serve(PageRequest("GET", "/kept", "", query, Headers.from_lower(list(headers.items()))))


def test_the_kept_route_serves_only_recorded_files_with_ranges(
    rig: Rig, kept_song: Event, tmp_path: Path
) -> None:
    core = InboxCore(rig.receiver, media=tmp_path / "kept", per_process_key=True)
    key = kept_song.dedupe_key
    record = next(r for r in kept_song.kept if r.name.endswith(".mp3"))
    data = media_bytes(record.source.partition("/media/")[2])[0]  # type: ignore[union-attr,index]
    whole = kept_answer(core.handle, key, record.name)
    assert whole.status == 200 and b"".join(whole.parts()) == data
    assert ("Content-Type", "audio/mpeg") in whole.headers
    part = kept_answer(core.handle, key, record.name, range="bytes=10-19")
    assert part.status == 206 and b"".join(part.parts()) == data[10:20]
    assert ("Content-Range", f"bytes 10-19/{len(data)}") in part.headers
    tail = kept_answer(core.handle, key, record.name, range="bytes=-5")
    assert b"".join(tail.parts()) == data[-5:]
    beyond = kept_answer(core.handle, key, record.name, range=f"bytes={len(data)}-")
    assert beyond.status == 416
    (tmp_path / "secret.txt").write_text("not for the page")
    for name in ("../../secret.txt", "/etc/passwd", ".kept", record.name + "x", ""):
        assert kept_answer(core.handle, key, name).status == 404, name
    assert kept_answer(core.handle, "nope:complete", record.name).status == 404
    forged = KeptFile("../secret.txt", "x.mp3", "/x", 1, "0" * 64, "text/html", record.kept_at)
    assert rig.receiver.store.record_kept(key, [forged])  # type: ignore[attr-defined]
    assert kept_answer(core.handle, key, "x.mp3").status == 404  # the key leaves the archive
    html = KeptFile(record.key, "page.html", "/x", 1, "0" * 64, "text/html", record.kept_at)
    assert rig.receiver.store.record_kept(key, [html])  # type: ignore[attr-defined]
    shown = kept_answer(core.handle, key, "page.html")
    assert ("Content-Type", "application/octet-stream") in shown.headers
    assert any(name == "Content-Disposition" for name, _ in shown.headers)
    without = InboxCore(rig.receiver, per_process_key=True)  # no archive: nothing is served
    assert kept_answer(without.handle, key, record.name).status == 404


def test_the_flask_mount_streams_the_kept_copy(rig: Rig, kept_song: Event, tmp_path: Path):
    from flask import Flask

    from suno_hooks.contrib.flask import SunoHooks

    app = Flask("kept")
    app.config.update(
        SUNO_HOOKS_INBOX=True,
        SUNO_HOOKS_INBOX_AUTH=lambda: True,
        SUNO_HOOKS_INBOX_MEDIA=str(tmp_path / "kept"),
        SUNO_HOOKS_SECRET_KEY="flask-secret",
    )
    hooks = SunoHooks()
    hooks.init_app(app, receiver=rig.receiver)
    record = next(r for r in kept_song.kept if r.name.endswith(".png"))
    query = {"key": kept_song.dedupe_key, "name": record.name}
    answer = app.test_client().get("/suno/inbox/kept", query_string=query)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/png"
    assert answer.data == Path(record.location).read_bytes()
    assert int(answer.headers["Content-Length"]) == record.bytes


def test_an_object_store_copy_is_answered_with_a_presigned_link(rig: Rig, s3: str) -> None:
    archive = MediaArchive(s3_target(s3), **LOCAL, backoff=0.01)
    archive.connect(rig.receiver)
    event = settled_event(rig, "wav")
    archive.close()
    (record,) = event.kept
    core = InboxCore(rig.receiver, media=s3_target(s3), per_process_key=True)
    answer = kept_answer(core.handle, event.dedupe_key, record.name)
    assert answer.status == 303
    location = dict(answer.headers)["Location"]
    assert location.startswith(s3) and "X-Amz-Signature=" in location
    fetched = httpx.get(location)
    assert fetched.status_code == 200
    assert fetched.content == media_bytes(record.source.partition("/media/")[2])[0]  # type: ignore[union-attr,index]


@pytest.mark.django_db(transaction=True)
def test_the_django_admin_mount_serves_the_kept_copy(
    admin_client: Any, settings: Any, tmp_path: Path
) -> None:
    from suno_hooks.contrib.django.conf import get_receiver
    from suno_hooks.testing import make_callback

    settings.SUNO_HOOKS = {**settings.SUNO_HOOKS, "MEDIA": {"TARGET": str(tmp_path / "kept")}}
    receiver = get_receiver()
    outcome = receiver.deliver(make_callback(task_id="d" * 32))
    assert outcome.delivery is not None
    target = LocalTarget(tmp_path / "kept")
    key = f"{'d' * 32}/complete/song.mp3"
    location = target.save(key, [b"ID3" + bytes(500)], "audio/mpeg")
    record = KeptFile(
        key, "song.mp3", location, 503, "0" * 64, "audio/mpeg", datetime.now(timezone.utc)
    )
    assert receiver.store.record_kept(outcome.delivery.key, [record])  # type: ignore[attr-defined]
    url = "/admin/suno_hooks/delivery/inbox/kept"
    query = {"key": outcome.delivery.key, "name": "song.mp3"}
    answer = admin_client.get(url, query, HTTP_RANGE="bytes=0-2")
    assert answer.status_code == 206 and b"".join(answer.streaming_content) == b"ID3"
    assert answer["Content-Range"] == "bytes 0-2/503"
    assert admin_client.get(url, {**query, "name": "../song.mp3"}).status_code == 404


def test_a_django_storage_copy_is_answered_with_its_storage_url(tmp_path: Path) -> None:
    from django.core.files.storage import FileSystemStorage

    from suno_hooks.contrib.django.media import DjangoStorageTarget
    from suno_hooks.inbox.kept import serve_kept

    target = DjangoStorageTarget(FileSystemStorage(tmp_path / "media", base_url="/files/"))
    location = target.save("t1/complete/a.mp3", [b"abc"], "audio/mpeg")
    record = KeptFile("t1/complete/a.mp3", "a.mp3", location, 3, "0" * 64, None, NOW)
    answer = serve_kept(target, record, "bytes=0-1")
    assert answer.status == 303
    assert dict(answer.headers)["Location"] == "/files/suno/t1/complete/a.mp3"
