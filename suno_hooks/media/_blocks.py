"""Gathering a download's chunks into large blocks, so hashing and writing them cost one call,
and one release of the GIL, per block rather than per network read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["BLOCK", "gathered"]

BLOCK = 1024 * 1024
"""Bytes gathered before a block is handed on: about the most one download holds in memory."""


def gathered(chunks: Iterable[bytes], block: int = BLOCK) -> Iterator[bytes]:
    """`chunks`' bytes, in order, in blocks of at least `block` bytes (the last may be
    shorter). An error `chunks` raises goes through as it is, with what was gathered since the
    last block (the download it ends is abandoned whole)."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size >= block:
            yield parts[0] if len(parts) == 1 else b"".join(parts)
            parts, size = [], 0
    if size:
        yield b"".join(parts)
