"""The same callback delivered at once by two threads or two asyncio tasks dispatches once."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from suno_hooks import Event, task_completed
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver


def test_two_threads_dispatch_once():
    receiver = unverified_receiver(store=MemoryStore())
    body = encode(make_callback())
    seen: list[str] = []
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def slow(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event.dedupe_key)
        time.sleep(0.2)

    def deliver() -> None:
        barrier.wait()
        statuses.append(receiver.handle(InboundRequest("POST", body)).status)

    with task_completed.connected_to(slow):
        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(seen) == 1
    assert sorted(statuses) == [200, 409]


async def test_two_asyncio_tasks_dispatch_once():
    receiver = unverified_receiver(store=MemoryStore())
    body = encode(make_callback())
    seen: list[str] = []

    async def slow(sender: Any, event: Event, **extra: Any) -> None:
        seen.append(event.dedupe_key)
        await asyncio.sleep(0.2)

    with task_completed.connected_to(slow):
        outcomes = await asyncio.gather(
            receiver.handle_async(InboundRequest("POST", body)),
            receiver.handle_async(InboundRequest("POST", body)),
        )
    assert len(seen) == 1
    assert sorted(o.status for o in outcomes) == [200, 409]
    again = await receiver.handle_async(InboundRequest("POST", body))
    assert again.body == {"status": "duplicate"}
