"""The steps a receiver plan yields, and the two drivers that run a plan.

A plan is a generator written once: it yields a step wherever it needs the store or the signal
handlers and receives the step's result (or has the step's exception raised at the `yield`).
Each step says once which performer it calls, with what; `drive` gives it blocking performers,
`adrive` awaiting ones (see `performers`), and they are all that differs between the two.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..errors import SunoHooksError
    from ..events import Event
    from ..leases import Lease
    from ..stores import Delivery, ReplayCheck
    from .admission import Admitted

__all__ = [
    "BindToken",
    "BuildEvent",
    "ClaimLease",
    "FindSweepable",
    "FinishLease",
    "GetDelivery",
    "NoteRing",
    "Performers",
    "Plan",
    "QueueDelivery",
    "Refuse",
    "Reopen",
    "Ring",
    "SendAndFinish",
    "SendSignals",
    "Step",
    "adrive",
    "drive",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Performers:
    """What each step calls: all blocking (for `drive`), or all returning awaitables (for
    `adrive`); built once per receiver (see `performers`)."""

    bind_token: Callable[[str, str, float], Any]
    build_event: Callable[..., Any]
    claim: Callable[..., Any]
    finish: Callable[..., Any]
    get: Callable[[str], Any]
    rejected: Callable[..., Any]
    reopen: Callable[..., Any]
    send: Callable[..., Any]
    send_finishing: Callable[..., Any]
    queue: Callable[..., Any]
    ring: Callable[[str], Any]
    sweepable: Callable[..., Any]
    note_ring: Callable[[str], Any]


# Steps are made on every request: plain slotted classes (a frozen one costs more to build);
# nothing changes a step once it is yielded.
@dataclass(slots=True)
class BindToken:
    """Bind a callback URL token to its task in the store; replies whether the token's task is
    `task_id` (a store that cannot bind replies True, with a warning once)."""

    token_id: str
    task_id: str
    ttl: float

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.bind_token(self.token_id, self.task_id, self.ttl)


@dataclass(slots=True)
class ClaimLease:
    """Claim `delivery` in the store for `seconds`; replies with the store's `Claim`."""

    delivery: Delivery
    replay: ReplayCheck | None
    seconds: float

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.claim(self.delivery, lease=self.seconds, replay=self.replay)


@dataclass(slots=True)
class BuildEvent:
    """Build the event of a large body (its lenient repair can take milliseconds, so an event
    loop builds it in a worker thread); replies with the event, or None when it cannot be
    built."""

    admitted: Admitted

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.build_event(self.admitted)


@dataclass(slots=True)
class SendSignals:
    """Run the handlers of `event`; replies with their failures, one line each."""

    sender: Any
    event: Event

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.send(self.sender, self.event)


@dataclass(slots=True)
class FinishLease:
    """Record done (`error` None) or failed under `lease`, settling the expected task
    `settles` (when not None) by `by`; replies whether the lease still owned the delivery."""

    lease: Lease
    error: str | None
    settles: str | None
    by: str

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.finish(self.lease, self.error, settles=self.settles, by=self.by)

    def record(self) -> bool:
        """Record it with blocking store calls where the caller runs (a dispatcher, in the
        thread that holds its handlers' transaction); whether the lease still owned it."""
        return self.lease.finish(self.error, settles=self.settles, by=self.by)


@dataclass(slots=True)
class SendAndFinish:
    """Run the handlers of `event` and, when none failed, record `finish` in the transaction
    that holds their writes, where the dispatcher can; replies with their failures and whether
    `finish` was recorded there: None when it was not (the plan records the outcome itself),
    False when the lease was lost, and the handlers' writes were then rolled back with it."""

    sender: Any
    event: Event
    finish: FinishLease

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.send_finishing(self.sender, self.event, self.finish)


@dataclass(slots=True)
class GetDelivery:
    """Read the kept delivery `key`; replies with it, or None."""

    key: str

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.get(self.key)


@dataclass(slots=True)
class Reopen:
    """Ready a kept delivery for a forced replay; replies None to go on, or the answer to give
    when nothing should run."""

    kept: Delivery

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.reopen(self.kept)


@dataclass(slots=True)
class Refuse:
    """Tell monitors (`callback_rejected`) that a request was refused; replies None."""

    sender: Any
    error: SunoHooksError
    peer: str | None

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        error = self.error
        return do.rejected(
            self.sender, error=error.code, status=error.status, detail=error.detail, peer=self.peer
        )


@dataclass(slots=True)
class QueueDelivery:
    """Record `delivery` as `queued` for a worker, with `claim`'s checks, in one write; replies
    with the store's `Claim`."""

    delivery: Delivery
    replay: ReplayCheck | None

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.queue(self.delivery, replay=self.replay)


@dataclass(slots=True)
class Ring:
    """Ring the hand-off with `key` once its write has committed; replies whether the ring was
    sent (a failure is logged, never raised)."""

    key: str

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.ring(self.key)


@dataclass(slots=True)
class FindSweepable:
    """Find the deliveries whose hand-off should be rung again; replies with them."""

    older_than: float
    max_rings: int
    limit: int

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.sweepable(older_than=self.older_than, max_rings=self.max_rings, limit=self.limit)


@dataclass(slots=True)
class NoteRing:
    """Count one more ring of `key` in the store; replies with the new count."""

    key: str

    def run(self, do: Performers) -> Any:
        """Call the performer."""
        return do.note_ring(self.key)


Step = (
    BindToken
    | ClaimLease
    | BuildEvent
    | SendSignals
    | SendAndFinish
    | FinishLease
    | GetDelivery
    | Reopen
    | Refuse
    | QueueDelivery
    | Ring
    | FindSweepable
    | NoteRing
)
Plan = Generator[Step, Any, _T]
"""A generator of steps that `drive` or `adrive` runs to its result."""


def drive(plan: Plan[_T], do: Performers) -> _T:
    """Run `plan` to its result with blocking performers; a step's exception is raised inside
    the plan, at its `yield`."""
    send, throw = plan.send, plan.throw
    reply: Any = None
    failure: BaseException | None = None
    while True:
        try:
            step = send(reply) if failure is None else throw(failure)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        failure = None
        try:
            reply = step.run(do)
        except BaseException as exc:
            failure = exc


async def adrive(plan: Plan[_T], do: Performers) -> _T:
    """`drive` with awaiting performers: each step's awaitable is awaited."""
    send, throw = plan.send, plan.throw
    reply: Any = None
    failure: BaseException | None = None
    while True:
        try:
            step = send(reply) if failure is None else throw(failure)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        failure = None
        try:
            reply = await step.run(do)
        except BaseException as exc:
            failure = exc
