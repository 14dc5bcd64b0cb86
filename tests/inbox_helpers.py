"""Inboxes for the page tests: every fixture body delivered, and fresh music callbacks whose
files point where a test says."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from suno_hooks import Receiver, task_completed
from suno_hooks.inbound import Headers, InboundRequest
from suno_hooks.outcome import Outcome
from suno_hooks.stores import MemoryStore
from suno_hooks.stores.tasks import ExpectedTask, TaskState, listing
from suno_hooks.testing import encode, make_callback

from .conftest import callback_files, fixture_bytes

FAMILIES = ("music", "lyrics", "wav", "stems", "midi", "video", "cover_image", "recovery", "voice")


def deliver(receiver: Receiver, body: bytes | dict[str, Any]) -> Outcome:
    """Hand one callback body to the receiver as an unsigned POST."""
    raw = body if isinstance(body, bytes) else encode(body)
    request = InboundRequest(
        method="POST",
        body=raw,
        headers=Headers.of({"content-type": "application/json"}),
        path="/suno/callback",
        peer="203.0.113.7",
    )
    return receiver.handle(request)


def deliver_fixtures(receiver: Receiver) -> None:
    """Every fixture body of tests/fixtures, one delivery each."""
    for name in callback_files():
        deliver(receiver, fixture_bytes(name))


def song(
    title: str,
    *,
    audio_url: str,
    image_url: str,
    task_id: str | None = None,
    created: float | None = None,
) -> dict[str, Any]:
    """A complete music callback with one track made at `created` (default: now)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(created or time.time()))
    track = {
        "id": str(uuid.uuid4()),
        "audio_url": audio_url,
        "stream_audio_url": audio_url + "?stream=1",
        "image_url": image_url,
        "prompt": "[Verse]\nNeon rain on the window\n[Chorus]\nWe glow",
        "model_name": "chirp-v4-5",
        "title": title,
        "tags": "synthwave, dreamy",
        "createTime": when,
        "duration": 3.0,
    }
    body = make_callback("music", "complete", task_id=task_id or uuid.uuid4().hex)
    body["data"]["data"] = [track]
    return body


class FailingHandler:
    """A `task_completed` receiver of one receiver's callbacks that raises while `broken`."""

    def __repr__(self) -> str:
        return "print_label"

    def __init__(self) -> None:
        self.broken = True
        self.runs = 0

    def __call__(self, sender: Any, event: Any, **extra: Any) -> None:
        self.runs += 1
        if self.broken:
            raise RuntimeError("label printer jammed <b>now</b>")


@contextmanager
def failing_handler(receiver: Receiver) -> Iterator[FailingHandler]:
    """Connect a `FailingHandler` for callbacks sent by `receiver` for the `with` block."""
    handler = FailingHandler()
    task_completed.connect(handler, sender=receiver, weak=False)
    try:
        yield handler
    finally:
        task_completed.disconnect(handler, sender=receiver)


class ExpectingMemoryStore(MemoryStore):
    """The memory store plus the expected-task half of the `TaskStore` protocol, in a dict: the
    page's tasks view needs a store that keeps expected tasks, and the library's own stores gain
    theirs with the tasks work."""

    def __init__(self) -> None:
        super().__init__()
        self.expected: dict[str, ExpectedTask] = {}

    def expect(self, task: ExpectedTask) -> bool:
        if task.task_id in self.expected:
            return False
        self.expected[task.task_id] = task
        return True

    def settle(self, task_id: str, *, by: str = "callback") -> bool:
        return self._change(task_id, TaskState.SETTLED, by)

    def mark_lost(self, task_id: str) -> bool:
        return self._change(task_id, TaskState.LOST, "timeout")

    def _change(self, task_id: str, state: TaskState, by: str) -> bool:
        task = self.expected.get(task_id)
        if task is None or task.state is not TaskState.PENDING:
            return False
        task.state, task.settled_by, task.updated_at = state, by, time.time()
        return True

    def claim_due(
        self, *, limit: int = 100, lease: float = 60.0, now: float | None = None
    ) -> list[ExpectedTask]:
        moment = time.time() if now is None else now
        due = [t for t in self.expected.values() if t.is_overdue(moment)][:limit]
        for task in due:
            task.polls += 1
            task.next_poll_at = moment + lease
        return due

    def reschedule(self, task_id: str, *, at: float) -> bool:
        task = self.expected.get(task_id)
        if task is None or task.state is not TaskState.PENDING:
            return False
        task.next_poll_at = at
        return True

    def get_task(self, task_id: str) -> ExpectedTask | None:
        return self.expected.get(task_id)

    def tasks(
        self, *, state: TaskState | str | None = None, limit: int = 100, now: float | None = None
    ) -> list[ExpectedTask]:
        moment = time.time() if now is None else now
        wanted = listing(state)
        found = sorted(self.expected.values(), key=lambda t: t.submitted_at, reverse=True)
        if wanted == "overdue":
            found = [t for t in found if t.is_overdue(moment)]
        elif wanted is not None:
            found = [t for t in found if t.state.value == wanted]
        return found[:limit]

    def purge_tasks(self, older_than: float | None = None) -> int:
        return 0
