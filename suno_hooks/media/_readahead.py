"""Reading a download in a thread of its own, a block ahead of the code that hashes and writes
it, so that reading the network, hashing and writing to disk overlap (hashing and writing a
large block run without the GIL)."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator

__all__ = ["BLOCK", "DEPTH", "read_ahead"]

BLOCK = 1024 * 1024
"""Bytes the reading thread gathers before handing them over as one block."""
DEPTH = 2
"""Blocks read ahead at most: a download holds about `(DEPTH + 2) * BLOCK` bytes in memory."""

_POLL = 0.1


class _Ended:
    """What the reading thread puts last: the error that ended the source, or None."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Reader:
    def __init__(self, source: Iterator[bytes], block: int, depth: int) -> None:
        self.source = source
        self.block = block
        self.chunks: queue.Queue[bytes | _Ended] = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, name="suno-hooks-media", daemon=True)

    def _read(self) -> None:
        ended = _Ended(None)
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in self.source:
                parts.append(chunk)
                size += len(chunk)
                if size >= self.block:
                    if not self._put(b"".join(parts)):
                        return
                    parts, size = [], 0
        except BaseException as error:  # handed to the consumer, which raises it
            ended = _Ended(error)
        if parts and not self._put(b"".join(parts)):
            return
        self._put(ended)

    def _put(self, item: bytes | _Ended) -> bool:
        while not self.stopped.is_set():
            with contextlib.suppress(queue.Full):
                self.chunks.put(item, timeout=_POLL)
                return True
        return False

    def consume(self) -> Iterator[bytes]:
        while True:
            item = self.chunks.get()
            if isinstance(item, _Ended):
                if item.error is not None:
                    raise item.error
                return
            yield item


@contextlib.contextmanager
def read_ahead(
    source: Iterator[bytes], block: int = BLOCK, depth: int = DEPTH
) -> Iterator[Iterator[bytes]]:
    """`source`'s bytes in blocks of about `block` bytes, read by a thread of their own up to
    `depth` blocks ahead; an error the source raises is raised after the blocks read before it.
    Leaving the `with` stops the thread and waits for its read in progress, so the source can
    be closed after it."""
    reader = _Reader(source, block, depth)
    reader.thread.start()
    try:
        yield reader.consume()
    finally:
        reader.stopped.set()
        reader.thread.join()
