"""How fast the sandbox works: delays between stages, the sender's timeout and its retry backoff."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Timing"]


@dataclass(frozen=True)
class Timing:
    """Delays in seconds. `fast()` (the default) settles a task in milliseconds; `realistic()`
    keeps the documented order of magnitude (minutes per song, a 15 s answer timeout)."""

    first_delay: float = 0.002
    """From the create request to the first stage."""
    stage_delay: float = 0.002
    """Between one stage and the next."""
    timeout: float = 10.0
    """How long the sender waits for the receiver's answer (Kie: 10–15 s)."""
    backoff: float = 0.01
    """Wait before the first retry; it doubles for each further one."""
    attempts: int = 3
    """Deliveries tried per callback before the sender gives up (Kie: 3)."""
    media_delay: float = 0.1
    """The wait before each 4 KiB of a media file under the `media:slow` scenario."""

    @classmethod
    def fast(cls) -> Timing:
        """Milliseconds between stages and retries: for tests and quick tries."""
        return cls()

    @classmethod
    def realistic(cls) -> Timing:
        """Tens of seconds between stages, a 15 s timeout and seconds of backoff, like Kie."""
        return cls(first_delay=20.0, stage_delay=40.0, timeout=15.0, backoff=5.0)

    @classmethod
    def named(cls, name: str) -> Timing:
        """`"fast"` or `"realistic"`."""
        if name == "fast":
            return cls.fast()
        if name == "realistic":
            return cls.realistic()
        raise ValueError(f"Unknown timing {name!r}; use 'fast' or 'realistic'.")

    def retry_delay(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1-based): exponential backoff."""
        return float(self.backoff * 2 ** (attempt - 1))
