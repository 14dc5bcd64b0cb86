"""`Receiver`: the sans-I/O pipeline that turns an `InboundRequest` into an `Outcome`.

One pipeline, two drivers: `handle` and `handle_async` run the same pure steps and differ only
where they touch the store and the signal receivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, cast, get_args

from .dispatch import BlinkerDispatcher, Dispatcher, reaches_a_receiver
from .errors import (
    ConfigurationError,
    ForbiddenSource,
    HandlerError,
    InProgress,
    InvalidPayload,
    InvalidToken,
    MethodNotAllowed,
    MissingSignature,
    NoReceiver,
    PayloadTooLarge,
    ReplayedSignature,
    StoreUnavailable,
    SunoHooksError,
    UnsupportedMediaType,
)
from .events import Event, EventSource
from .inbound import InboundRequest
from .leases import Lease
from .network import SourceFilter
from .outcome import Outcome
from .parsing import Probe, build_event, kind_for_feature, load_json, probe
from .stores import (
    REPLAYABLE,
    AsyncBindsTokens,
    AsyncStore,
    BindsTokens,
    Claim,
    ClaimResult,
    Delivery,
    KnowsDone,
    ReplayCheck,
    Store,
    store_from_url,
)
from .stores.tasks import asettle_expected, settle_expected
from .tokens import DEFAULT_TOKEN_MAX_AGE, TOKEN_PARAM, TokenClaims, TokenSigner
from .verification import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HmacVerifier,
)

__all__ = ["DEFAULT_MAX_BODY", "Receiver", "Require"]

logger = logging.getLogger("suno_hooks")

Require = Literal["signature", "token", "both", "either", "none"]
_REQUIRE_VALUES: tuple[str, ...] = ("signature", "token", "both", "either", "none")
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_LEASE = 60.0
# Bodies up to this size build their event on the loop; larger ones (their lenient repair can
# take milliseconds) in a worker thread.
INLINE_EVENT_BYTES = 64 * 1024
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


def _is_json(content_type: str | None) -> bool:
    if not content_type or content_type == "application/json":
        return True
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


@dataclass(slots=True)
class _Admitted:
    """A request that passed every check that needs no store."""

    found: Probe
    delivery: Delivery
    replay: ReplayCheck | None
    source: str | None = None
    """The event's source when it differs from the delivery's (a replay)."""
    lease: Lease | None = None
    sole_token: TokenClaims | None = None
    """The token, when it is the request's only proof: it must be bound to this task."""


