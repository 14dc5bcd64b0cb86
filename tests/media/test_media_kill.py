"""A process killed with SIGKILL in the middle of a download leaves no partial file under the
final name, and the next `keep` completes the file."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from suno_hooks.media import MediaArchive

from ..support.media_helpers import LOCAL, event_of, file_bytes, media_server, music_body

ROOT = Path(__file__).resolve().parents[2]
STEP = 64 * 1024
SIZE = 48 * STEP  # 48 steps 0.05 s apart, about 2.5 s; the first 1 MiB block is on disk at 0.8 s


def test_a_killed_download_leaves_no_partial_file_and_the_next_keep_completes_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "killed" / "complete"
    final = folder / "song.mp3"
    with media_server() as server:
        url = f"{server.url}/slow/song.mp3?size={SIZE}&step={STEP}"
        keeper = subprocess.Popen(
            [sys.executable, "-m", "tests.support.media_keeper", str(tmp_path), url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            parts: list[Path] = []
            while not any(part.stat().st_size > 8192 for part in parts):
                assert keeper.poll() is None, "the keeper ended before it was killed"
                assert time.monotonic() < deadline, "the download never started"
                time.sleep(0.02)
                parts = list(folder.glob(".song.mp3.*.part")) if folder.exists() else []
            os.kill(keeper.pid, signal.SIGKILL)
            assert keeper.wait(10) == -signal.SIGKILL
        finally:
            if keeper.poll() is None:
                keeper.kill()
                keeper.wait()
            assert keeper.stdout is not None
            keeper.stdout.close()
        assert not final.exists()
        assert not (folder / ".kept").exists()
        (left,) = folder.glob(".song.mp3.*.part")
        assert 0 < left.stat().st_size < SIZE
        an_hour_ago = time.time() - 3700
        os.utime(left, (an_hour_ago, an_hour_ago))

        archive = MediaArchive(tmp_path, **LOCAL)
        (record,) = archive.keep(event_of(music_body("killed", [{"id": "song", "audio_url": url}])))
        archive.close()
    expected = file_bytes("song.mp3", SIZE)
    assert final.read_bytes() == expected
    assert record.sha256 == hashlib.sha256(expected).hexdigest() and record.bytes == SIZE
    assert sorted(p.name for p in folder.iterdir()) == [".kept", "song.mp3"]  # the leftover too
