"""`ReceiverParts`: what the steps read from the `Receiver` that runs them (its checks, store,
lease and dispatcher), so that they depend on this shape and not on the receiver module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .._security.allow_list import SourceFilter
from .._security.signatures import HmacVerifier
from .._security.tokens import TokenSigner
from ..handoff import Handoff
from ..stores import ClaimResult, ReplayCheck, Store
from .config import Require
from .dispatch import Dispatcher
from .store_calls import StoreCalls

__all__ = ["ReceiverParts"]


class ReceiverParts(Protocol):
    """The receiver as its steps see it: its settings and the parts it was built with."""

    max_body: int
    sources: SourceFilter | None
    verifier: HmacVerifier | None
    signer: TokenSigner | None
    require: Require
    store: Store
    lease: float
    retry_on_error: bool
    dispatcher: Dispatcher
    handoff: Handoff | None
    """Where queued deliveries go to be run (None: the handlers run inline)."""
    _calls: StoreCalls
    """The store's operations, resolved once when the receiver was built."""
    _guard_ttl: float
    """How long the replay guard remembers a signature: twice the timestamp tolerance."""
    _claim_done: Callable[[str, ReplayCheck | None], ClaimResult | None] | None
    """The store's `claim_done` when it can answer a done key without I/O."""
    _finishes_with_handlers: bool
    """True when the dispatcher is a `FinishingDispatcher`: a delivery's `done` mark is handed
    to it, to commit with the handlers' writes where it can."""
