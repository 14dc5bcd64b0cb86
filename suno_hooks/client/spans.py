"""The replace-section span check: reject a request Kie would refuse before it costs credits."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from ..errors import SunoHooksWarning
from .errors import InvalidRequest

__all__ = ["SpanRule", "SpanWarning"]


class SpanWarning(SunoHooksWarning):
    """A span that Kie accepts but advises against (longer than the advised share of the song)."""


@dataclass(frozen=True, slots=True)
class SpanRule:
    """What a replaced span (`infillEndS − infillStartS`) must satisfy; override to follow Kie.

    The defaults are Kie's published numbers:

    - `min_seconds=6.0`, `max_seconds=60.0`: "between 6 and 60 seconds" on Kie's replace-section
      pages, English and Chinese, and on sunoapi.org's Chinese page. sunoapi.org's newer English
      page says "at least 10 seconds" with no maximum; third parties report 10–480 s on the
      market API: `SpanRule(min_seconds=10, max_seconds=480)`.
    - `max_share=0.5`: the span "should not exceed 50 %" of the source track on Kie's page, a
      mere recommendation on sunoapi.org's Chinese one ("建议不超过"). Hard limits are enforced
      and recommendations only warned about, so by default (`share_is_hard=False`) a longer
      span emits a `SpanWarning`.
    - `decimals=2`: times have two decimal places (Kie's page: "e.g. 10.50").
    - Always: both times ≥ 0, start < end, end within the source's duration when it is known.
    """

    min_seconds: float = 6.0
    max_seconds: float | None = 60.0
    max_share: float | None = 0.5
    share_is_hard: bool = False
    decimals: int = 2

    def check(self, start: float, end: float, duration: float | None = None) -> None:
        """Raise `InvalidRequest` naming the first rule the span breaks; warn on advice."""
        for name, value in (("start", start), ("end", end), ("duration", duration)):
            if value is None and name == "duration":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidRequest(f"The span's {name} must be a number of seconds.")
            if not math.isfinite(value):
                raise InvalidRequest(f"The span's {name} must be a finite number of seconds.")
        if start < 0:
            raise InvalidRequest(f"The span must start at 0 s or later; it starts at {start} s.")
        if not start < end:
            raise InvalidRequest(f"The span must end after it starts ({start} s to {end} s).")
        for name, value in (("start", start), ("end", end)):
            if not _has_decimals(value, self.decimals):
                raise InvalidRequest(
                    f"The span's {name} ({value}) has more than {self.decimals} decimal places."
                )
        span = round(end - start, self.decimals)
        if span < self.min_seconds:
            raise InvalidRequest(
                f"The span is {span} s; Kie needs at least {self.min_seconds} s to replace."
            )
        if self.max_seconds is not None and span > self.max_seconds:
            raise InvalidRequest(
                f"The span is {span} s; Kie replaces at most {self.max_seconds} s at once."
            )
        if duration is None:
            return
        if end > duration:
            raise InvalidRequest(f"The span ends at {end} s, after the song's end ({duration} s).")
        if self.max_share is not None and span > self.max_share * duration:
            advice = (
                f"The span is {span} s, more than {self.max_share:.0%} of the song ({duration} s)."
            )
            if self.share_is_hard:
                raise InvalidRequest(advice)
            warnings.warn(f"{advice} Kie advises against it.", SpanWarning, stacklevel=3)


def _has_decimals(value: float, decimals: int) -> bool:
    scaled = value * 10**decimals
    if not math.isfinite(scaled) or abs(scaled) > 2**52:
        return True  # too large to carry decimals; the span rules refuse it
    return bool(abs(scaled - round(scaled)) < 1e-6 * max(1.0, abs(scaled)))
