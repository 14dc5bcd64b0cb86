"""The steps a receiver plan yields, and the two drivers that run a plan.

A plan is a generator written once: it yields a step wherever it needs the store or the signal
handlers and receives the step's result (or has the step's exception raised at the `yield`).
`drive` performs each step with blocking calls, `adrive` awaits it; only the performers differ.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
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
    "FinishLease",
    "GetDelivery",
    "Plan",
    "Refuse",
    "Reopen",
    "SendSignals",
    "Step",
    "adrive",
    "drive",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class BindToken:
    """Bind a callback URL token to its task in the store; replies whether the token's task is
    `task_id` (a store that cannot bind replies True, with a warning once)."""

    token_id: str
    task_id: str
    ttl: float


@dataclass(frozen=True, slots=True)
class ClaimLease:
    """Claim `delivery` in the store for `seconds`; replies with the store's `Claim`."""

    delivery: Delivery
    replay: ReplayCheck | None
    seconds: float


@dataclass(frozen=True, slots=True)
class BuildEvent:
    """Build the event of a large body (its lenient repair can take milliseconds, so an event
    loop builds it in a worker thread); replies with the event, or None when it cannot be
    built."""

    admitted: Admitted


@dataclass(frozen=True, slots=True)
class SendSignals:
    """Run the handlers of `event`; replies with their failures, one line each."""

    sender: Any
    event: Event


@dataclass(frozen=True, slots=True)
class FinishLease:
    """Record done (`error` None) or failed under `lease`, settling the expected task
    `settles` (when not None) by `by`; replies whether the lease still owned the delivery."""

    lease: Lease
    error: str | None
    settles: str | None
    by: str


@dataclass(frozen=True, slots=True)
class GetDelivery:
    """Read the kept delivery `key`; replies with it, or None."""

    key: str


@dataclass(frozen=True, slots=True)
class Reopen:
    """Ready a kept delivery for a forced replay; replies None to go on, or the answer to give
    when nothing should run."""

    kept: Delivery


@dataclass(frozen=True, slots=True)
class Refuse:
    """Tell monitors (`callback_rejected`) that a request was refused; replies None."""

    sender: Any
    error: SunoHooksError
    peer: str | None


Step = (
    BindToken | ClaimLease | BuildEvent | SendSignals | FinishLease | GetDelivery | Reopen | Refuse
)
Plan = Generator[Step, Any, _T]
"""A generator of steps that `drive` or `adrive` runs to its result."""


def drive(plan: Plan[_T], perform: Callable[[Step], Any]) -> _T:
    """Run `plan` to its result, performing each step with `perform` (blocking); a step's
    exception is raised inside the plan, at its `yield`."""
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
            reply = perform(step)
        except BaseException as exc:
            failure = exc


async def adrive(plan: Plan[_T], perform: Callable[[Step], Awaitable[Any]]) -> _T:
    """`drive`, awaiting each step."""
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
            reply = await perform(step)
        except BaseException as exc:
            failure = exc
