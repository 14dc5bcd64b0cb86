"""What the client raises: `InvalidRequest` before sending, typed `ApiError`s for Kie's answers.

Kie answers most errors with HTTP 200 and the error in the body's `code`; the client reads the
body's code first and the HTTP status when the body has none. No error ever carries the API key
or the request's headers.

    SunoHooksException                           suno_hooks.errors: the root of them all
    ├── ApiError
    │   ├── AuthenticationFailed, InsufficientCredits, TaskNotFound, ValidationFailed,
    │   │   Maintenance, FeatureDisabled
    │   ├── RateLimited, ServerError              retried when polling; a create retries 429 only
    │   └── ApiConnectionError                   no answer; retried
    │       └── SubmissionUncertain              a create sent but unanswered; never resent
    └── InvalidRequest (ValueError)              refused before sending
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import SunoHooksException

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "AuthenticationFailed",
    "FeatureDisabled",
    "InsufficientCredits",
    "InvalidRequest",
    "Maintenance",
    "RateLimited",
    "ServerError",
    "Submission",
    "SubmissionUncertain",
    "TaskNotFound",
    "ValidationFailed",
    "api_error",
]

_MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class Submission:
    """A create request as it was sent: what to look the task up by when no answer came.

    `feature` and `endpoint` say what was asked, `sent_at` when (Unix time of the last send),
    `callback_url` where Kie will call back, `context` the caller's context carried in it and
    `token_id` the id of its signed token (None for a URL the client did not sign). The callback
    URL is left out of the repr: its token admits callbacks for the task.
    """

    feature: str
    endpoint: str
    sent_at: float
    callback_url: str | None = field(default=None, repr=False)
    context: dict[str, Any] | None = None
    token_id: str | None = None

    def describe(self) -> str:
        """One line naming the request, without the callback URL's token."""
        sent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.sent_at))
        token = f", callback token id {self.token_id}" if self.token_id else ""
        return f"{self.feature} (POST {self.endpoint}, sent {sent}{token})"


class InvalidRequest(SunoHooksException, ValueError):
    """A request the client refuses to send because Kie would refuse it (a sentence says why)."""


class ApiError(SunoHooksException):
    """An error answer from the Suno API: `code` (Kie's code, else the HTTP status), `message`
    (Kie's `msg`, bounded) and the `endpoint` path. `retryable` says whether the client retries."""

    retryable = False
    #: The create request that got this error, on errors raised by `create`; else None.
    submission: Submission | None = None
    _limit = _MAX_MESSAGE  # Kie's messages are bounded; the client's own may run longer

    def __init__(self, code: int, message: str, *, endpoint: str = "", status: int = 0) -> None:
        self.code = code
        self.message = message[: self._limit]
        self.endpoint = endpoint
        self.status = status
        where = f" from {endpoint}" if endpoint else ""
        if code == 0:  # no answer: there is no code to show
            where = f" at {endpoint}" if endpoint else ""
            super().__init__(f"No answer from the Suno API{where}: {self.message}")
        else:
            super().__init__(f"Suno API error {code}{where}: {self.message}")


class AuthenticationFailed(ApiError):
    """401: the API key is missing, wrong or revoked."""


class InsufficientCredits(ApiError):
    """402 (429 on the lyrics and recovery endpoints): the account has too few credits."""


class TaskNotFound(ApiError):
    """404: no such task (or endpoint)."""


class ValidationFailed(ApiError):
    """400, 413 or 422: Kie refused the parameters (`message` says which)."""


class RateLimited(ApiError):
    """429 (405 and 430 on the lyrics and recovery endpoints): too many requests; retried."""

    retryable = True


class Maintenance(ApiError):
    """455: the service is under maintenance."""


class FeatureDisabled(ApiError):
    """505: the feature is disabled for now."""


class ServerError(ApiError):
    """A 5xx answer (other than 501 generation failed and 505 feature disabled); retried when
    polling, not when creating (Kie may have created the task before failing)."""

    retryable = True


class ApiConnectionError(ApiError):
    """The API could not be reached or did not answer in time (code 0); retried, except a create
    that may have reached the API (`SubmissionUncertain`)."""

    retryable = True


class SubmissionUncertain(ApiConnectionError):
    """A create request was sent but no answer came (read timeout, connection reset, a send cut
    off): Kie may have created, and charged for, the task, so it was not sent again.

    `submission` identifies the request (feature, endpoint, time sent, callback URL, context and
    token id): look the task up by it (Kie's dashboard, or the callback when it arrives) before
    creating it again.
    """

    retryable = False
    _limit = 1000

    def __init__(self, reason: str, submission: Submission) -> None:
        super().__init__(
            0,
            f"No answer to the create request for {submission.describe()}: {reason}. Kie may "
            "have created the task, so it was not sent again; look it up by the error's "
            "`submission` (callback URL, context) before creating it again.",
            endpoint=submission.endpoint,
        )
        self.submission = submission


# The lyrics and recovery endpoints use another code table than the other create endpoints:
# 405 and 430 are rate limits, 429 is "insufficient credits".
_OTHER_TABLE_PATHS = ("/api/v1/lyrics", "/api/v1/suno/recovery")


def api_error(code: int, message: str, *, endpoint: str = "", status: int = 0) -> ApiError:
    """The typed error for Kie's `code` on `endpoint`."""
    other_table = endpoint.startswith(_OTHER_TABLE_PATHS)
    kind: type[ApiError]
    if code == 401:
        kind = AuthenticationFailed
    elif code == 402 or (code == 429 and other_table):
        kind = InsufficientCredits
    elif code == 404:
        kind = TaskNotFound
    elif code in (400, 413, 422):
        kind = ValidationFailed
    elif code == 429 or (code in (405, 430) and other_table):
        kind = RateLimited
    elif code == 455:
        kind = Maintenance
    elif code == 505:
        kind = FeatureDisabled
    elif 500 <= code <= 599 and code != 501:
        kind = ServerError
    else:
        kind = ApiError
    return kind(code, message, endpoint=endpoint, status=status)
