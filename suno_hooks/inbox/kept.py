"""The kept copies of a delivery's media on the page: which record stands for an expired link,
and the answer that serves it (a file of a local archive, with byte
ranges, or a redirect to an object store's presigned URL).

Only a file the store records for the delivery is served, through the target's own path check,
so no request can name a path outside the archive; a type a browser could run (HTML, SVG,
script) is sent as a download, never shown."""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..media.kept import KeptFile, shown_url
from ..media.targets import LinksFiles, LocalTarget
from ..media.wanted import safe_name
from ..stores.base import Delivery
from .request import PageResponse

__all__ = ["LINK_LIFETIME", "kept_copy", "serve_kept"]

LINK_LIFETIME = 3600.0
"""Seconds a presigned link to a kept copy stays valid."""

_CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_SHOWN = ("audio/", "video/", "image/")
_NEVER_SHOWN = ("image/svg+xml",)
_TEXT = ("text/plain", "application/json")


def kept_copy(delivery: Delivery, url: object) -> KeptFile | None:
    """The record of the file the delivery kept from `url`, if it kept one."""
    if not isinstance(url, str) or not url or not delivery.kept:
        return None
    source = shown_url(url)
    return next((record for record in delivery.kept if record.source == source), None)


def serve_kept(target: Any, record: KeptFile, range_header: str | None) -> PageResponse:
    """The answer for a kept copy: the file itself from a `LocalTarget` (honouring a single byte
    range), a redirect to a link the target signs, or a 404 when neither can be had."""
    if isinstance(target, LocalTarget):
        return _local(target, record, range_header)
    if isinstance(target, LinksFiles):
        link = target.link(record.key, record.location, LINK_LIFETIME)
        if link:
            return PageResponse(303, b"", [("Location", link), ("Cache-Control", "no-store")])
    return _missing()


def _local(target: LocalTarget, record: KeptFile, range_header: str | None) -> PageResponse:
    try:
        path = target.path(record.key)
        file = path.open("rb")
    except (OSError, ValueError):
        return _missing()
    size = os.fstat(file.fileno()).st_size
    headers = _headers(record)
    span = _span(range_header, size)
    if span is None:
        file.close()
        headers.append(("Content-Range", f"bytes */{size}"))
        return PageResponse(416, b"", headers)
    start, end, partial = span
    if partial:
        headers.append(("Content-Range", f"bytes {start}-{end - 1}/{size}"))
    chunks = _read(file, start, end)
    return PageResponse(206 if partial else 200, b"", headers, chunks=chunks, length=end - start)


def _span(header: str | None, size: int) -> tuple[int, int, bool] | None:
    """The byte span `[start, end)` a Range header asks for, and whether it is one: the whole
    file without a header or for one this does not read (several ranges, another unit); None
    when the range cannot be satisfied."""
    found = _RANGE.fullmatch(header.strip()) if header else None
    if found is None or not (found[1] or found[2]):
        return 0, size, False
    if not found[1]:  # the last N bytes
        if int(found[2]) == 0 or size == 0:
            return None
        return max(0, size - int(found[2])), size, True
    start = int(found[1])
    end = min(size, int(found[2]) + 1) if found[2] else size
    if start >= size or start >= end:
        return None
    return start, end, True


def _read(file: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    with file:
        file.seek(start)
        left = end - start
        while left > 0:
            chunk = file.read(min(_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def _headers(record: KeptFile) -> list[tuple[str, str]]:
    content_type = (record.content_type or "").split(";")[0].strip().lower()
    if not content_type:
        content_type = mimetypes.guess_type(record.name)[0] or "application/octet-stream"
    shown = content_type.startswith(_SHOWN) and content_type not in _NEVER_SHOWN
    if content_type in _TEXT:
        shown, content_type = True, f"{content_type}; charset=utf-8"
    headers = [
        ("Content-Type", content_type if shown else "application/octet-stream"),
        ("Accept-Ranges", "bytes"),
        ("Cache-Control", "private, max-age=3600"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "default-src 'none'; sandbox"),
    ]
    if not shown:
        name = safe_name(record.name, "file")
        headers.append(("Content-Disposition", f'attachment; filename="{name}"'))
    return headers


def _missing() -> PageResponse:
    text = "<!doctype html><title>Not kept</title><p>This file is not in the archive.</p>"
    return PageResponse.html(404, text)
