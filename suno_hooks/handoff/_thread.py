"""`handoff="thread"`: run queued deliveries in this process, after the answer has gone.

Rung outside an event loop (WSGI), a key goes into a bounded queue read by a fixed number of
daemon threads that call `receiver.run_queued(key)`. Rung from a running event loop (ASGI), it
becomes a task on that loop awaiting `receiver.arun_queued(key)`, at most `workers` of them
running at once. Either way, when `workers + queue_size` keys wait, the ring fails: the delivery
stays `queued` and the sweeper rings it later. Work still waiting when the process dies is not
lost either, for the same reason; `close()` / `aclose()` let running work finish first.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import weakref

from ._protocol import HandoffError, QueuedRunner

__all__ = ["ThreadHandoff"]

logger = logging.getLogger("suno_hooks.handoff")

_STOP = object()


class ThreadHandoff:
    """A bounded in-process hand-off for small sites and tests: `workers` threads (or concurrent
    tasks on the serving loop) and at most `queue_size` keys waiting."""

    out_of_process = False

    def __init__(self, *, workers: int = 4, queue_size: int = 100) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("ThreadHandoff needs workers >= 1 and queue_size >= 1.")
        self.workers = workers
        self.queue_size = queue_size
        self._receiver: QueuedRunner | None = None
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"ThreadHandoff(workers={self.workers}, queue_size={self.queue_size})"

    def bind(self, receiver: QueuedRunner) -> None:
        """Use `receiver` to run the queued deliveries."""
        self._receiver = receiver

    def ring(self, key: str) -> None:
        """Start `key`'s handlers soon: on the running loop when there is one, else in the pool."""
        receiver = self._bound()
        if self._closed:
            raise HandoffError("the thread hand-off is closed")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._put(key)
        else:
            self._spawn(loop, receiver, key)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop taking work, let the threads finish what is queued for up to `timeout` seconds;
        True when they all did."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            try:
                self._queue.put(_STOP, timeout=timeout)
            except queue.Full:
                break
        for thread in threads:
            thread.join(timeout)
        return not any(thread.is_alive() for thread in threads)

    async def aclose(self, timeout: float = 10.0) -> bool:
        """Stop taking work and wait up to `timeout` seconds for the tasks on this loop and the
        threads; True when everything finished in time."""
        self._closed = True
        loop = asyncio.get_running_loop()
        mine = [task for task in self._tasks if task.get_loop() is loop]
        done = True
        if mine:
            _, pending = await asyncio.wait(mine, timeout=timeout)
            done = not pending
        return await asyncio.to_thread(self.close, timeout) and done

    def _bound(self) -> QueuedRunner:
        if self._receiver is None:
            raise HandoffError("the thread hand-off is not bound to a receiver")
        return self._receiver

    def _put(self, key: str) -> None:
        with self._lock:
            if not self._threads:  # started on first use, so a server that forks has them
                for number in range(self.workers):
                    thread = threading.Thread(
                        target=self._work, name=f"suno-hooks-handoff-{number}", daemon=True
                    )
                    self._threads.append(thread)
                    thread.start()
        try:
            self._queue.put_nowait(key)
        except queue.Full:
            raise HandoffError(
                f"the thread hand-off is full ({self.workers} running, {self.queue_size} waiting)"
            ) from None

    def _work(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            self._run(str(item))

    def _run(self, key: str) -> None:
        try:
            self._bound().run_queued(key)
        except Exception:
            logger.exception("the handlers of %s failed in the thread hand-off", key)

    def _spawn(self, loop: asyncio.AbstractEventLoop, receiver: QueuedRunner, key: str) -> None:
        if len(self._tasks) >= self.workers + self.queue_size:
            raise HandoffError(
                f"the thread hand-off is full ({len(self._tasks)} tasks on the event loop)"
            )
        task = loop.create_task(self._arun(loop, receiver, key), name=f"suno-hooks-handoff {key}")
        self._tasks.add(task)  # the loop keeps only a weak reference to its tasks
        task.add_done_callback(self._tasks.discard)

    async def _arun(
        self, loop: asyncio.AbstractEventLoop, receiver: QueuedRunner, key: str
    ) -> None:
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.workers)
        async with gate:
            try:
                await receiver.arun_queued(key)
            except Exception:
                logger.exception("the handlers of %s failed in the thread hand-off", key)
