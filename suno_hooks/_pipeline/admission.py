"""Admission: every check on an HTTP callback that needs no store (method, size, type, peer,
signature, token, a known-done delivery), ending in an `Admitted` request ready to claim."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._callbacks.kinds import kind_for_feature
from .._callbacks.probe import Probe, load_json, probe
from .._security.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER
from .._security.tokens import TOKEN_PARAM, TokenClaims, TokenSigner
from ..errors import (
    ForbiddenSource,
    InvalidToken,
    MethodNotAllowed,
    MissingSignature,
    PayloadTooLarge,
    ReplayedSignature,
    UnsupportedMediaType,
)
from ..inbound import InboundRequest
from ..leases import Lease
from ..outcome import Outcome
from ..stores import ClaimResult, Delivery, ReplayCheck

if TYPE_CHECKING:
    from .config import Require
    from .parts import ReceiverParts

__all__ = ["Admitted", "admit", "delivery_for"]


@dataclass(slots=True)
class Admitted:
    """A request that passed every check that needs no store."""

    found: Probe
    delivery: Delivery
    replay: ReplayCheck | None
    source: str | None = None
    """The event's source when it differs from the delivery's (a replay)."""
    lease: Lease | None = None
    sole_token: TokenClaims | None = None
    """The token, when it is the request's only proof: it must be bound to this task."""


def admit(receiver: ReceiverParts, request: InboundRequest) -> Admitted | Outcome:
    """Every check that needs no store; an `Outcome` when the answer is already known."""
    if request.method != "POST":  # methods are case-sensitive: `post` is not POST
        raise MethodNotAllowed()
    body = request.body
    if request.body_too_large or len(body) > receiver.max_body:
        raise PayloadTooLarge(f"The request body is larger than {receiver.max_body} bytes.")
    headers = request.headers
    if not _is_json(dict.get(headers, "content-type")):
        raise UnsupportedMediaType()
    sources = receiver.sources
    if sources is not None and not sources.allows(request.peer, headers):
        raise ForbiddenSource()

    found = probe(load_json(body))
    verifier = receiver.verifier
    signed = None if verifier is None else verifier.check(found.task_id, headers)
    claims = _read_token(receiver.signer, request) if request.query else None
    _enforce(receiver.require, signed is not None, claims is not None)
    key = found.dedupe_key
    replay = None if signed is None else ReplayCheck(signed.replay_key, body, receiver._guard_ttl)
    claim_done = receiver._claim_done
    if claim_done is not None:
        done = claim_done(key, replay)
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
    delivery = delivery_for(
        found, body, feature, context, request.source, _kept_headers(headers), request.peer
    )
    return Admitted(found, delivery, replay, sole_token=claims if signed is None else None)


def delivery_for(
    found: Probe,
    body: bytes,
    feature: str | None,
    context: dict[str, Any] | None,
    source: str,
    headers: dict[str, str] | None = None,
    peer: str | None = None,
) -> Delivery:
    """The inbox record of a probed body received now; the route's `feature` decides its kind
    when it names one."""
    return Delivery(
        found.dedupe_key,
        found.task_id,
        found.stage,
        body,
        (feature and kind_for_feature(feature)) or found.kind,
        feature,
        context,
        headers if headers is not None else {},
        peer,
        time.time(),
        source=source,
    )


def _is_json(content_type: str | None) -> bool:
    if not content_type or content_type == "application/json":
        return True
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _read_token(signer: TokenSigner | None, request: InboundRequest) -> TokenClaims | None:
    if signer is None:
        return None
    token = request.query.get(TOKEN_PARAM)
    if not token:
        return None
    return signer.read(token)


def _enforce(require: Require, has_signature: bool, has_token: bool) -> None:
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


_KEPT_HEADERS = (SIGNATURE_HEADER, TIMESTAMP_HEADER, "content-type", "user-agent")


def _kept_headers(headers: dict[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name in _KEPT_HEADERS:
        value = dict.get(headers, name)
        if value is not None:
            kept[name] = value[:256]
    return kept
