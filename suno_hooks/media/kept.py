"""`KeptFile`: the record of one media file copied to an archive target, JSON-ready."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["KeptFile", "shown_url"]

_FIELDS = ("key", "name", "location", "bytes", "sha256", "content_type", "source")


def shown_url(url: str) -> str:
    """`url` without its query and fragment (signed links carry tokens there), for records,
    logs and errors: what `KeptFile.source` holds."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclass(frozen=True, slots=True)
class KeptFile:
    """One file kept by a `MediaArchive`: its stable `name` within the stage, its `key` in the
    target's layout (`{task_id}/{stage}/{name}`), where it is (`location`: a path, an object URL
    or a Django storage name), its size, SHA-256, content type, the URL it was copied from
    (without its query, which may hold a token; None for inline data) and when it was kept."""

    key: str
    name: str
    location: str
    bytes: int
    sha256: str
    content_type: str | None
    kept_at: datetime
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready values (`kept_at` in ISO 8601, UTC)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in _FIELDS}
        data["kept_at"] = self.kept_at.astimezone(timezone.utc).isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Any) -> KeptFile | None:
        """The record `to_dict` wrote, or None when `data` is not one (never raises)."""
        if not isinstance(data, dict):
            return None
        texts = ("key", "name", "location", "sha256")
        if not all(isinstance(data.get(name), str) and data[name] for name in texts):
            return None
        size = data.get("bytes")
        content_type = data.get("content_type")
        source = data.get("source")
        if type(size) is not int or size < 0:
            return None
        if not isinstance(content_type, (str, type(None))) or not isinstance(
            source, (str, type(None))
        ):
            return None
        try:
            kept_at = datetime.fromisoformat(str(data.get("kept_at")))
        except ValueError:
            return None
        if kept_at.tzinfo is None:
            kept_at = kept_at.replace(tzinfo=timezone.utc)
        return cls(
            key=data["key"],
            name=data["name"],
            location=data["location"],
            bytes=size,
            sha256=data["sha256"],
            content_type=content_type,
            kept_at=kept_at,
            source=source,
        )
