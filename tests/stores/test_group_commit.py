"""`GroupCommit`, the store-agnostic part of group commit: a batch is whatever queued while the
previous write ran, each item gets its own result or error, and no loop, cancellation or fork
leaves a request waiting for ever."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
from collections import Counter
from collections.abc import Sequence

import pytest

from suno_hooks.stores._group import GroupCommit


class Recorder:
    """A `write_batch` that records each batch and answers `wrote <item>`; an item named
    `bad...` gets its own error, and a batch with an item named `held...` waits for `hold`."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.hold = asyncio.Event()
        self.sizes: Counter[int] = Counter()
        self.group = GroupCommit(self.write, self.sizes)

    async def write(self, items: list[str]) -> Sequence[str | BaseException]:
        self.batches.append(list(items))
        if any(item.startswith("held") for item in items):
            await self.hold.wait()
        return [ValueError(item) if item.startswith("bad") else f"wrote {item}" for item in items]


async def test_a_batch_is_what_queued_while_the_previous_write_ran() -> None:
    recorder = Recorder()
    first = asyncio.ensure_future(recorder.group.submit("held"))
    await asyncio.sleep(0.01)
    later = [asyncio.ensure_future(recorder.group.submit(f"later{i}")) for i in range(3)]
    await asyncio.sleep(0.01)
    assert recorder.batches == [["held"]] and not first.done()
    recorder.hold.set()
    assert await first == "wrote held"
    assert await asyncio.gather(*later) == [f"wrote later{i}" for i in range(3)]
    assert recorder.batches == [["held"], ["later0", "later1", "later2"]]
    assert recorder.sizes == Counter({1: 1, 3: 1})


async def test_an_items_error_is_its_own() -> None:
    recorder = Recorder()
    outcomes = await asyncio.gather(
        *(recorder.group.submit(item) for item in ("a", "bad", "b")), return_exceptions=True
    )
    assert outcomes[0] == "wrote a" and outcomes[2] == "wrote b"
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "bad"
    assert recorder.batches == [["a", "bad", "b"]]


async def test_a_failed_batch_fails_every_request_of_it() -> None:
    failure = OSError("the store went away")

    async def write(items: list[str]) -> list[str]:
        raise failure

    group: GroupCommit[str, str] = GroupCommit(write, Counter())
    outcomes = await asyncio.gather(*(group.submit(i) for i in "abc"), return_exceptions=True)
    assert outcomes == [failure] * 3


async def test_a_batch_answered_with_the_wrong_number_of_results_fails_closed() -> None:
    async def write(items: list[str]) -> list[str]:
        return ["one answer"]

    group: GroupCommit[str, str] = GroupCommit(write, Counter())
    outcomes = await asyncio.gather(*(group.submit(i) for i in "abc"), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes), outcomes
    assert "a batch of 3 got 1 results" in str(outcomes[0])


EAGER = getattr(asyncio, "eager_task_factory", None)
FACTORIES = ["lazy"] + (["eager"] if EAGER is not None else [])


@pytest.mark.parametrize("factory", FACTORIES)
async def test_every_request_is_answered_whatever_the_task_factory(factory: str) -> None:
    if factory == "eager":
        asyncio.get_running_loop().set_task_factory(EAGER)
    recorder = Recorder()
    assert await recorder.group.submit("lone") == "wrote lone"
    items = [f"i{n}" for n in range(20)]
    assert await asyncio.gather(*(recorder.group.submit(i) for i in items)) == [
        f"wrote {i}" for i in items
    ]
    assert sum(size * count for size, count in recorder.sizes.items()) == 21


def test_a_loop_that_closes_mid_batch_cancels_its_requests_and_the_next_loop_is_served() -> None:
    recorder = Recorder()
    waiting: list[asyncio.Future[str]] = []

    async def leave_a_request_waiting() -> None:
        waiting.append(asyncio.ensure_future(recorder.group.submit("held")))
        await asyncio.sleep(0.01)

    asyncio.run(leave_a_request_waiting())  # cancels what is left when it returns
    assert waiting[0].cancelled()

    async def next_loop() -> list[str]:
        return await asyncio.gather(*(recorder.group.submit(i) for i in "xy"))

    assert asyncio.run(next_loop()) == ["wrote x", "wrote y"]
    assert recorder.batches == [["held"], ["x", "y"]]


@pytest.mark.filterwarnings("ignore:This process .* fork:DeprecationWarning")
def test_a_forked_child_writes_only_its_own_items() -> None:
    recorder = Recorder()
    loop = asyncio.new_event_loop()
    parent = loop.create_task(recorder.group.submit("held"))
    loop.run_until_complete(asyncio.sleep(0.01))  # the parent's batch is being written
    assert recorder.batches == [["held"]]
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: it submits on the same loop object, with the parent's state
        try:
            answer = loop.run_until_complete(asyncio.wait_for(recorder.group.submit("child"), 5))
            os.write(writer, json.dumps([answer, recorder.batches[1:]]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    try:
        ready, _, _ = select.select([reader], [], [], 60)
        report = os.read(reader, 65536) if ready else b""
    finally:
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(reader)
    assert json.loads(report) == ["wrote child", [["child"]]]
    loop.call_soon(recorder.hold.set)
    assert loop.run_until_complete(parent) == "wrote held"
    loop.close()
