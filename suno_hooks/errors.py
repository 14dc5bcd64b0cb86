"""Every exception suno-hooks raises derives from `SunoHooksException`; every warning it issues
derives from `SunoHooksWarning`. The refusals of a callback (`SunoHooksError` and below) carry
the HTTP `status`, `code` and `detail` of the answer.

    SunoHooksException
    ├── SunoHooksError                      a refused callback: status, code, detail
    │   ├── MethodNotAllowed                405
    │   ├── PayloadTooLarge                 413
    │   ├── UnsupportedMediaType            415
    │   ├── ForbiddenSource                 403
    │   ├── InvalidJSON                     400
    │   ├── InvalidPayload                  400
    │   ├── SignatureError                  401
    │   │   ├── MissingSignature
    │   │   ├── StaleTimestamp
    │   │   ├── InvalidSignature
    │   │   └── ReplayedSignature
    │   ├── InvalidToken                    401
    │   ├── InProgress                      409
    │   ├── HandlerError                    500
    │   ├── StoreUnavailable                503
    │   └── NoReceiver                      503
    ├── ConfigurationError (ValueError)     a setting that cannot work
    ├── ClientDisconnected                  suno_hooks.asgi: the body never arrived
    ├── SandboxError                        suno_hooks.sandbox: a control request refused
    ├── CreateError                         suno_hooks.sandbox: a request Kie would refuse
    ├── InvalidRequest (ValueError)         suno_hooks.client: refused before sending
    ├── HandoffError (RuntimeError)         suno_hooks.handoff: a ring that could not be sent
    ├── MediaError                          suno_hooks.media: a file that could not be kept
    │   ├── MediaRefused                    a URL or address the rules refuse
    │   ├── MediaTooLarge                   a body past the size cap
    │   └── KeepFailed                      some files of an event not kept
    └── ApiError                            suno_hooks.client: Kie's error answers
        ├── AuthenticationFailed
        ├── InsufficientCredits
        ├── TaskNotFound
        ├── ValidationFailed
        ├── RateLimited
        ├── Maintenance
        ├── FeatureDisabled
        ├── ServerError
        └── ApiConnectionError
            └── SubmissionUncertain

    SunoHooksWarning (UserWarning)
    ├── InsecureReceiverWarning             a receiver that verifies nothing
    └── SpanWarning                         suno_hooks.client: a span Kie advises against
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXTRAS",
    "ConfigurationError",
    "ForbiddenSource",
    "HandlerError",
    "InProgress",
    "InsecureReceiverWarning",
    "InvalidJSON",
    "InvalidPayload",
    "InvalidSignature",
    "InvalidToken",
    "MethodNotAllowed",
    "MissingSignature",
    "NoReceiver",
    "PayloadTooLarge",
    "ReplayedSignature",
    "SignatureError",
    "StaleTimestamp",
    "StoreUnavailable",
    "SunoHooksError",
    "SunoHooksException",
    "SunoHooksWarning",
    "UnsupportedMediaType",
    "missing_extra",
]


class SunoHooksException(Exception):
    """The root of every exception suno-hooks raises: `except SunoHooksException` catches them
    all, and each keeps its standard base too (`ConfigurationError` is a `ValueError`)."""


class SunoHooksWarning(UserWarning):
    """The base of every warning suno-hooks issues: `filterwarnings` can act on them all."""


class SunoHooksError(SunoHooksException):
    """Base of every error that becomes an HTTP answer: carries `status`, `code` and `detail`."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_detail: ClassVar[str] = "The request was rejected."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)

    def to_body(self) -> dict[str, str]:
        """The JSON body sent to the caller: `{"error": code, "detail": sentence}`."""
        return {"error": self.code, "detail": self.detail}


class ConfigurationError(SunoHooksException, ValueError):
    """Raised at start-up for a setting that cannot work (bad store URL, bad `require` value)."""


class InsecureReceiverWarning(SunoHooksWarning):
    """A receiver was built with verification off (`require="none"`): it accepts every callback,
    forged ones included. Turn it into an error in a test suite with
    `filterwarnings = ["error::suno_hooks.InsecureReceiverWarning"]`."""


