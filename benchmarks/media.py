"""The media archive against a plain download: throughput and peak memory, in one run.

    .venv/bin/python benchmarks/media.py [--files 20] [--size-mib 8] [--big-mib 100]
    .venv/bin/python benchmarks/media.py --quick        # 4 files of 1 MiB, a 16 MiB file

The test suite's media server (its Starlette app under uvicorn on 127.0.0.1, in a process of its
own, as a media host is; deterministic bytes) serves the files. Rows:
- throughput: `MediaArchive.keep` of one event naming `--files` tracks of `--size-mib` each,
  into a fresh directory, against a plain streamed `httpx` download of the same URLs into
  another directory (64 KiB chunks, no checks, no fsync); best of `--rounds`, the two
  alternating, and their ratio;
- peak memory: a child process keeps one `--big-mib` file; its peak RSS (`ru_maxrss`) against
  its RSS once everything is imported, so the growth is what keeping the file cost.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from suno_hooks import Event, Receiver  # noqa: E402
from suno_hooks.media import MediaArchive  # noqa: E402
from suno_hooks.testing import capture_events  # noqa: E402
from tests.support.services import free_port, running  # noqa: E402

MIB = 1024 * 1024
LOCAL: dict[str, Any] = {"allowed_hosts": ["127.0.0.1"], "allow_http": True, "allow_private": True}


def song_event(base: str, files: int, size: int) -> Event:
    """A completed music event naming `files` tracks of `size` bytes (audio only)."""
    tracks = [
        {"id": f"track{n}", "audio_url": f"{base}/files/track{n}.mp3?size={size}"}
        for n in range(files)
    ]
    body = {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {"callbackType": "complete", "task_id": "bench", "data": tracks},
    }
    receiver = Receiver(secret_key="bench", store="memory://")
    with capture_events() as events:
        receiver.deliver(body, source="callback")
    return events[0]


def keep_seconds(event: Event, folder: Path) -> float:
    archive = MediaArchive(folder, **LOCAL)
    started = time.perf_counter()
    archive.keep(event)
    elapsed = time.perf_counter() - started
    archive.close()
    return elapsed


def plain_seconds(urls: list[str], folder: Path) -> float:
    folder.mkdir(parents=True)
    started = time.perf_counter()
    with httpx.Client() as client:
        for number, url in enumerate(urls):
            with client.stream("GET", url) as answer, (folder / f"{number}.mp3").open("wb") as out:
                for chunk in answer.iter_bytes(64 * 1024):
                    out.write(chunk)
    return time.perf_counter() - started


def throughput(base: str, files: int, size: int, rounds: int) -> tuple[float, float]:
    """Best MiB/s of `keep` and of the plain download over `rounds` alternating runs."""
    event = song_event(base, files, size)
    urls = [track.audio_url or "" for track in event.tracks]
    keep, plain = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for number in range(rounds):
            keep.append(keep_seconds(song_event(base, files, size), Path(scratch, f"k{number}")))
            plain.append(plain_seconds(urls, Path(scratch, f"p{number}")))
            for folder in Path(scratch).iterdir():
                shutil.rmtree(folder)
    total = files * size / MIB
    return total / min(keep), total / min(plain)


def _rss_kib() -> int:
    """This process's resident set now (Linux `/proc`), in KiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() // 1024


def child_peak(base: str, size: int) -> None:
    """In the child: keep one file of `size` bytes; print its RSS once ready, its peak RSS and
    the peak of Python allocations while keeping (tracemalloc), in KiB."""
    event = song_event(base, 1, size)
    with tempfile.TemporaryDirectory() as scratch:
        archive = MediaArchive(Path(scratch), **LOCAL)
        ready = _rss_kib()
        tracemalloc.start()
        (record,) = archive.keep(event)
        traced = tracemalloc.get_traced_memory()[1] // 1024
        tracemalloc.stop()
        assert record.bytes == size
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ready": ready, "peak": peak, "traced": traced}))


def peak_memory(base: str, size: int) -> dict[str, float]:
    """The child's RSS once ready, its peak RSS and its traced peak while keeping, in MiB."""
    child = [sys.executable, __file__, "--child-peak", base, "--big-mib", str(size / MIB)]
    output = subprocess.run(child, capture_output=True, text=True, check=True).stdout
    found = json.loads(output.strip().splitlines()[-1])
    return {name: value / 1024 for name, value in found.items()}


@contextmanager
def media_host() -> Iterator[str]:
    """The media server in a uvicorn process of its own; its base URL."""
    port = free_port()
    app = "tests.support.media_helpers:media_app"
    command = [sys.executable, "-m", "uvicorn", "--factory", app, "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/", env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT):
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--size-mib", type=float, default=8)
    parser.add_argument("--big-mib", type=float, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="4 files of 1 MiB, a 16 MiB file")
    parser.add_argument("--child-peak", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_peak:
        child_peak(args.child_peak, int(args.big_mib * MIB))
        return
    files, size, big = args.files, int(args.size_mib * MIB), int(args.big_mib * MIB)
    if args.quick:
        files, size, big = 4, MIB, 16 * MIB
    with media_host() as url:
        kept, plain = throughput(url, files, size, max(1, args.rounds))
        memory = peak_memory(url, big)
    label = f"{files} files of {size / MIB:g} MiB"
    print(f"{'media archive, ' + label:52} {'MiB/s':>8}")
    print(f"{'MediaArchive.keep (checked, hashed, fsync, rename)':52} {kept:8.1f}")
    print(f"{'plain streamed httpx download':52} {plain:8.1f}")
    print(f"{'ratio keep / plain':52} {kept / plain:8.2f}")
    print()
    print(f"{f'keeping one {big / MIB:g} MiB file':52} {'MiB':>8}")
    print(f"{'RSS once ready':52} {memory['ready']:8.1f}")
    print(f"{'peak RSS of the process':52} {memory['peak']:8.1f}")
    print(f"{'peak RSS above ready':52} {memory['peak'] - memory['ready']:8.1f}")
    print(f"{'peak Python allocations while keeping (tracemalloc)':52} {memory['traced']:8.2f}")


if __name__ == "__main__":
    main()
