"""`HandlerThread`: one thread, fed by a queue, that runs sync handlers for coroutines.

Handing a call over costs a queue put; the coroutine then yields to its loop a few times (the
loop's poll lets the thread take the GIL, and a fast call is answered by then) before it parks
on a future the thread wakes, where `asyncio.to_thread` pays for an executor round trip and a
wake-up every time. Calls run one at a time, in the order they were handed over, each in a copy
of the caller's context variables (as `asyncio.to_thread` runs them); while the thread's call has
run for over `SLOW_CALL` seconds, calls handed over meanwhile run in a worker thread of their own
instead, so one slow handler never holds up the others. The thread starts on first
use in each process, so a server that forks its workers gets one per worker; it ends when its
`HandlerThread` is collected, and at interpreter exit it is given a few seconds to finish the
call it is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

__all__ = ["HandlerThread"]

_T = TypeVar("_T")

_YIELDS = 3
"""How many times a coroutine yields to its loop, waiting for a fast call, before it parks."""

SLOW_CALL = 0.05
"""Seconds after which the thread's current call counts as slow: calls handed over meanwhile
run in a worker thread of their own rather than wait behind it."""

_FINISH_AT_EXIT = 5.0

_serving: contextvars.ContextVar[object] = contextvars.ContextVar("suno_hooks_handler_thread")
"""Inside a call, the queue of the thread running it: a call handed over from there (a handler
awaiting, on the loop, work that needs the same thread) must not wait for that thread."""


class _Handover(Generic[_T]):
    """One call on its way through the thread, and what came of it."""

    __slots__ = ("call", "cancelled", "context", "done", "error", "future", "loop", "result")

    def __init__(self, call: Callable[[], _T], loop: asyncio.AbstractEventLoop) -> None:
        self.call = call
        self.context = contextvars.copy_context()
        self.loop = loop
        self.future: asyncio.Future[None] | None = None
        self.done = False
        self.cancelled = False
        self.result: _T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> _T:
        """The call's result, or its exception raised again."""
        error = self.error
        if error is None:
            return cast(_T, self.result)
        self.error = None
        try:
            raise error
        finally:
            del error


_Calls = queue.SimpleQueue["_Handover[Any] | None"]


class HandlerThread:
    """Runs the calls coroutines hand it in one daemon thread, first come first served."""

    def __init__(self, name: str = "suno-hooks-handlers") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._pid = 0
        self._calls: _Calls = queue.SimpleQueue()
        self._handshake = threading.Lock()
        self._busy = _Busy()
        self._stop: weakref.finalize[Any, HandlerThread] | None = None

    def __repr__(self) -> str:
        return f"HandlerThread({self.name!r})"

    async def run(self, call: Callable[[], _T]) -> _T:
        """`call()` in the thread once every call handed over before it has run; its result,
        or the exception it raised. Cancelled before it starts, it never runs. One handed over
        from inside a call of this thread (its handler awaits, on the loop, work that needs the
        thread again) runs through `asyncio.to_thread` instead of waiting for itself."""
        if self._pid != os.getpid():
            self._start()
        calls, handshake = self._calls, self._handshake
        if _serving.get(None) is calls or self._busy.slow():
            return await asyncio.to_thread(call)
        handover = _Handover(call, asyncio.get_running_loop())
        calls.put(handover)
        try:
            for _ in range(_YIELDS):
                await asyncio.sleep(0)
                if handover.done:
                    break
            with handshake:
                parked = not handover.done
                if parked:
                    handover.future = future = handover.loop.create_future()
            if parked:
                await future
        except BaseException:
            handover.cancelled = True
            raise
        return handover.outcome()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            if self._stop is not None:
                self._stop.detach()  # the parent's thread did not cross the fork
            calls: _Calls = queue.SimpleQueue()
            handshake = threading.Lock()
            busy = _Busy()
            thread = threading.Thread(
                target=_serve, args=(calls, handshake, busy), name=self.name, daemon=True
            )
            thread.start()
            self._calls, self._handshake, self._busy = calls, handshake, busy
            self._stop = weakref.finalize(self, _stop, calls, thread)
            self._pid = os.getpid()


class _Busy:
    """When the thread's current call began (0.0 between calls)."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        self.since = 0.0

    def slow(self) -> bool:
        """Whether the current call has run longer than `SLOW_CALL`."""
        since = self.since
        return since != 0.0 and time.monotonic() - since > SLOW_CALL


def _serve(calls: _Calls, handshake: threading.Lock, busy: _Busy) -> None:
    while _run_one(calls, handshake, calls.get(), busy):
        pass


def _run_one(
    calls: _Calls, handshake: threading.Lock, handover: _Handover[Any] | None, busy: _Busy
) -> bool:
    """Run one handed-over call and tell its coroutine; False at the stop mark."""
    if handover is None:
        return False
    parked = handover.future
    if handover.cancelled or (parked is not None and parked.cancelled()):
        return True
    busy.since = time.monotonic()
    try:
        handover.result = handover.context.run(_marked, calls, handover.call)
    except BaseException as exc:  # a coroutine gets what `to_thread` would have given it
        handover.error = exc
    finally:
        busy.since = 0.0
    with handshake:
        handover.done = True
        future = handover.future
    if future is not None:
        # A loop that closed while the call ran refuses the wake-up: nobody waits any more.
        with contextlib.suppress(RuntimeError):
            handover.loop.call_soon_threadsafe(_wake, future)
    return True


def _marked(calls: _Calls, call: Callable[[], _T]) -> _T:
    _serving.set(calls)
    return call()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _stop(calls: _Calls, thread: threading.Thread) -> None:
    """Let the thread finish what it was handed and end; at exit, wait a little for it."""
    calls.put(None)
    if threading.current_thread() is not thread and not threading.main_thread().is_alive():
        thread.join(_FINISH_AT_EXIT)
