"""Keep the music: `MediaArchive` copies every file a completed event names (Kie deletes them
after 14 days) to a local directory, an object store or Django's storage, safely and once.

Needs the `media` extra (httpx); object stores need the `obstore` extra."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import KeepFailed, MediaError, MediaRefused, MediaTooLarge
from .kept import KeptFile
from .policy import KIE_MEDIA_HOSTS, MediaPolicy, is_public_address
from .targets import LinksFiles, LocalTarget, Target, target_from
from .wanted import WantedFile, wanted_files

if TYPE_CHECKING:
    from .archive import DEFAULT_MAX_BYTES, MediaArchive
    from .fetch import MAX_REDIRECTS, MediaTimeouts
    from .objectstore import ObjectStoreTarget

__all__ = [
    "DEFAULT_MAX_BYTES",
    "KIE_MEDIA_HOSTS",
    "MAX_REDIRECTS",
    "KeepFailed",
    "KeptFile",
    "LinksFiles",
    "LocalTarget",
    "MediaArchive",
    "MediaError",
    "MediaPolicy",
    "MediaRefused",
    "MediaTimeouts",
    "MediaTooLarge",
    "ObjectStoreTarget",
    "Target",
    "WantedFile",
    "is_public_address",
    "target_from",
    "wanted_files",
]

_NEEDS_HTTPX = {
    "DEFAULT_MAX_BYTES": "archive",
    "MediaArchive": "archive",
    "MAX_REDIRECTS": "fetch",
    "MediaTimeouts": "fetch",
    "ObjectStoreTarget": "objectstore",
}


def __getattr__(name: str) -> Any:
    # The records and the policy import without httpx or obstore (a store reads `KeptFile`);
    # the archive, its fetcher and the object store target load on first use.
    module = _NEEDS_HTTPX.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
