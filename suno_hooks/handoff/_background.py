"""Rings sent by a thread of their own, so an answer never waits on a broker's round trip, and
sent together: whatever keys wait when the thread is free go as one batch."""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence

__all__ = ["BackgroundRinger"]

logger = logging.getLogger("suno_hooks.handoff")

_FLUSH_AT_EXIT = 5.0
_BATCH = 500


class BackgroundRinger:
    """Takes keys from the request path and rings them from one daemon thread, in order.

    `ring` gets a batch: the key the thread waited for and every key already waiting behind
    it, up to `batch` keys, so under a stream of callbacks one broker call sends many rings,
    while a lone key is rung at once (no timer holds it). The delivery is already recorded
    `queued` when its key arrives here, so a ring lost with the process (killed before the
    thread sent it), or refused because `limit` keys are already waiting (a broker slower than
    the callbacks), is rung again by the sweeper. The thread starts on first use in each
    process, so a server that forks its workers after building the receiver gets one per
    worker.
    """

    def __init__(
        self, ring: Callable[[Sequence[str]], object], *, limit: int = 10_000, batch: int = _BATCH
    ) -> None:
        self._ring = ring
        self._batch = batch
        self._keys: queue.Queue[str] = queue.Queue(maxsize=limit)
        self._lock = threading.Lock()
        self._pid = 0

    def __call__(self, key: str) -> bool:
        """Hand `key` to the thread; True once it is waiting there, False (logged) when full."""
        if self._pid != os.getpid():
            self._start()
        try:
            self._keys.put_nowait(key)
        except queue.Full:
            logger.warning(
                "hand-off of %s not rung: %d rings are waiting; the sweeper will ring it",
                key,
                self._keys.maxsize,
            )
            return False
        return True

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the waiting keys to be rung; whether they were."""
        done = threading.Event()

        def wait() -> None:
            self._keys.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._keys = queue.Queue(maxsize=self._keys.maxsize)
            threading.Thread(target=self._send, name="suno-hooks-ringer", daemon=True).start()
            self._pid = os.getpid()
            atexit.register(self.flush, _FLUSH_AT_EXIT)

    def _send(self) -> None:
        keys = self._keys
        while True:
            batch = [keys.get()]
            while len(batch) < self._batch:
                try:
                    batch.append(keys.get_nowait())
                except queue.Empty:
                    break
            try:
                self._ring(batch)
            finally:
                for _ in batch:
                    keys.task_done()
