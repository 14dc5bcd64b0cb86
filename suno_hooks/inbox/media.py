"""Media links of a callback as the page shows them: http(s) only, and expired after Suno's
14-day file life."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["MEDIA_LIFETIME", "Media", "media", "safe_url"]

MEDIA_LIFETIME = 14 * 24 * 3600.0
"""Seconds Suno keeps generated files before its links stop working."""

MediaTag = Literal["audio", "video", "image", "link"]


def safe_url(value: object) -> str | None:
    """The value when it is an absolute http(s) URL with a host, else None (never `javascript:`,
    `data:` or a relative path)."""
    if not isinstance(value, str) or not value or len(value) > 4096:
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ord(char) < 33 for char in text):
        return None
    return text


@dataclass(frozen=True, slots=True)
class Media:
    """One file of a callback: how to show it, its label, and its URL when it may be shown."""

    tag: MediaTag
    label: str
    url: str | None
    expired: bool = False
    given: bool = True
    kept: bool = False
    """True when `url` is the page's link to the archive's copy (the original expired)."""

    @property
    def playable(self) -> bool:
        """True when the page may embed it: an http(s) URL that has not expired."""
        return self.url is not None and not self.expired


def media(tag: MediaTag, label: str, value: object, *, born: datetime | float, now: float) -> Media:
    """A `Media` for `value`, expired when `born` (creation or receipt) is older than
    `MEDIA_LIFETIME` at `now`."""
    if isinstance(born, datetime):
        moment = born if born.tzinfo else born.replace(tzinfo=timezone.utc)
        born = moment.timestamp()
    return Media(
        tag=tag,
        label=label,
        url=safe_url(value),
        expired=now - born > MEDIA_LIFETIME,
        given=value not in (None, ""),
    )
