"""`HandlerThread`: one thread, fed by a queue, that runs sync handlers for coroutines.

Handing a call over costs a queue put and, when it is done, one wake-up of the awaiting loop,
where `asyncio.to_thread` pays for an executor round trip. Calls run one at a time, in the
order they were handed over, each in a copy of the caller's context variables (as
`asyncio.to_thread` runs them). The thread starts on first use in each process, so a server
that forks its workers gets one per worker; it ends when its `HandlerThread` is collected, and
at interpreter exit it is given a few seconds to finish the call it is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["HandlerThread"]

_T = TypeVar("_T")

_FINISH_AT_EXIT = 5.0

_Call = tuple[
    asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[[], Any]
]

_serving: contextvars.ContextVar[object] = contextvars.ContextVar("suno_hooks_handler_thread")
"""Inside a call, the queue of the thread running it: a call handed over from there (a handler
awaiting, on the loop, work that needs the same thread) must not wait for that thread."""


class HandlerThread:
    """Runs the calls coroutines hand it in one daemon thread, first come first served."""

    def __init__(self, name: str = "suno-hooks-handlers") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._pid = 0
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
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
        calls = self._calls
        if _serving.get(None) is calls:
            return await asyncio.to_thread(call)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        calls.put((loop, future, contextvars.copy_context(), call))
        return await future

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            if self._stop is not None:
                self._stop.detach()  # the parent's thread did not cross the fork
            calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
            self._calls = calls
            thread = threading.Thread(target=_serve, args=(calls,), name=self.name, daemon=True)
            thread.start()
            self._stop = weakref.finalize(self, _stop, calls, thread)
            self._pid = os.getpid()


def _serve(calls: queue.SimpleQueue[_Call | None]) -> None:
    while _run_one(calls, calls.get()):
        pass


def _run_one(calls: queue.SimpleQueue[_Call | None], item: _Call | None) -> bool:
    """Run one handed-over call and settle its future on its loop; False at the stop mark."""
    if item is None:
        return False
    loop, future, context, call = item
    if future.cancelled():
        return True
    try:
        result = context.run(_marked, calls, call)
    except BaseException as exc:  # a coroutine gets what `to_thread` would have given it
        _settle(loop, _fail, future, exc)
    else:
        _settle(loop, _succeed, future, result)
    return True


def _marked(calls: queue.SimpleQueue[_Call | None], call: Callable[[], _T]) -> _T:
    _serving.set(calls)
    return call()


def _settle(
    loop: asyncio.AbstractEventLoop,
    outcome: Callable[[asyncio.Future[Any], Any], None],
    future: asyncio.Future[Any],
    value: Any,
) -> None:
    # A loop that closed while the call ran refuses the callback: nobody waits for the answer.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(outcome, future, value)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _stop(calls: queue.SimpleQueue[_Call | None], thread: threading.Thread) -> None:
    """Let the thread finish what it was handed and end; at exit, wait a little for it."""
    calls.put(None)
    if threading.current_thread() is not thread and not threading.main_thread().is_alive():
        thread.join(_FINISH_AT_EXIT)
