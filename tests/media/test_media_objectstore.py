"""The object store target on a real S3 API server (moto's threaded server): every file of a
sandbox task uploaded byte for byte, and an upload stopped at the cap leaves no object."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from suno_hooks.media import KeepFailed, MediaArchive, MediaTooLarge, target_from
from suno_hooks.media.objectstore import ObjectStoreTarget

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
from ..support.services import free_port

__all__ = ["make_rig", "rig", "rig_timing"]

CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """A running S3 API server with the bucket `music`; its endpoint."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client(endpoint).create_bucket(Bucket="music")
    yield endpoint
    server.stop()


def client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def target(endpoint: str, url: str = "s3://music/archive") -> ObjectStoreTarget:
    return ObjectStoreTarget.from_url(
        url, endpoint=endpoint, client_options={"allow_http": True}, **CREDENTIALS
    )


def objects(endpoint: str, prefix: str) -> dict[str, bytes]:
    s3 = client(endpoint)
    listing = s3.list_objects_v2(Bucket="music", Prefix=prefix).get("Contents", [])
    return {
        item["Key"]: s3.get_object(Bucket="music", Key=item["Key"])["Body"].read()
        for item in listing
    }


def test_a_sandbox_song_is_kept_in_s3_byte_for_byte(rig: Rig, s3: str) -> None:
    archive = MediaArchive(target(s3), **LOCAL, backoff=0.01)
    archive.connect(rig.receiver)
    try:
        event = settled_event(rig, "generate")
        task_id = event.task_id
        stored = objects(s3, f"archive/{task_id}/")
        assert len(event.kept) == 4
        for record in event.kept:
            data = stored[f"archive/{record.key}"]
            assert hashlib.sha256(data).hexdigest() == record.sha256
            assert record.location == f"s3://music/archive/{record.key}"
        head = client(s3).head_object(Bucket="music", Key=f"archive/{event.kept[0].key}")
        assert head["ContentType"] == "audio/mpeg"
        requests = sum(rig.sandbox.media_requests.values())
        again = MediaArchive(target(s3), allowed_hosts=["127.0.0.1"], allow_http=True)
        assert again.keep(event) == event.kept  # the records in the bucket say it is kept
        assert sum(rig.sandbox.media_requests.values()) == requests
        again.close()
    finally:
        archive.close()


def test_an_upload_past_the_cap_leaves_no_object(s3: str) -> None:
    archive = MediaArchive(target(s3, "s3://music/capped"), **LOCAL, max_bytes=12 * 1024 * 1024)
    with media_server() as server:
        tracks = [
            {"id": "big", "audio_url": f"{server.url}/endless/big.mp3"},
            {"id": "ok", "audio_url": f"{server.url}/files/ok.mp3?size=9000000"},
        ]
        with pytest.raises(KeepFailed) as caught:
            archive.keep(event_of(music_body("capped", tracks)))
    archive.close()
    assert isinstance(caught.value.failures["big.mp3"], MediaTooLarge)
    stored = objects(s3, "capped/")
    kept = "capped/capped/complete"
    assert sorted(stored) == [f"{kept}/.kept/ok.mp3.json", f"{kept}/ok.mp3"]
    assert stored["capped/capped/complete/ok.mp3"] == file_bytes("ok.mp3", 9000000)
    uploads = client(s3).list_multipart_uploads(Bucket="music").get("Uploads", [])
    assert [u for u in uploads if u["Key"].endswith("big.mp3")] == []


def test_target_urls_name_their_target(tmp_path: Path) -> None:
    assert repr(target_from(tmp_path)) == f"LocalTarget({str(tmp_path.resolve())!r})"
    assert repr(target_from(f"file://{tmp_path}")) == f"LocalTarget({str(tmp_path.resolve())!r})"
    made = target_from("s3://music/some/prefix")
    assert isinstance(made, ObjectStoreTarget) and made.prefix == "some/prefix"
    with pytest.raises(ValueError, match="unknown media target scheme"):
        target_from("ftp://music/x")
