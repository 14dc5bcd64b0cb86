"""Submit tasks to the Suno API (Kie AI) and read their polling records.

Needs httpx: `pip install 'suno-hooks[client]'`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    ApiConnectionError,
    ApiError,
    AuthenticationFailed,
    FeatureDisabled,
    InsufficientCredits,
    InvalidRequest,
    Maintenance,
    RateLimited,
    ServerError,
    Submission,
    SubmissionUncertain,
    TaskNotFound,
    ValidationFailed,
)
from .features import FEATURES, Feature, feature
from .plan import Submitted
from .spans import SpanRule, SpanWarning

if TYPE_CHECKING:
    from .clients import DEFAULT_BASE_URL, AsyncSunoClient, SunoClient

__all__ = [
    "DEFAULT_BASE_URL",
    "FEATURES",
    "ApiConnectionError",
    "ApiError",
    "AsyncSunoClient",
    "AuthenticationFailed",
    "Feature",
    "FeatureDisabled",
    "InsufficientCredits",
    "InvalidRequest",
    "Maintenance",
    "RateLimited",
    "ServerError",
    "SpanRule",
    "SpanWarning",
    "Submission",
    "SubmissionUncertain",
    "Submitted",
    "SunoClient",
    "TaskNotFound",
    "ValidationFailed",
    "feature",
]


def __getattr__(name: str) -> Any:
    # The clients need httpx (the `client` extra); the rest of the package does not.
    if name in ("SunoClient", "AsyncSunoClient", "DEFAULT_BASE_URL"):
        from . import clients

        return getattr(clients, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