class Receiver:
    """Verifies, parses, de-duplicates and dispatches Suno callbacks; mount it with any adapter.

    `hmac_keys` are Kie's `webhookHmacKey`s (several during a rotation, the current one first);
    `secret_key` signs callback URLs; `store` is a `Store` or a store URL.
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
        if isinstance(hmac_keys, str):
            hmac_keys = [hmac_keys]
        keys = [key for key in (hmac_keys or []) if key]
        self.verifier = HmacVerifier(keys, tolerance=tolerance) if keys else None
        self._guard_ttl = 2 * float(tolerance)
        self.signer = TokenSigner(secret_key, max_age=token_max_age) if secret_key else None
        self.require: Require = self._resolve_require(require)
        self.sources = (
            SourceFilter(allowed_ips, trusted_proxies=trusted_proxies) if allowed_ips else None
        )
        if store is None:
            _warn_once(
                "memory",
                "no store configured; using memory://, which forgets on restart.",
            )
            store = "memory://"
        self.store: Store = store_from_url(store) if isinstance(store, str) else store
        self.max_body = max_body
        self.lease = lease
        self.retry_on_error = retry_on_error
        self.dispatcher: Dispatcher = dispatcher or BlinkerDispatcher()
        self._async_store = isinstance(self.store, AsyncStore)
        self._claim_done = self.store.claim_done if isinstance(self.store, KnowsDone) else None

    def __repr__(self) -> str:
        return f"<Receiver require={self.require!r} store={self.store!r}>"

    def _resolve_require(self, require: str | None) -> Require:
        if require is None:
            if self.verifier is not None:
                return "signature"
            if self.signer is not None:
                return "token"
            _warn_once(
                "insecure",
                "neither HMAC keys nor a secret key is set; every callback is accepted "
                "unverified. Set hmac_keys (Kie's webhookHmacKey) or secret_key.",
            )
            return "none"
        if require not in _REQUIRE_VALUES:
            raise ConfigurationError(
                f"require must be one of {', '.join(_REQUIRE_VALUES)}; got {require!r}."
            )
        if require in ("signature", "both") and self.verifier is None:
            raise ConfigurationError(f"require={require!r} needs hmac_keys.")
        if require in ("token", "both") and self.signer is None:
            raise ConfigurationError(f"require={require!r} needs secret_key.")
        if require == "either" and (self.verifier is None or self.signer is None):
            raise ConfigurationError("require='either' needs both hmac_keys and secret_key.")
        return require  # type: ignore[return-value]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Receiver:
        """Build from `SUNO_HOOKS_HMAC_KEYS` (comma-separated), `SUNO_HOOKS_SECRET_KEY`,
        `SUNO_HOOKS_STORE`, `SUNO_HOOKS_REQUIRE` and `SUNO_HOOKS_TOLERANCE`; keywords win."""
        env = os.environ if environ is None else environ
        options: dict[str, Any] = {}
        keys = [
            key.strip() for key in env.get("SUNO_HOOKS_HMAC_KEYS", "").split(",") if key.strip()
        ]
        if keys:
            options["hmac_keys"] = keys
        for name, option in (
            ("SUNO_HOOKS_SECRET_KEY", "secret_key"),
            ("SUNO_HOOKS_STORE", "store"),
            ("SUNO_HOOKS_REQUIRE", "require"),
        ):
            if env.get(name):
                options[option] = env[name]
        if env.get("SUNO_HOOKS_TOLERANCE"):
            try:
                options["tolerance"] = float(env["SUNO_HOOKS_TOLERANCE"])
            except ValueError:
                raise ConfigurationError(
                    "SUNO_HOOKS_TOLERANCE must be a number of seconds."
                ) from None
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
            return _logged(self._process(self._admit(request), sender))
        except SunoHooksError as exc:
            return self._reject(exc, request, sender)
        except Exception:
            logger.exception("unexpected error while handling a callback")
            return _internal_error()

    async def handle_async(self, request: InboundRequest, *, sender: Any = None) -> Outcome:
        """Answer one request on an event loop (ASGI, Starlette, async Django views)."""
        sender = self if sender is None else sender
        try:
            return _logged(await self._aprocess(self._admit(request), sender))
        except SunoHooksError as exc:
            return await self._areject(exc, request, sender)
        except Exception:
            logger.exception("unexpected error while handling a callback")
            return _internal_error()

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
            admitted = self._admit(request)
            if isinstance(admitted, Outcome):
                return _logged(admitted), None
            early = await self._aclaim_or_answer(admitted)
        except SunoHooksError as exc:
            return await self._areject(exc, request, sender), None
        except Exception:
            logger.exception("unexpected error while handling a callback")
            return _internal_error(), None
        if early is not None:
            early.delivery = admitted.delivery
            return _logged(early), None
        accepted = Outcome.accepted("received")
        accepted.delivery = admitted.delivery
        _logged(accepted)

        async def dispatch_and_finish() -> None:
            # A failure to record is logged; the delivery turns `abandoned` when its lease ends.
            with contextlib.suppress(StoreUnavailable):
                await self._adispatch(admitted, sender)

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
            return self._process(_trusted(body, feature, context, source), sender)
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
            return await self._aprocess(_trusted(body, feature, context, source), sender)
        except SunoHooksError as exc:
            return Outcome.rejected(exc)

    def replay(self, key: str, *, sender: Any = None) -> Outcome:
        """Run the receivers again for a kept delivery (a `failed` or `abandoned` one), with the
        same signals, lease and bookkeeping as a live callback. A `done` delivery answers
        `duplicate`; when no receiver is connected, nothing runs, the delivery is left as it
        was and the answer is 503 `no_receiver`."""
        sender = self if sender is None else sender
        try:
            delivery = self.store.get(key)
        except Exception as exc:
            return Outcome.rejected(self._store_error(exc))
        if delivery is None:
            raise KeyError(f"No delivery {key!r} is kept in the store.")
        try:
            return self._process(self._readmit_for(delivery, sender), sender)
        except SunoHooksError as exc:
            return Outcome.rejected(exc)

    async def areplay(self, key: str, *, sender: Any = None) -> Outcome:
        """`replay` on an event loop."""
        sender = self if sender is None else sender
        try:
            delivery = await self._aget(key)
        except Exception as exc:
            return Outcome.rejected(self._store_error(exc))
        if delivery is None:
            raise KeyError(f"No delivery {key!r} is kept in the store.")
        try:
            return await self._aprocess(self._readmit_for(delivery, sender), sender)
        except SunoHooksError as exc:
            return Outcome.rejected(exc)

    def replay_failed(self, *, limit: int = 100, sender: Any = None) -> dict[str, Outcome]:
        """Replay up to `limit` failed and abandoned deliveries, oldest first; the outcome of
        each by key."""
        return {d.key: self.replay(d.key, sender=sender) for d in replayable(self.store, limit)}

    def _readmit_for(self, kept: Delivery, sender: Any) -> _Admitted:
        admitted = _readmit(kept)
        if kept.status in REPLAYABLE:
            event = self._event(admitted)
            if event is not None and not reaches_a_receiver(self.dispatcher, sender, event):
                raise NoReceiver()
        return admitted

    def _process(self, admitted: _Admitted | Outcome, sender: Any) -> Outcome:
        if isinstance(admitted, Outcome):
            return admitted
        outcome = self._claim_or_answer(admitted)
        if outcome is None:
            outcome = self._answer_dispatch(*self._dispatch(admitted, sender))
        outcome.delivery = admitted.delivery
        return outcome

    async def _aprocess(self, admitted: _Admitted | Outcome, sender: Any) -> Outcome:
        if isinstance(admitted, Outcome):
            return admitted
        outcome = await self._aclaim_or_answer(admitted)
        if outcome is None:
            outcome = self._answer_dispatch(*await self._adispatch(admitted, sender))
        outcome.delivery = admitted.delivery
        return outcome

    def _claim_or_answer(self, admitted: _Admitted) -> Outcome | None:
        """Claim the delivery; None when it is new (to dispatch), else the answer to give."""
        if admitted.sole_token is not None:
            self._bind_token(admitted.sole_token, admitted.delivery.task_id)
        try:
            claim = self.store.claim(admitted.delivery, lease=self.lease, replay=admitted.replay)
        except Exception as exc:
            raise self._store_error(exc) from None
        return self._answer_claim(admitted, claim)

    async def _aclaim_or_answer(self, admitted: _Admitted) -> Outcome | None:
        delivery, replay = admitted.delivery, admitted.replay
        if admitted.sole_token is not None:
            await self._abind_token(admitted.sole_token, delivery.task_id)
        try:
            if self._async_store:
                store: AsyncStore = self.store  # type: ignore[assignment]
                claim = await store.aclaim(delivery, lease=self.lease, replay=replay)
            else:
                claim = await asyncio.to_thread(
                    self.store.claim, delivery, lease=self.lease, replay=replay
                )
        except Exception as exc:
            raise self._store_error(exc) from None
        return self._answer_claim(admitted, claim)

    def _dispatch(self, admitted: _Admitted, sender: Any) -> tuple[Event | None, str | None]:
        """Build the event, run the receivers, record done or failed; the event and the error."""
        event = self._event(admitted)
        lease = admitted.lease
        assert lease is not None
        error: str | None = _PARSE_ERROR
        if event is not None:
            bound = lease.bind()
            try:
                error = _joined(self.dispatcher.send(sender, event))
            finally:
                lease.unbind(bound)
        if admitted.delivery.terminal:
            settle_expected(self.store, admitted.delivery.task_id, admitted.delivery.source)
        try:
            lease.finish(error)
        except Exception as exc:
            raise _unrecorded(admitted, exc) from None
        return event, error

    async def _adispatch(self, admitted: _Admitted, sender: Any) -> tuple[Event | None, str | None]:
        if len(admitted.delivery.body) <= INLINE_EVENT_BYTES:
            event = self._event(admitted)
        else:
            event = await asyncio.to_thread(self._event, admitted)
        lease = admitted.lease
        assert lease is not None
        error: str | None = _PARSE_ERROR
        if event is not None:
            bound = lease.bind()
            try:
                error = _joined(await self.dispatcher.asend(sender, event))
            finally:
                lease.unbind(bound)
        if admitted.delivery.terminal:
            await asettle_expected(self.store, admitted.delivery.task_id, admitted.delivery.source)
        try:
            await lease.afinish(error)
        except Exception as exc:
            raise _unrecorded(admitted, exc) from None
        return event, error

    async def _aget(self, key: str) -> Delivery | None:
        if self._async_store:
            store: AsyncStore = self.store  # type: ignore[assignment]
            return await store.aget(key)
        return await asyncio.to_thread(self.store.get, key)

    def _bind_token(self, token: TokenClaims, task_id: str) -> None:
        """Refuse a token already bound to another task (token-only requests)."""
        store = self.store
        if not isinstance(store, BindsTokens):
            _warn_once("bind", f"{store!r} cannot bind tokens to their task.")
            return
        try:
            bound = store.bind_token(token.token_id, task_id, token.expires_in)
        except Exception as exc:
            raise self._store_error(exc) from None
        if not bound:
            raise InvalidToken(_OTHER_TASK)

    async def _abind_token(self, token: TokenClaims, task_id: str) -> None:
        store = self.store
        if not isinstance(store, AsyncBindsTokens):
            await asyncio.to_thread(self._bind_token, token, task_id)
            return
        try:
            bound = await store.abind_token(token.token_id, task_id, token.expires_in)
        except Exception as exc:
            raise self._store_error(exc) from None
        if not bound:
            raise InvalidToken(_OTHER_TASK)

    # -- pure steps ------------------------------------------------------------------------------

    def _admit(self, request: InboundRequest) -> _Admitted | Outcome:
        """Every check that needs no store; an `Outcome` when the answer is already known."""
        if request.method != "POST":  # methods are case-sensitive: `post` is not POST
            raise MethodNotAllowed()
        body = request.body
        if request.body_too_large or len(body) > self.max_body:
            raise PayloadTooLarge(f"The request body is larger than {self.max_body} bytes.")
        headers = request.headers
        if not _is_json(dict.get(headers, "content-type")):
            raise UnsupportedMediaType()
        if self.sources is not None and not self.sources.allows(request.peer, headers):
            raise ForbiddenSource()

        found = probe(load_json(body))
        signed = None if self.verifier is None else self.verifier.check(found.task_id, headers)
        claims = self._read_token(request) if request.query else None
        self._enforce(signed is not None, claims is not None)
        key = found.dedupe_key
        replay = None if signed is None else ReplayCheck(signed.replay_key, body, self._guard_ttl)
        if self._claim_done is not None:
            done = self._claim_done(key, replay)
            if done is ClaimResult.REPLAYED:
                raise ReplayedSignature()
            if done is not None:
                duplicate = Outcome.accepted("duplicate")
                duplicate.delivery = Delivery(key, found.task_id, found.stage, body, found.kind)
                return duplicate

        feature = request.feature
        context = None
        if claims is not None:
            feature = claims.feature or feature
            context = claims.context
        delivery = Delivery(
            key,
            found.task_id,
            found.stage,
            body,
            (feature and kind_for_feature(feature)) or found.kind,
            feature,
            context,
            _kept_headers(headers),
            request.peer,
            time.time(),
            source=request.source,
        )
        return _Admitted(found, delivery, replay, sole_token=claims if signed is None else None)

    def _read_token(self, request: InboundRequest) -> TokenClaims | None:
        if self.signer is None:
            return None
        token = request.query.get(TOKEN_PARAM)
        if not token:
            return None
        return self.signer.read(token)

    def _enforce(self, has_signature: bool, has_token: bool) -> None:
        require = self.require
        if require == "signature" and not has_signature:
            raise MissingSignature()
        if require == "token" and not has_token:
            raise InvalidToken("A signed callback URL token is required.")
        if require == "both":
            if not has_signature:
                raise MissingSignature()
            if not has_token:
                raise InvalidToken("A signed callback URL token is required.")
        if require == "either" and not (has_signature or has_token):
            raise MissingSignature("A Kie signature or a signed callback URL token is required.")

    @staticmethod
    def _event(admitted: _Admitted) -> Event | None:
        delivery = admitted.delivery
        try:
            return build_event(
                admitted.found,
                feature=delivery.feature,
                context=delivery.context,
                received_at=datetime.fromtimestamp(delivery.received_at, timezone.utc),
                kind=delivery.kind,  # type: ignore[arg-type]
                source=cast(EventSource, admitted.source or delivery.source),
            )
        except Exception:
            logger.exception("could not build the event for %s", delivery.key)
            return None

    def _answer_claim(self, admitted: _Admitted, claim: Claim) -> Outcome | None:
        result = claim.result
        if result is ClaimResult.NEW:
            admitted.lease = Lease(self.store, admitted.delivery.key, claim.token, self.lease)
            return None
        if result is ClaimResult.DUPLICATE:
            return Outcome.accepted("duplicate")
        if result is ClaimResult.STALE:
            return Outcome.accepted("stale")
        if result is ClaimResult.IN_PROGRESS:
            raise InProgress()
        raise ReplayedSignature()

    def _answer_dispatch(self, event: Event | None, error: str | None) -> Outcome:
        if error is not None and self.retry_on_error:
            failed = Outcome.rejected(HandlerError())
            failed.event = event
            return failed
        return Outcome.accepted("received", event)

    @staticmethod
    def _store_error(exc: Exception) -> StoreUnavailable:
        logger.error("store unavailable: %s: %s", type(exc).__name__, exc)
        return StoreUnavailable()

    def _reject(self, exc: SunoHooksError, request: InboundRequest, sender: Any) -> Outcome:
        _log_refusal(exc, request)
        self.dispatcher.rejected(
            sender, error=exc.code, status=exc.status, detail=exc.detail, peer=request.peer
        )
        return Outcome.rejected(exc)

    async def _areject(self, exc: SunoHooksError, request: InboundRequest, sender: Any) -> Outcome:
        arejected = getattr(self.dispatcher, "arejected", None)
        if arejected is None:
            return self._reject(exc, request, sender)
        _log_refusal(exc, request)
        await arejected(
            sender, error=exc.code, status=exc.status, detail=exc.detail, peer=request.peer
        )
        return Outcome.rejected(exc)


def _log_refusal(exc: SunoHooksError, request: InboundRequest) -> None:
    """One WARNING per refused request: the answer, its error code and the peer."""
    logger.warning("refused %d %s peer=%s", exc.status, exc.code, request.peer or "-")


def _logged(outcome: Outcome) -> Outcome:
    """Log the answer to an admitted callback (INFO, WARNING when it is an error) and return it;
    no body, header or secret is logged."""
    delivery = outcome.delivery
    if delivery is not None:
        answer = outcome.body.get("status") or outcome.body.get("error")
        logger.log(
            logging.INFO if outcome.status < 400 else logging.WARNING,
            "%d %s task=%s kind=%s stage=%s",
            outcome.status,
            answer,
            delivery.task_id,
            delivery.kind,
            delivery.stage,
        )
    return outcome


def replayable(store: Store, limit: int) -> list[Delivery]:
    """Up to `limit` failed and abandoned deliveries in `store`, oldest first."""
    found = [d for status in REPLAYABLE for d in store.deliveries(status=status, limit=limit)]
    found.sort(key=lambda d: d.received_at)
    return found[-limit:] if len(found) > limit else found


def _readmit(kept: Delivery) -> _Admitted:
    """A kept delivery, ready to run through the pipeline again (it was verified on arrival);
    its event says `replay`, the inbox keeps how the delivery first arrived."""
    found = probe(load_json(kept.body))
    delivery = dataclasses.replace(kept, headers=dict(kept.headers), error=None)
    return _Admitted(found, delivery, None, "replay")


_SOURCES: tuple[str, ...] = get_args(EventSource)


def _trusted(
    body: bytes | Mapping[str, Any],
    feature: str | None,
    context: dict[str, Any] | None,
    source: str,
) -> _Admitted:
    """A body handed over in-process, ready for the claim: no HTTP check applies to it."""
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {', '.join(_SOURCES)}; got {source!r}.")
    if not isinstance(body, bytes):
        try:
            body = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        except (TypeError, ValueError):
            raise InvalidPayload("The body cannot be encoded as JSON.") from None
    found = probe(load_json(body))
    delivery = Delivery(
        found.dedupe_key,
        found.task_id,
        found.stage,
        body,
        (feature and kind_for_feature(feature)) or found.kind,
        feature,
        context,
        received_at=time.time(),
        source=source,
    )
    return _Admitted(found, delivery, None)


_PARSE_ERROR = "suno-hooks could not build the event; see the log"
_OTHER_TASK = "This callback URL token was already used for another task."


def _unrecorded(admitted: _Admitted, exc: Exception) -> StoreUnavailable:
    """The answer when the outcome could not be written after the handlers ran: 503, so the
    sender retries. The delivery stays `processing` until its lease ends (then `abandoned`),
    and the retry or a replay runs the handlers again."""
    logger.error(
        "could not record the outcome of %s (%s: %s); answering 503 so the sender "
        "retries once the lease ends",
        admitted.delivery.key,
        type(exc).__name__,
        exc,
    )
    return StoreUnavailable()


def _joined(failures: list[str]) -> str | None:
    return "; ".join(failures)[:1000] if failures else None


_KEPT_HEADERS = (SIGNATURE_HEADER, TIMESTAMP_HEADER, "content-type", "user-agent")


def _kept_headers(headers: dict[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name in _KEPT_HEADERS:
        value = dict.get(headers, name)
        if value is not None:
            kept[name] = value[:256]
    return kept


def _internal_error() -> Outcome:
    return Outcome(500, {"error": "internal_error", "detail": "The callback could not be handled."})
