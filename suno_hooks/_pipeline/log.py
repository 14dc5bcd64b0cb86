"""What the receiver logs about its answers: one line per answered callback or refusal, never a
body, a header or a secret."""

from __future__ import annotations

import logging

from ..errors import SunoHooksError
from ..inbound import InboundRequest
from ..outcome import Outcome

__all__ = ["internal_error", "log_refusal", "logged"]

logger = logging.getLogger("suno_hooks")


def log_refusal(exc: SunoHooksError, request: InboundRequest) -> None:
    """One WARNING per refused request: the answer, its error code and the peer."""
    logger.warning("refused %d %s peer=%s", exc.status, exc.code, request.peer or "-")


def logged(outcome: Outcome) -> Outcome:
    """Log the answer to an admitted callback (INFO, WARNING when it is an error) and return it;
    no body, header or secret is logged."""
    delivery = outcome.delivery
    level = logging.INFO if outcome.status < 400 else logging.WARNING
    if delivery is not None and logger.isEnabledFor(level):
        answer = outcome.body.get("status") or outcome.body.get("error")
        logger.log(
            level,
            "%d %s task=%s kind=%s stage=%s",
            outcome.status,
            answer,
            delivery.task_id,
            delivery.kind,
            delivery.stage,
        )
    return outcome


def internal_error() -> Outcome:
    """Log the unexpected exception being handled and answer 500 `internal_error`."""
    logger.exception("unexpected error while handling a callback")
    return Outcome(500, {"error": "internal_error", "detail": "The callback could not be handled."})
