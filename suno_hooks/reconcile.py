"""`Reconciler`: poll the tasks whose callback is late and feed the answer to the receiver.

Each run claims the expected tasks due for a poll one at a time, just before polling each
(atomically, with a lease, so several reconcilers never poll one task at once), reads the task's
polling record through the client, puts the task's next poll `every` seconds after the poll
ended (while the lease is still held), and hands a terminal record to
`Receiver.deliver(..., source="poll")` as the callback body it stands for: the receiver's dedupe
makes the callback and the poll dispatch once between them. A task still unfinished `give_up`
seconds after submission, with no result recorded or being handled, is marked lost and reported
once as `task_failed` (code 408, timed out). Like the client, the logic is one plan of steps
that a blocking and an asyncio driver run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from ._callbacks.poll_records import callback_body, lost_body
from ._callbacks.probe import dedupe_key
from .client.errors import ApiError
from .client.features import feature as find_feature
from .client.plan import Call, Pause, Plan, Remember, adrive, drive
from .errors import ConfigurationError, SunoHooksException
from .outcome import Outcome
from .stores.base import Delivery, DeliveryStatus, delivery_source
from .stores.tasks import AsyncTaskStore, ExpectedTask, TaskStore

__all__ = ["ReconcileReport", "Reconciler"]

logger = logging.getLogger("suno_hooks")

_PURGE_EVERY = 3600.0
_DEFAULT_TIMEOUT = 30.0
_MARGIN = 1.0  # for the store write that follows a poll
_TERMINAL_STAGES = ("complete", "error")


class _LeaseEnding(SunoHooksException):
    """A poll stopped because its next step could outlast the task's claim."""


@dataclass(frozen=True, slots=True)
class _StoreCall:
    """Call a `TaskStore` method (the async driver calls its `a`-prefixed twin)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Deliver:
    """Hand a body to the receiver as a trusted delivery from polling."""

    body: dict[str, Any]
    feature: str
    context: dict[str, Any] | None


_Step = Call | Pause | Remember | _StoreCall | _Deliver
_Plan = Generator[_Step, Any, "ReconcileReport"]


@dataclass(slots=True)
class ReconcileReport:
    """What one run did: tasks claimed, polls made, results dispatched, results the callback
    had already delivered, tasks given up on, and polls that failed (one line each)."""

    claimed: int = 0
    polled: int = 0
    delivered: int = 0
    already_delivered: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One log line: what was claimed, polled, dispatched, found delivered, lost, failed."""
        return (
            f"claimed={self.claimed} polled={self.polled} delivered={self.delivered} "
            f"already_delivered={self.already_delivered} lost={self.lost} "
            f"errors={len(self.errors)}"
        )


