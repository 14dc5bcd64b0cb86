"""`ObjectStoreTarget`: kept files in S3, Google Cloud Storage or Azure Blob Storage through
obstore (the `obstore` extra); each file is one multipart upload that appears whole or not at
all."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ..errors import missing_extra

if TYPE_CHECKING:
    from obstore.store import ObjectStore

__all__ = ["ObjectStoreTarget"]

_PART = 8 * 1024 * 1024


def _obstore() -> Any:
    try:
        import obstore
    except ImportError:
        raise ImportError(missing_extra("obstore", "obstore", "An object store target")) from None
    return obstore


class ObjectStoreTarget:
    """An obstore store (`S3Store`, `GCSStore`, `AzureStore` …) with an optional key `prefix`;
    `url` is how its locations are written (`s3://bucket/prefix`)."""

    def __init__(self, store: ObjectStore, *, url: str, prefix: str = "") -> None:
        self.store = store
        self.url = url.rstrip("/")
        self.prefix = prefix.strip("/")

    def __repr__(self) -> str:
        return f"ObjectStoreTarget({self.url!r})"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> ObjectStoreTarget:
        """A target for `s3://bucket/prefix` (also `gs://`, `az://`); `options` go to obstore's
        `from_url` (credentials, region, endpoint …), otherwise read from the environment as
        obstore does."""
        obstore = _obstore()
        parts = urlsplit(url)
        bucket = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        store = obstore.store.from_url(bucket, **options)
        shown = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        return cls(store, url=shown, prefix=unquote(parts.path))

    def _path(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def save(self, key: str, chunks: Iterable[bytes], content_type: str | None) -> str:
        """Upload the chunks as one object (multipart); its URL."""
        attributes = {"Content-Type": content_type} if content_type else None
        _obstore().put(
            self.store,
            self._path(key),
            iter(chunks),
            attributes=attributes,
            use_multipart=True,
            chunk_size=_PART,
            max_concurrency=2,
        )
        return f"{self.url}/{key}"

    def link(self, key: str, location: str, expires: float) -> str | None:
        """A presigned GET URL of the object under `key`, valid for `expires` seconds (None
        when the store cannot sign, such as one with no credentials to sign with)."""
        try:
            url = _obstore().sign(self.store, "GET", self._path(key), timedelta(seconds=expires))
        except Exception:
            return None
        return str(url)

    def read_record(self, key: str) -> bytes | None:
        """The record object under `key`, or None when there is none."""
        obstore = _obstore()
        try:
            return bytes(obstore.get(self.store, self._path(key)).bytes())
        except FileNotFoundError:
            return None

    def write_record(self, key: str, data: bytes) -> None:
        """Put the record object under `key`."""
        _obstore().put(self.store, self._path(key), data, use_multipart=False)
