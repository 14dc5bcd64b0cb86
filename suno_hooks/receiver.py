"""`Receiver`: the sans-I/O pipeline that turns an `InboundRequest` into an `Outcome`.

One pipeline, two drivers: `handle` and `handle_async` run the same pure steps (`admission`)
and differ only where they touch the store and the signal receivers (`processing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ._pipeline.admission import admit
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
from ._pipeline.dispatch import BlinkerDispatcher, Dispatcher
from ._pipeline.log import internal_error, log_refusal, logged
from ._pipeline.processing import aclaim_or_answer, adispatch, aget, aprocess, process, store_error
from ._pipeline.trusted import readmit, reopened, replayable, trusted
from ._security.allow_list import SourceFilter
from ._security.signatures import DEFAULT_TOLERANCE, HmacVerifier
from ._security.tokens import DEFAULT_TOKEN_MAX_AGE, TokenSigner
from .errors import ConfigurationError, StoreUnavailable, SunoHooksError
from .inbound import InboundRequest
from .leases import has_async_api
from .outcome import Outcome
from .stores import ClaimResult, Delivery, KnowsDone, ReplayCheck, Store, store_from_url

__all__ = ["DEFAULT_MAX_BODY", "Receiver", "Require", "replayable"]


class Receiver:
    """Verifies, parses, de-duplicates and dispatches Suno callbacks; mount it with any adapter.

    `hmac_keys` are Kie's `webhookHmacKey`s (several during a rotation, the current one first);
    `secret_key` signs callback URLs; `store` is a `Store` or a store URL. Without either key
    it refuses to be built unless `require="none"` is written (which warns).
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
        self.store: Store = store_from_url(store) if isinstance(store, str) else store
        self.max_body = max_body
        self.lease = lease
        self.retry_on_error = retry_on_error
        self.dispatcher: Dispatcher = dispatcher or BlinkerDispatcher()
        self._async_store = has_async_api(self.store)
        self._claim_done: Callable[[str, ReplayCheck | None], ClaimResult | None] | None = (
            self.store.claim_done if isinstance(self.store, KnowsDone) else None
        )

    def __repr__(self) -> str:
        return f"<Receiver require={self.require!r} store={self.store!r}>"

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
        sender = self if sender is None else sender
        try:
            return logged(process(self, admit(self, request), sender))
        except SunoHooksError as exc:
            return self._reject(exc, request, sender)
        except Exception:
            return internal_error()

    async def handle_async(self, request: InboundRequest, *, sender: Any = None) -> Outcome:
        """Answer one request on an event loop (ASGI, Starlette, async Django views)."""
        sender = self if sender is None else sender
        try:
            return logged(await aprocess(self, admit(self, request), sender))
        except SunoHooksError as exc:
            return await self._areject(exc, request, sender)
        except Exception:
            return internal_error()

    async def acknowledge_async(
        self, request: InboundRequest, *, sender: Any = None
    ) -> tuple[Outcome, Callable[[], Awaitable[None]] | None]:
        """Admit and claim a request, answering as soon as the delivery is stored in the inbox.

        Returns the answer and, for a new delivery, a coroutine function to run after sending
        it: it builds the event, runs the receivers and records `done` or `failed` (for replay).
        With `retry_on_error=True` the receivers run before answering, as in `handle_async`.
        """
        sender = self if sender is None else sender
        if self.retry_on_error:
            return await self.handle_async(request, sender=sender), None
        try:
            admitted = admit(self, request)
            if isinstance(admitted, Outcome):
                return logged(admitted), None
            early = await aclaim_or_answer(self, admitted)
        except SunoHooksError as exc:
            return await self._areject(exc, request, sender), None
        except Exception:
            return internal_error(), None
        if early is not None:
            early.delivery = admitted.delivery
            return logged(early), None
        accepted = Outcome.accepted("received")
        accepted.delivery = admitted.delivery
        logged(accepted)

        async def dispatch_and_finish() -> None:
            # A failure to record is logged; the delivery turns `abandoned` when its lease ends.
            with contextlib.suppress(StoreUnavailable):
                await adispatch(self, admitted, sender)

        return accepted, dispatch_and_finish

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
        try:
            return process(self, trusted(body, feature, context, source), sender)
        except SunoHooksError as exc:
            return Outcome.rejected(exc)

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
        try:
            return await aprocess(self, trusted(body, feature, context, source), sender)
        except SunoHooksError as exc:
            return Outcome.rejected(exc)

    def replay(self, key: str, *, force: bool = False, sender: Any = None) -> Outcome:
        """Run the receivers again for a kept delivery (a `failed` or `abandoned` one), with the
        same signals, lease and bookkeeping as a live callback. A `done` delivery answers
        `duplicate` unless `force=True` asks to run its handlers again; when no receiver is
        connected, nothing runs, the delivery is left as it was and the answer is 503
        `no_receiver`."""
        sender = self if sender is None else sender
        try:
            delivery = self.store.get(key)
        except Exception as exc:
            return Outcome.rejected(store_error(exc))
        if delivery is None:
            raise KeyError(f"No delivery {key!r} is kept in the store.")
        try:
            admitted = readmit(delivery, self.dispatcher, sender, force=force)
            if force:
                early = _reopened(self.store, delivery)
                if early is not None:
                    return early
            return process(self, admitted, sender)
        except SunoHooksError as exc:
            return Outcome.rejected(exc)

    async def areplay(self, key: str, *, force: bool = False, sender: Any = None) -> Outcome:
        """`replay` on an event loop: the receivers run on it, as for a live callback."""
        sender = self if sender is None else sender
        try:
            delivery = await aget(self, key)
        except Exception as exc:
            return Outcome.rejected(store_error(exc))
        if delivery is None:
            raise KeyError(f"No delivery {key!r} is kept in the store.")
        try:
            admitted = readmit(delivery, self.dispatcher, sender, force=force)
            if force:
                early = await asyncio.to_thread(_reopened, self.store, delivery)
                if early is not None:
                    return early
            return await aprocess(self, admitted, sender)
        except SunoHooksError as exc:
            return Outcome.rejected(exc)

    def replay_failed(self, *, limit: int = 100, sender: Any = None) -> dict[str, Outcome]:
        """Replay up to `limit` failed and abandoned deliveries, oldest first; the outcome of
        each by key."""
        return {d.key: self.replay(d.key, sender=sender) for d in replayable(self.store, limit)}

    def _reject(self, exc: SunoHooksError, request: InboundRequest, sender: Any) -> Outcome:
        log_refusal(exc, request)
        self.dispatcher.rejected(
            sender, error=exc.code, status=exc.status, detail=exc.detail, peer=request.peer
        )
        return Outcome.rejected(exc)

    async def _areject(self, exc: SunoHooksError, request: InboundRequest, sender: Any) -> Outcome:
        arejected = getattr(self.dispatcher, "arejected", None)
        if arejected is None:
            return self._reject(exc, request, sender)
        log_refusal(exc, request)
        await arejected(
            sender, error=exc.code, status=exc.status, detail=exc.detail, peer=request.peer
        )
        return Outcome.rejected(exc)


def _reopened(store: Store, kept: Delivery) -> Outcome | None:
    """`reopened`, a store failure turned into the 503 that answers it."""
    try:
        return reopened(store, kept)
    except SunoHooksError:
        raise
    except Exception as exc:
        raise store_error(exc) from None