class _Pace:
    """A global request rate: the wait before the next request so that at most `rate` are
    started per second (monotonic time, shared by every task of this reconciler)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_slot = 0.0
        self.lock = threading.Lock()

    def ahead(self) -> float:
        """The wait before the next free slot, without taking it."""
        with self.lock:
            return max(0.0, self.next_slot - time.monotonic())

    def wait(self) -> float:
        """Take the next slot; the wait before it."""
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
            return slot - now


class Reconciler:
    """Polls the expected tasks still pending `after` seconds after submission, every `every`
    seconds, through `client` (a `SunoClient` or `AsyncSunoClient`), and feeds each terminal
    record to `receiver`; a task still pending after `give_up` seconds is reported lost once.

    `after` alone decides a task's first poll, counted from its submission. `every` is the
    least time between two polls of one task, from the end of the last one, whichever
    reconciler made it. `rate` caps this reconciler's polling requests per second (Kie allows 3
    per second per task). Each run claims at most `batch` tasks, one at a time just before its
    poll, each for `lease` seconds: a poll whose next request or retry wait could outlast the
    lease (counting the client's `timeout` per request) is stopped and tried again later, so
    no other reconciler takes the task while the poll may still be running. `clock` gives the
    current time (for tests).
    """

    def __init__(
        self,
        receiver: Any,
        client: Any,
        *,
        after: float = 600.0,
        every: float = 30.0,
        give_up: float = 86400.0,
        rate: float = 10.0,
        batch: int = 100,
        lease: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(receiver.store, TaskStore):
            raise ConfigurationError(f"{receiver.store!r} does not keep expected tasks.")
        if not (rate > 0 and every > 0 and give_up > 0 and after >= 0 and batch > 0):
            raise ConfigurationError("after, every, give_up, rate and batch must be positive.")
        self._request_budget = float(getattr(client, "timeout", _DEFAULT_TIMEOUT)) + _MARGIN
        if not lease > self._request_budget:
            raise ConfigurationError(
                f"lease ({lease:g} s) must be longer than one polling request may take "
                f"(the client's timeout plus {_MARGIN:g} s: {self._request_budget:g} s)."
            )
        self.receiver = receiver
        self.client = client
        self.store: TaskStore = receiver.store
        self.after = float(after)
        self.every = max(float(every), 1 / 3)
        self.give_up = float(give_up)
        self.batch = int(batch)
        self.lease = float(lease)
        self.clock = clock
        self._pace = _Pace(rate)
        self._last_purge = 0.0

    def __repr__(self) -> str:
        return f"<Reconciler after={self.after:g} every={self.every:g} give_up={self.give_up:g}>"

    # -- the plan ---------------------------------------------------------------------------------

    def _run_plan(self) -> _Plan:
        report = ReconcileReport()
        now = self.clock()
        if now - self._last_purge >= _PURGE_EVERY:
            self._last_purge = now
            yield _StoreCall("purge_tasks")
        # One claim per task, right before its poll: a claim made at the start of a long, paced
        # pass would run out before the pass reached its last tasks.
        for _ in range(self.batch):
            # Wait for a free polling slot before the claim, so the lease starts at the poll.
            yield Pause(self._pace.ahead())
            now = self.clock()
            claimed = yield _StoreCall(
                "claim_due", kwargs={"limit": 1, "lease": self.lease, "now": now}
            )
            if not claimed:
                break
            report.claimed += 1
            yield from self._task_plan(claimed[0], now, report)
        return report

    def _task_plan(
        self, task: ExpectedTask, now: float, report: ReconcileReport
    ) -> Generator[_Step, Any, None]:
        due = task.submitted_at + self.after
        deadline = task.submitted_at + self.give_up
        if due > now and deadline > now:
            yield _StoreCall("reschedule", (task.task_id,), {"at": due})
            return
        answer = None
        yield Pause(self._pace.wait())
        try:
            plan = self.client.plans.record_plan(task.task_id, task.feature)
            answer = yield from self._within_lease(plan, now + self.lease)
            report.polled += 1
        except (ApiError, _LeaseEnding) as error:
            report.errors.append(f"{task.task_id}: {error}")
            logger.warning("polling %s failed: %s", task.task_id, error)
        # The next poll counts from this one's end, and is set while this claim still holds.
        yield _StoreCall("reschedule", (task.task_id,), {"at": self.clock() + self.every})
        body = callback_body(task.task_id, task.feature, answer) if answer is not None else None
        callback_feature = find_feature(task.feature).callback_feature
        if body is not None:
            # The result exists: whatever the receiver answers (delivered, already delivered,
            # in progress elsewhere, or unavailable), the task is never reported lost.
            outcome: Outcome = yield _Deliver(body, callback_feature, task.context)
            state = outcome.body.get("status") if outcome.ok else None
            if state == "received":
                report.delivered += 1
            elif state in ("duplicate", "stale"):
                report.already_delivered += 1
                yield _StoreCall("settle", (task.task_id,), {"by": "callback"})
            return
        if deadline <= now:
            yield from self._give_up_plan(task, callback_feature, report)

    def _give_up_plan(
        self, task: ExpectedTask, callback_feature: str, report: ReconcileReport
    ) -> Generator[_Step, Any, None]:
        """Mark a task lost and report it, unless a terminal delivery of it is kept (done,
        failed, or being handled right now): then its result arrived, and it is not lost."""
        if (yield from self._result_arrived(task.task_id)):
            return
        if not (yield _StoreCall("mark_lost", (task.task_id,))):
            return
        # A callback claimed between the look and the mark: its handlers have the result.
        if (yield from self._result_arrived(task.task_id)):
            return
        report.lost += 1
        lost = lost_body(task.task_id, self.clock() - task.submitted_at)
        yield _Deliver(lost, callback_feature, task.context)

    def _result_arrived(self, task_id: str) -> Generator[_Step, Any, bool]:
        """True when a terminal delivery of the task is kept; a finished one settles the task."""
        for stage in _TERMINAL_STAGES:
            delivery: Delivery | None = yield _StoreCall("get", (dedupe_key(task_id, stage),))
            if delivery is None:
                continue
            if delivery.status in (DeliveryStatus.DONE, DeliveryStatus.FAILED):
                yield _StoreCall("settle", (task_id,), {"by": delivery_source(delivery)})
            return True
        return False

    def _within_lease(self, plan: Plan[Any], lease_end: float) -> Generator[_Step, Any, Any]:
        """Run the client's polling plan, stopping before a request or a wait that could end
        after `lease_end` (a request may take the client's timeout)."""
        reply: Any = None
        while True:
            try:
                step = plan.send(reply)
            except StopIteration as done:
                return done.value
            wait = step.seconds if isinstance(step, Pause) else 0.0
            if self.clock() + wait + self._request_budget > lease_end:
                plan.close()
                raise _LeaseEnding(f"stopped before the claim's {self.lease:g} s lease ended")
            reply = yield step

    # -- the drivers ------------------------------------------------------------------------------

    def run_once(self) -> ReconcileReport:
        """One pass over the due tasks, blocking (for cron, Celery beat or a thread)."""
        return drive(self._run_plan(), self._perform)

    async def arun_once(self) -> ReconcileReport:
        """`run_once` on an event loop (with an `AsyncSunoClient`)."""
        return await adrive(self._run_plan(), self._aperform)

    def _perform(self, step: _Step) -> Any:
        if isinstance(step, _StoreCall):
            return getattr(self.store, step.name)(*step.args, **step.kwargs)
        if isinstance(step, _Deliver):
            return self.receiver.deliver(
                step.body, feature=step.feature, context=step.context, source="poll"
            )
        return self.client.perform(step)

    async def _aperform(self, step: _Step) -> Any:
        if isinstance(step, _StoreCall):
            store = self.store
            if isinstance(store, AsyncTaskStore) and hasattr(store, f"a{step.name}"):
                return await getattr(store, f"a{step.name}")(*step.args, **step.kwargs)
            return await asyncio.to_thread(getattr(store, step.name), *step.args, **step.kwargs)
        if isinstance(step, _Deliver):
            return await self.receiver.adeliver(
                step.body, feature=step.feature, context=step.context, source="poll"
            )
        return await self.client.perform(step)

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Run every `every` seconds until `stop` is set; a failing run is logged and retried."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                logger.exception("a reconcile run failed")
            stop.wait(self.every)

    async def arun_forever(self, stop: asyncio.Event | None = None) -> None:
        """`run_forever` on an event loop."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.arun_once()
            except Exception:
                logger.exception("a reconcile run failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every)
