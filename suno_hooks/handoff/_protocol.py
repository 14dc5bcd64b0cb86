"""What a hand-off is, what it asks of the receiver, and how a failed ring is reported."""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigurationError, SunoHooksException

__all__ = [
    "Handoff",
    "HandoffError",
    "QueuedRunner",
    "RingsMany",
    "import_object",
    "named",
    "ring_batch_or_log",
    "ring_many_or_log",
    "ring_or_log",
    "ringer",
    "rings_in_background",
]

logger = logging.getLogger("suno_hooks.handoff")

_NAMED = 10
"""How many keys a WARNING about a failed batch names before it only counts the rest."""


@runtime_checkable
class QueuedRunner(Protocol):
    """What an engine calls in the worker: the receiver's way to run one stored delivery by its
    dedupe key (claim the lease, dispatch the stored body, finish)."""

    def run_queued(self, key: str) -> object:
        """Run the handlers of the delivery stored under `key`, at most once."""

    async def arun_queued(self, key: str) -> object:
        """The same, awaited on an event loop."""


@runtime_checkable
class Handoff(Protocol):
    """Anything that can take a queued delivery's dedupe key to a worker.

    `ring(key)` sends only the key (the body stays in the store) and raises `HandoffError` when
    the message cannot be sent; `bind(receiver)` is called once by the receiver built with this
    hand-off. `out_of_process` is true when the work runs in another process, which then needs a
    store it can read too; such a hand-off is rung from a thread of its own unless it sets
    `ring_in_background = False`, and the keys waiting there go as one batch when it also has
    `ring_many` (`RingsMany`)."""

    out_of_process: bool

    def bind(self, receiver: QueuedRunner) -> None:
        """Remember the receiver whose `run_queued` the worker side calls."""

    def ring(self, key: str) -> None:
        """Ask a worker to run the queued delivery `key`; raise `HandoffError` on failure."""


@runtime_checkable
class RingsMany(Protocol):
    """A hand-off that can send several keys at once, cheaper than one `ring` each: a receiver
    ringing it from its own thread sends the keys waiting there with one `ring_many` call."""

    def ring_many(self, keys: Sequence[str]) -> Mapping[str, HandoffError]:
        """Ask a worker to run each queued delivery in `keys`, in order; the keys it could not
        send, each with its error (empty when all were sent), or `HandoffError` when none were."""


class HandoffError(SunoHooksException, RuntimeError):
    """A ring could not be sent (full queue, broker down). The delivery stays `queued` in the
    store, so the sweeper rings it again later; the message never carries a credential."""


def ring_or_log(handoff: Handoff, key: str) -> bool:
    """Ring `key` and return True, or log the failure at WARNING and return False: a callback
    whose delivery is recorded is answered 200 whatever the broker does."""
    try:
        handoff.ring(key)
    except Exception as exc:
        _log_failed([key], _reason(exc))
        return False
    return True


def ring_many_or_log(handoff: Handoff, keys: Sequence[str]) -> dict[str, bool]:
    """Ring `keys` in order, as one batch when `handoff` has `ring_many`, else one by one;
    whether each was sent, by key. The keys that failed are logged at WARNING, one line per
    reason naming how many they are."""
    if not isinstance(handoff, RingsMany):
        return {key: ring_or_log(handoff, key) for key in keys}
    return ring_batch_or_log(handoff.ring_many, keys)


def ring_batch_or_log(
    ring_many: Callable[[Sequence[str]], Mapping[str, object]], keys: Sequence[str]
) -> dict[str, bool]:
    """Ring `keys` with the batch call `ring_many` (a `RingsMany.ring_many`); whether each was
    sent, by key, the keys that failed logged at WARNING, one line per reason."""
    try:
        failed: Mapping[str, object] = ring_many(keys)
    except Exception as exc:
        failed = dict.fromkeys(keys, _reason(exc))
    by_reason: dict[str, list[str]] = {}
    for key, reason in failed.items():
        by_reason.setdefault(str(_reason(reason)), []).append(key)
    for reason, keys_failed in by_reason.items():
        _log_failed(keys_failed, reason)
    return {key: key not in failed for key in keys}


def _reason(error: object) -> object:
    """What a WARNING says of a failed ring: a `HandoffError`'s message (written never to hold a
    credential), only the type of an engine's own error, and any other reason as it is."""
    if isinstance(error, HandoffError) or not isinstance(error, BaseException):
        return error
    return type(error).__name__


def named(keys: Sequence[str]) -> str:
    """How a message names the deliveries `keys`: the key of a lone one, else their count."""
    return keys[0] if len(keys) == 1 else f"{len(keys)} deliveries"


def _log_failed(keys: Sequence[str], reason: object) -> None:
    what = named(keys)
    if len(keys) > 1:
        listed = ", ".join(keys[:_NAMED])
        more = f" and {len(keys) - _NAMED} more" if len(keys) > _NAMED else ""
        what += f" ({listed}{more})"
    logger.warning("hand-off of %s failed, the sweeper will ring again: %s", what, reason)


def ringer(handoff: Handoff, store: object) -> Callable[[str], bool]:
    """How a receiver rings `handoff` once its write has committed: `ring_or_log`, from a
    thread of its own when the work runs in another process (the answer does not wait on the
    broker, and the keys waiting there are rung together with `ring_many_or_log`; a hand-off
    whose `ring_in_background` is False rings in the request), deferred to the commit of the
    open transaction when `store` writes through Django's ORM."""
    ring: Callable[[str], bool] = functools.partial(ring_or_log, handoff)
    if rings_in_background(handoff):
        from ._background import BackgroundRinger

        ring = BackgroundRinger(functools.partial(ring_many_or_log, handoff))
    if type(store).__module__.startswith("suno_hooks.contrib.django"):
        from ..contrib.django._commit import after_commit

        return after_commit(ring, getattr(store, "using", None))
    return ring


def rings_in_background(handoff: Handoff) -> bool:
    """Whether `handoff` is rung from a thread of its own: one that runs the work in another
    process, unless it sets `ring_in_background = False`."""
    return bool(getattr(handoff, "ring_in_background", handoff.out_of_process))


def import_object(path: str, what: str) -> Any:
    """The object a dotted path names, as `package.module:attribute` or `package.module.attribute`;
    a `ConfigurationError` naming `what` when it cannot be imported."""
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ConfigurationError(f"{what} {path!r} is not a path like 'package.module:name'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"{what} {path!r}: cannot import {module_name}: {exc}") from exc
    found = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigurationError(f"{what} {path!r}: no {attribute} in {module_name}.") from None
    return found