class MethodNotAllowed(SunoHooksError):
    """The endpoint only accepts POST."""

    status = 405
    code = "method_not_allowed"
    default_detail = "Callbacks must be sent with POST."

    def __init__(self, detail: str | None = None):
        super().__init__(detail, headers={"Allow": "POST"})


class PayloadTooLarge(SunoHooksError):
    """The body is longer than `max_body`."""

    status = 413
    code = "payload_too_large"
    default_detail = "The request body is larger than this endpoint accepts."


class UnsupportedMediaType(SunoHooksError):
    """The body is declared as something other than JSON."""

    status = 415
    code = "unsupported_media_type"
    default_detail = "Callbacks must be sent as application/json."


class ForbiddenSource(SunoHooksError):
    """The peer address is not in the configured allow-list."""

    status = 403
    code = "forbidden_source"
    default_detail = "This address may not send callbacks here."


class InvalidJSON(SunoHooksError):
    """The body is not a JSON object."""

    code = "invalid_json"
    default_detail = "The request body is not a JSON object."


class InvalidPayload(SunoHooksError):
    """The body is JSON but carries no usable task id, or two different ones."""

    code = "invalid_payload"
    default_detail = "The callback carries no usable task id."


class SignatureError(SunoHooksError):
    """Base of the HMAC signature failures (all 401)."""

    status = 401
    code = "invalid_signature"
    default_detail = "The callback signature does not match."


class MissingSignature(SignatureError):
    """A signature is required but the Kie headers are absent."""

    code = "missing_signature"
    default_detail = "The X-Webhook-Signature and X-Webhook-Timestamp headers are required."


class StaleTimestamp(SignatureError):
    """The signed timestamp is outside the tolerance window."""

    code = "stale_timestamp"
    default_detail = "The X-Webhook-Timestamp is outside the accepted window."


class InvalidSignature(SignatureError):
    """The signature matches none of the configured keys."""


class ReplayedSignature(SignatureError):
    """A signature and timestamp already seen arrived with a different body."""

    code = "replayed_signature"
    default_detail = "This signature was already used with a different body."


class InvalidToken(SunoHooksError):
    """The signed callback-URL token is missing, forged or expired."""

    status = 401
    code = "invalid_token"
    default_detail = "The callback URL token is missing, invalid or expired."


class StoreUnavailable(SunoHooksError):
    """The de-duplication store cannot be reached; the sender should retry later."""

    status = 503
    code = "store_unavailable"
    default_detail = "The callback store is unavailable; retry later."

    def __init__(self, detail: str | None = None, *, retry_after: int = 5):
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class InProgress(SunoHooksError):
    """The same delivery is being processed elsewhere and its lease has not expired."""

    status = 409
    code = "in_progress"
    default_detail = "This callback is being processed; retry later."


class NoReceiver(SunoHooksError):
    """A replay found no signal receiver connected: nothing would run, so nothing is marked."""

    status = 503
    code = "no_receiver"
    default_detail = (
        "No signal receiver is connected, so the replay ran nothing; the delivery is unchanged."
    )


class HandlerError(SunoHooksError):
    """A receiver raised and `retry_on_error=True` asks the sender to retry."""

    status = 500
    code = "handler_error"
    default_detail = "A callback handler failed; the delivery was kept for replay."


EXTRAS: dict[str, tuple[str, ...]] = {
    "cli": ("click", "uvicorn", "httpx", "jinja2"),
    "client": ("httpx",),
    "sandbox": ("starlette", "uvicorn", "httpx"),
    "inbox": ("jinja2",),
    "media": ("httpx",),
    "celery": ("celery", "kombu"),
    "rq": ("rq", "redis"),
    "django-tasks": ("django", "django_tasks"),
}
"""The modules each extra installs, by the extra's name."""


def missing_extra(extra: str, module: str, who: str = "suno-hooks") -> str:
    """The message for `who` lacking `module`: the extra that installs it and the pip line."""
    return (
        f"{who} needs the {extra} extra ({module} is not installed):\n"
        f'    pip install "suno-hooks[{extra}]"'
    )
