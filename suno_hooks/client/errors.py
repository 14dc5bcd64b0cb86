"""What the client raises: `InvalidRequest` before sending, typed `ApiError`s for Kie's answers.

Kie answers most errors with HTTP 200 and the error in the body's `code` (spec §5.5); the client
reads the body's code first and the HTTP status when the body has none. No error ever carries
the API key or the request's headers.
"""

from __future__ import annotations

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
    "TaskNotFound",
    "ValidationFailed",
    "api_error",
]

_MAX_MESSAGE = 300


class InvalidRequest(ValueError):
    """A request the client refuses to send because Kie would refuse it (a sentence says why)."""


class ApiError(Exception):
    """An error answer from the Suno API: `code` (Kie's code, else the HTTP status), `message`
    (Kie's `msg`, bounded) and the `endpoint` path. `retryable` says whether the client retries."""

    retryable = False

    def __init__(self, code: int, message: str, *, endpoint: str = "", status: int = 0) -> None:
        self.code = code
        self.message = message[:_MAX_MESSAGE]
        self.endpoint = endpoint
        self.status = status
        where = f" from {endpoint}" if endpoint else ""
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
    """A 5xx answer (other than 501 generation failed and 505 feature disabled); retried."""

    retryable = True


class ApiConnectionError(ApiError):
    """The API could not be reached or did not answer in time (code 0); retried."""

    retryable = True


# The lyrics and recovery endpoints use another table (spec §5.5): 405 and 430 are rate limits,
# 429 is "insufficient credits".
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
