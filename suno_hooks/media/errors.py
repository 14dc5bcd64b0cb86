"""What can go wrong while keeping a file: a refusal by the safety policy, an answer or a
transport failure (each saying whether another try may help), and a keep that left files out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import SunoHooksException

if TYPE_CHECKING:
    from .kept import KeptFile

__all__ = ["KeepFailed", "MediaError", "MediaRefused", "MediaTooLarge"]


class MediaError(SunoHooksException):
    """A file could not be kept; `retryable` says whether another try may succeed (a 429, a
    5xx, a timeout or a dropped connection) and `status` is the HTTP status when there was one."""

    def __init__(self, detail: str, *, retryable: bool = False, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.status = status
        self.retry_after: float | None = None


class MediaRefused(MediaError):
    """The safety policy refused a URL before any request was sent to it: a scheme, host,
    address, port or redirect it does not allow."""


class MediaTooLarge(MediaError):
    """The file is larger than the archive's `max_bytes`: it was stopped at the cap."""


class KeepFailed(MediaError):
    """Some files of an event could not be kept after the last try; `kept` lists those that
    were (and stay kept), `failures` maps each missing file's name to its error."""

    def __init__(self, kept: Sequence[KeptFile], failures: dict[str, MediaError]):
        names = ", ".join(f"{name} ({error.detail})" for name, error in failures.items())
        super().__init__(f"{len(failures)} file(s) not kept: {names}")
        self.kept = list(kept)
        self.failures = failures
