"""The media archive in a Django project: `DjangoStorageTarget` keeps files in a `Storage`
(`default_storage` unless told), `get_archive()` builds the archive `SUNO_HOOKS["MEDIA"]`
describes, and the archive's signals are also sent as Django signals."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage, storages

from ... import signals as core_signals
from . import signals
from .conf import SETTING, hooks_settings

if TYPE_CHECKING:
    from ...media import MediaArchive, Target

__all__ = [
    "DjangoStorageTarget",
    "forward_media_signals",
    "get_archive",
    "media_settings",
    "register_media",
]

DEFAULT_PREFIX = "suno"
"""Where kept files go in the storage unless `SUNO_HOOKS["MEDIA"]["PREFIX"]` says otherwise."""
_SPOOL = 1024 * 1024


class DjangoStorageTarget:
    """A Django `Storage` (`default_storage` when None): each file is downloaded whole to a
    temporary file first, then handed to `storage.save`, and the name it returns is the file's
    location (a storage may change the name to avoid overwriting)."""

    def __init__(self, storage: Storage | None = None, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.storage = storage if storage is not None else default_storage
        self.prefix = prefix.strip("/")

    def __repr__(self) -> str:
        return f"DjangoStorageTarget({type(self.storage).__name__}, prefix={self.prefix!r})"

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def save(self, key: str, chunks: Iterable[bytes], content_type: str | None) -> str:
        """Download into a temporary file, then `storage.save`; the name the storage chose."""
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as temporary:
            for chunk in chunks:
                temporary.write(chunk)
            temporary.seek(0)
            name = self._name(key)
            return self.storage.save(name, File(temporary, name=name.rpartition("/")[2]))

    def link(self, key: str, location: str, expires: float) -> str | None:
        """The storage's URL of the file (`storage.url`; signed by storages that sign, such as
        S3's), or None when the storage has none."""
        try:
            return str(self.storage.url(location))
        except Exception:
            return None

    def read_record(self, key: str) -> bytes | None:
        """The record under `key`, or None when the storage has none."""
        name = self._name(key)
        try:
            if not self.storage.exists(name):
                return None
            with self.storage.open(name, "rb") as file:
                data = file.read()
        except OSError:
            return None
        return data if isinstance(data, bytes) else str(data).encode()

    def write_record(self, key: str, data: bytes) -> None:
        """Replace the record under `key` (deleted first, so the storage keeps its name)."""
        name = self._name(key)
        with contextlib.suppress(OSError):
            self.storage.delete(name)
        self.storage.save(name, ContentFile(data))


def media_settings() -> Mapping[str, Any]:
    """`SUNO_HOOKS["MEDIA"]`, or an empty dict when it is not set."""
    media = hooks_settings().get("MEDIA") or {}
    return media if isinstance(media, Mapping) else {}


def target_from_settings(config: Mapping[str, Any]) -> Target:
    """The target `config` (a `SUNO_HOOKS["MEDIA"]` dict) names: Django's storage (`STORAGE`,
    an alias of `STORAGES`, `default` unless given) when `TARGET` is missing or `"django"`, else
    a directory or an object store URL."""
    from ...media import target_from

    target = config.get("TARGET", "django")
    if target == "django":
        alias = config.get("STORAGE", "default")
        return DjangoStorageTarget(storages[alias], prefix=config.get("PREFIX", DEFAULT_PREFIX))
    return target_from(target)


@lru_cache(maxsize=1)
def get_archive() -> MediaArchive:
    """The project's `MediaArchive`, built once from `SUNO_HOOKS["MEDIA"]` (`TARGET`,
    `STORAGE`, `PREFIX`, `ALLOWED_HOSTS`, `ALLOW_HTTP`, `ALLOW_PRIVATE`, `MAX_BYTES`)."""
    from ...media import MediaArchive

    config = media_settings()
    options = {
        keyword: config[name]
        for name, keyword in (
            ("ALLOWED_HOSTS", "allowed_hosts"),
            ("ALLOW_HTTP", "allow_http"),
            ("ALLOW_PRIVATE", "allow_private"),
            ("MAX_BYTES", "max_bytes"),
        )
        if name in config
    }
    return MediaArchive(target_from_settings(config), **options)


def _forward_kept(sender: Any, **kwargs: Any) -> None:
    signals.media_kept.send(sender=sender, **kwargs)


def _forward_failed(sender: Any, **kwargs: Any) -> None:
    signals.media_failed.send(sender=sender, **kwargs)


def forward_media_signals() -> None:
    """Send the archive's `media_kept` and `media_failed` as Django signals too (once)."""
    core_signals.media_kept.connect(_forward_kept, weak=False)
    core_signals.media_failed.connect(_forward_failed, weak=False)


def forget_archive(*, setting: str, **kwargs: Any) -> None:
    """Forget the cached archive when `SUNO_HOOKS` changes (in tests)."""
    if setting == SETTING:
        get_archive.cache_clear()


def register_media() -> None:
    """At app start: the `SUNO_HOOKS["MEDIA"]` checks, the Django media signals, and a fresh
    archive when the setting changes."""
    from django.core import checks
    from django.core.signals import setting_changed

    from .media_checks import check_media

    checks.register(check_media, "suno_hooks")
    forward_media_signals()
    setting_changed.connect(forget_archive, dispatch_uid="suno_hooks.forget_archive")
