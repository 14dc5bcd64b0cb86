"""The meaning of the `code` a callback carries: success (200, or 0 on the video page), retry
advice, and refunds (531 is the only code Kie documents as "credits refunded")."""

from __future__ import annotations

from ..events import CodeInfo

__all__ = ["SUCCESS_CODES", "code_info"]

SUCCESS_CODES = frozenset({200, 0})
"""The codes that mean success: 200, and 0 (which Kie's video page also uses)."""

_KNOWN: dict[int, CodeInfo] = {
    info.code: info
    for info in (
        CodeInfo(0, "success", retryable=False, credits_refunded=False),
        CodeInfo(200, "success", retryable=False, credits_refunded=False),
        CodeInfo(400, "rejected: invalid parameters or content", False, False),
        CodeInfo(408, "timed out or rate limited", retryable=True, credits_refunded=False),
        CodeInfo(413, "conflict: the uploaded audio matches an existing work", False, False),
        CodeInfo(
            451, "a source file could not be downloaded", retryable=True, credits_refunded=False
        ),
        CodeInfo(500, "server error", retryable=True, credits_refunded=False),
        CodeInfo(501, "generation failed", retryable=False, credits_refunded=False),
        CodeInfo(531, "generation failed, credits refunded", retryable=True, credits_refunded=True),
    )
}


def code_info(code: int) -> CodeInfo:
    """Describe a callback code; codes Kie's callback pages do not list are reported as unknown."""
    known = _KNOWN.get(code)
    if known is not None:
        return known
    return CodeInfo(code, "unknown code", retryable=False, credits_refunded=False)
