"""`Receiver`: the sans-I/O pipeline that turns an `InboundRequest` into an `Outcome`.

One pipeline, two drivers: each operation is one plan (`_pipeline.operations`,
`_pipeline.queued`) that `handle`, `deliver`, `replay`, `run_queued` and `sweep` run with
blocking store calls and their `a`-prefixed twins run on an event loop. The store's
capabilities are resolved once, when the store is set.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ._pipeline.config import (
    DEFAULT_LEASE,
    DEFAULT_MAX_BODY,
    Require,
    checked_hmac_keys,
    checked_secret_key,
    options_from_env,
    resolve_require,
    warn_once,
)
from ._pipeline.config import (
    _warned as _warned,
)
from ._pipeline.dispatch import BlinkerDispatcher, Dispatcher, as_finishing
from ._pipeline.operations import acknowledge_plan, deliver_plan, handle_plan, replay_plan
from ._pipeline.performers import awaiting, blocking
from ._pipeline.processing import dispatch_plan
from ._pipeline.queued import (
    DEFAULT_MAX_RINGS,
    DEFAULT_SWEEP_AFTER,
    check_handoff_store,
    run_queued_plan,
    sweep_plan,
)
from ._pipeline.steps import adrive, drive
from ._pipeline.store_calls import StoreCalls
from ._pipeline.trusted import replayable
from ._security.allow_list import SourceFilter
from ._security.signatures import DEFAULT_TOLERANCE, HmacVerifier
from ._security.tokens import DEFAULT_TOKEN_MAX_AGE, TokenSigner
from .errors import ConfigurationError, InProgress, StoreUnavailable
from .handoff import Handoff, handoff_from_setting
from .handoff._protocol import ringer, rings_in_background
from .inbound import InboundRequest
from .outcome import Outcome
from .stores import ClaimResult, ReplayCheck, Store, store_from_url

__all__ = ["DEFAULT_MAX_BODY", "Receiver", "Require", "replayable"]


class Receiver:
    """Verifies, parses, de-duplicates and dispatches Suno callbacks; mount it with any adapter.

    `hmac_keys` are Kie's `webhookHmacKey`s (several during a rotation, the current one first);
    `secret_key` signs callback URLs; `store` is a `Store` or a store URL. Without either key
    it refuses to be built unless `require="none"` is written (which warns).

    `handoff` (a hand-off, or a setting such as `"thread"` or `"celery"`) answers each new
    callback `queued` once it is stored and runs its handlers in a worker (`run_queued`).

    `handle_async` and `acknowledge_async` are the old spellings of `ahandle` and `aacknowledge`
    and keep working.
    """

    def __init__(
        self,
        *,
        hmac_keys: Sequence[str | bytes] | str | None = None,
        secret_key: str | bytes | None = None,
        store: Store | str | None = None,
        require: Require | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        token_max_age: int = DEFAULT_TOKEN_MAX_AGE,
        allowed_ips: Sequence[str] | None = None,
        trusted_proxies: int = 0,
        max_body: int = DEFAULT_MAX_BODY,
        lease: float = DEFAULT_LEASE,
        retry_on_error: bool = False,
        dispatcher: Dispatcher | None = None,
        handoff: Handoff | str | None = None,
    ) -> None:
        keys = checked_hmac_keys(hmac_keys)
        self.verifier = HmacVerifier(keys, tolerance=tolerance) if keys else None
        self._guard_ttl = 2 * float(tolerance)
        secret_key = checked_secret_key(secret_key)
        self.signer = None if secret_key is None else TokenSigner(secret_key, max_age=token_max_age)
        self.require: Require = resolve_require(
            require, has_verifier=self.verifier is not None, has_signer=self.signer is not None
        )
        self.sources = (
            SourceFilter(allowed_ips, trusted_proxies=trusted_proxies) if allowed_ips else None
        )
        if store is None:
            warn_once(
                "memory",
                "no store configured; using memory://, which forgets on restart.",
            )
            store = "memory://"
        self.max_body = max_body
        self.lease = lease
        self.retry_on_error = retry_on_error
        self._store: Store = store_from_url(store) if isinstance(store, str) else store
        self._dispatcher: Dispatcher = dispatcher or BlinkerDispatcher()
        self.handoff: Handoff | None = handoff_from_setting(handoff)
        self._resolve()
        if self.handoff is not None:
            self.handoff.bind(self)

    @property
    def store(self) -> Store:
        """Where deliveries, leases and expected tasks are kept."""
        return self._store

    @store.setter
    def store(self, store: Store) -> None:
        self._store = store
        self._resolve()

    @property
    def dispatcher(self) -> Dispatcher:
        """What sends the signals to the handlers (and tells monitors about refusals)."""
        return self._dispatcher

    @dispatcher.setter
    def dispatcher(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._resolve()

    def _resolve(self) -> None:
        """Bind the store's operations and the dispatcher once, for every request to come."""
        self._calls = StoreCalls(self._store)
        self._claim_done: Callable[[str, ReplayCheck | None], ClaimResult | None] | None = (
            self._calls.claim_done
        )
        self._finishes_with_handlers = as_finishing(self._dispatcher) is not None
        handoff = getattr(self, "handoff", None)
        if handoff is None:
            self._blocking = blocking(self._calls, self._dispatcher)
            self._awaiting = awaiting(self._calls, self._dispatcher)
            return
        check_handoff_store(handoff, self._store, self._calls)
        ring = ringer(handoff, self._store)
        self._blocking = blocking(self._calls, self._dispatcher, ring)
        blocks = handoff.out_of_process and not rings_in_background(handoff)
        self._awaiting = awaiting(self._calls, self._dispatcher, ring, ring_blocks=blocks)

    def __repr__(self) -> str:
        handoff = "" if self.handoff is None else f" handoff={self.handoff!r}"
        return f"<Receiver require={self.require!r} store={self.store!r}{handoff}>"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Receiver:
        """Build from the `SUNO_HOOKS_<KEYWORD>` variables, one for each keyword with a plain
        value (`SUNO_HOOKS_HMAC_KEYS` comma-separated, `SUNO_HOOKS_STORE`, `SUNO_HOOKS_LEASE`,
        ...); keywords win. A bad value, or any other `SUNO_HOOKS_*` variable, is a
        `ConfigurationError` naming the variable (and, for a typo, the closest known one)."""
        options = options_from_env(os.environ if environ is None else environ)
        options.update(overrides)
        return cls(**options)

    def callback_url(
        self,
        base: str,
        *,
        context: dict[str, Any] | None = None,
        feature: str | None = None,
    ) -> str:
        """`base` with a signed `token` carrying `context` and `feature`: the `callBackUrl`."""
        if self.signer is None:
            raise ConfigurationError("callback_url needs a secret_key to sign the token.")
        return self.signer.url(base, context, feature)

    # -- the pipeline ---------------------------------------------------------------------------

    def handle(self, request: InboundRequest, *, sender: Any = None) -> Outcome:
        """Answer one request synchronously (WSGI, Flask, sync Django views)."""
        plan = handle_plan(self, request, self if sender is None else sender)
        return drive(plan, self._blocking)

    async def ahandle(self, request: InboundRequest, *, sender: Any = None) -> Outcome:
        """Answer one request on an event loop (ASGI, Starlette, async Django views)."""
        plan = handle_plan(self, request, self if sender is None else sender)
        return await adrive(plan, self._awaiting)

    async def aacknowledge(
        self, request: InboundRequest, *, sender: Any = None
    ) -> tuple[Outcome, Callable[[], Awaitable[None]] | None]:
        """Admit and claim a request, answering as soon as the delivery is stored in the inbox.

        Returns the answer and, for a new delivery, a coroutine function to run after sending
        it: it builds the event, runs the receivers and records `done` or `failed` (for replay).
        With `retry_on_error=True` the receivers run before answering, as in `ahandle`; with a
        hand-off the answer is `ahandle`'s and there is nothing to run after it.
        """
        sender = self if sender is None else sender
        if self.retry_on_error or self.handoff is not None:
            return await self.ahandle(request, sender=sender), None
        answer, admitted = await adrive(acknowledge_plan(self, request, sender), self._awaiting)
        if admitted is None:
            return answer, None

        async def dispatch_and_finish() -> None:
            # A failure to record is logged; the delivery turns `abandoned` when its lease ends.
            # A lease taken over leaves the delivery to the claim that took it.
            with contextlib.suppress(StoreUnavailable, InProgress):
                await adrive(dispatch_plan(self, admitted, sender), self._awaiting)

        return answer, dispatch_and_finish

    handle_async = ahandle
    """The old spelling of `ahandle`, kept working."""
    acknowledge_async = aacknowledge
    """The old spelling of `aacknowledge`, kept working."""

    def deliver(
        self,
        body: bytes | Mapping[str, Any],
        *,
        feature: str | None = None,
        context: dict[str, Any] | None = None,
        source: str = "poll",
        sender: Any = None,
    ) -> Outcome:
        """Deliver a trusted body from this process (a polled record, a sandbox result): the
        HTTP checks (method, type, peer, signature, token) are skipped; parse, claim, dispatch and
        finish run exactly as for a callback, with `Event.source` set to `source`."""
        sender = self if sender is None else sender
        plan = deliver_plan(self, body, feature, context, source, sender)
        return drive(plan, self._blocking)

    async def adeliver(
        self,
        body: bytes | Mapping[str, Any],
        *,
        feature: str | None = None,
        context: dict[str, Any] | None = None,
        source: str = "poll",
        sender: Any = None,
    ) -> Outcome:
        """`deliver` on an event loop."""
        sender = self if sender is None else sender
        plan = deliver_plan(self, body, feature, context, source, sender)
        return await adrive(plan, self._awaiting)

    def replay(self, key: str, *, force: bool = False, sender: Any = None) -> Outcome:
        """Run the receivers again for a kept delivery (a `failed` or `abandoned` one), with the
        same signals, lease and bookkeeping as a live callback. A `done` delivery answers
        `duplicate` unless `force=True` asks to run its handlers again; when no receiver is
        connected, nothing runs, the delivery is left as it was and the answer is 503
        `no_receiver`."""
        plan = replay_plan(self, key, force, self if sender is None else sender)
        return drive(plan, self._blocking)

    async def areplay(self, key: str, *, force: bool = False, sender: Any = None) -> Outcome:
        """`replay` on an event loop: the receivers run on it, as for a live callback."""
        plan = replay_plan(self, key, force, self if sender is None else sender)
        return await adrive(plan, self._awaiting)

    # -- the hand-off's worker side ------------------------------------------------------------

    def run_queued(self, key: str, *, sender: Any = None) -> Outcome:
        """Run the handlers of the delivery `key` that a hand-off queued: claim its lease,
        dispatch the stored body, record done or failed, as `handle` does inline. One that
        already ran answers `duplicate` and one a live lease holds answers 409 `in_progress`,
        both running nothing; a `KeyError` when no delivery `key` is kept."""
        plan = run_queued_plan(self, key, self if sender is None else sender)
        return drive(plan, self._blocking)

    async def arun_queued(self, key: str, *, sender: Any = None) -> Outcome:
        """`run_queued` on an event loop: the handlers run on it, as for a live callback."""
        plan = run_queued_plan(self, key, self if sender is None else sender)
        return await adrive(plan, self._awaiting)

    def sweep(
        self,
        *,
        older_than: float = DEFAULT_SWEEP_AFTER,
        max_rings: int = DEFAULT_MAX_RINGS,
        limit: int = 100,
    ) -> dict[str, bool]:
        """Ring the hand-off again for up to `limit` deliveries still `queued` `older_than`
        seconds after their last ring, or `processing` that long after their lease ended, each
        at most `max_rings` times; whether each ring was sent, by key. Run it every minute or
        so: from cron, Celery beat, `suno-hooks reconcile` or `manage.py suno_hooks sweep`."""
        return drive(sweep_plan(older_than, max_rings, limit), self._blocking)

    async def asweep(
        self,
        *,
        older_than: float = DEFAULT_SWEEP_AFTER,
        max_rings: int = DEFAULT_MAX_RINGS,
        limit: int = 100,
    ) -> dict[str, bool]:
        """`sweep` on an event loop."""
        return await adrive(sweep_plan(older_than, max_rings, limit), self._awaiting)

    def replay_failed(self, *, limit: int = 100, sender: Any = None) -> dict[str, Outcome]:
        """Replay up to `limit` failed and abandoned deliveries, oldest first; the outcome of
        each by key."""
        return {d.key: self.replay(d.key, sender=sender) for d in replayable(self.store, limit)}
