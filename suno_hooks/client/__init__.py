"""Submit tasks to the Suno API (Kie AI) and read their polling records (DESIGN §11).

Needs httpx: `pip install 'suno-hooks[client]'`.
"""

from __future__ import annotations

from .clients import DEFAULT_BASE_URL, AsyncSunoClient, SunoClient
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
    TaskNotFound,
    ValidationFailed,
)
from .features import FEATURES, Feature, feature
from .plan import Submitted
from .spans import SpanRule, SpanWarning

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
    "Submitted",
    "SunoClient",
    "TaskNotFound",
    "ValidationFailed",
    "feature",
]
