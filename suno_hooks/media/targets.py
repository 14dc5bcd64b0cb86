"""Where kept files go: the `Target` protocol, a local directory, and `target_from` for a
path or URL (`file://`, and `s3://`, `gs://`, `az://` through obstore)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

__all__ = ["LinksFiles", "LocalTarget", "Target", "record_key", "target_from"]

OBJECT_STORE_SCHEMES = ("s3", "s3a", "gs", "az", "azure", "abfs", "abfss")
STALE_PART = 3600.0
"""Seconds after which a temporary file left by a killed writer is removed."""
WRITEBACK_EVERY = 1024 * 1024
"""Bytes written between two requests to the kernel to start writing them to disk."""


def record_key(key: str) -> str:
    """Where the record of the file at `key` is kept: `.kept/{name}.json` beside it."""
    folder, _, name = key.rpartition("/")
    return f"{folder}/.kept/{name}.json" if folder else f".kept/{name}.json"


@runtime_checkable
class Target(Protocol):
    """A place kept files are written to, each under a key `{task_id}/{stage}/{name}`.

    `save` consumes `chunks` and makes the file appear whole under the key or not at all (when
    `chunks` raises, nothing is left under the key), returning its location. Records are small
    JSON documents the archive reads back to know a file is already kept."""

    def save(self, key: str, chunks: Iterable[bytes], content_type: str | None) -> str:
        """Write the file atomically; its location."""

    def read_record(self, key: str) -> bytes | None:
        """The record stored under `key`, or None."""

    def write_record(self, key: str, data: bytes) -> None:
        """Store (or replace) the record under `key`."""


@runtime_checkable
class LinksFiles(Protocol):
    """Optional for targets: a link a browser may fetch a kept file from for a while, such as
    an object store's presigned URL; the inbox page plays the kept copy through it."""

    def link(self, key: str, location: str, expires: float) -> str | None:
        """A URL for the file kept under `key` at `location`, valid for `expires` seconds;
        None when there is none."""


class LocalTarget:
    """A local directory: each file is written to a hidden temporary name in its final folder
    (`.{name}.*.part`), flushed to disk, then renamed, so a crash never leaves a partial file
    under the final name; temporary files a killed writer left are removed by the next write of
    the same name once they are an hour old."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalTarget({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """Where the file under `key` is; ValueError for a key that leaves the directory (an
        absolute path, `..`, or a link pointing outside)."""
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"the key {key!r} leaves the archive's directory")
        return path

    def _write(self, path: Path, chunks: Iterable[bytes], *, durable: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part"
        )
        try:
            with os.fdopen(handle, "wb") as file:
                written = synced = 0
                for chunk in chunks:
                    file.write(chunk)
                    written += len(chunk)
                    if durable and written - synced >= WRITEBACK_EVERY:
                        file.flush()
                        _start_writeback(file.fileno(), synced, written - synced)
                        synced = written
                file.flush()
                if durable:
                    os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _sweep(path)

    def save(self, key: str, chunks: Iterable[bytes], content_type: str | None) -> str:
        """Write the file under `root/key` atomically; its absolute path."""
        path = self.path(key)
        self._write(path, chunks)
        return str(path)

    def read_record(self, key: str) -> bytes | None:
        """The record under `key`, or None when there is none."""
        try:
            return self.path(key).read_bytes()
        except OSError:
            return None

    def write_record(self, key: str, data: bytes) -> None:
        """Replace the record under `key` atomically. It is not flushed to disk: a record lost
        with the machine only means the file is fetched again."""
        self._write(self.path(key), [data], durable=False)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing a range already written to disk, without waiting, so the
    final `fsync` has little left to wait for (Linux does this for `POSIX_FADV_DONTNEED`, and
    drops the pages once written: an archive is rarely read back)."""
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _sweep(path: Path) -> None:
    old = time.time() - STALE_PART
    for left in path.parent.glob(f".{path.name}.*.part"):
        with contextlib.suppress(OSError):
            if left.stat().st_mtime < old:
                left.unlink()


def target_from(value: str | os.PathLike[str] | Target) -> Target:
    """The target `value` names: a `Target` as it is, a path or `file://` URL as a
    `LocalTarget`, an `s3://`, `gs://` or `az://` URL as an `ObjectStoreTarget` (the `obstore`
    extra)."""
    if isinstance(value, Target):
        return value
    if isinstance(value, os.PathLike):
        return LocalTarget(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a media target is a directory, a file:// URL or an object store URL")
    scheme = urlsplit(value).scheme.lower()
    if scheme == "file":
        return LocalTarget(unquote(urlsplit(value).path))
    if scheme in OBJECT_STORE_SCHEMES:
        from .objectstore import ObjectStoreTarget

        target: Target = ObjectStoreTarget.from_url(value)
        return target
    if len(scheme) > 1:  # one letter is a Windows drive
        raise ValueError(
            f"unknown media target scheme {scheme!r}: use a directory, file://, s3://, gs:// "
            "or az://"
        )
    return LocalTarget(value)
