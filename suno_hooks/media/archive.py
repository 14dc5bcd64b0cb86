"""`MediaArchive`: copies every file a completed event names to a durable target, safely,
once, and says what it kept."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import httpx

from ..events import Event
from ..signals import media_failed, media_kept, task_completed
from ..stores.base import RecordsKept
from ._blocks import gathered
from .errors import KeepFailed, MediaError
from .fetch import MediaFetcher, MediaTimeouts, shown_url
from .kept import KeptFile
from .policy import KIE_MEDIA_HOSTS, MediaPolicy, Resolver
from .targets import Target, record_key, target_from
from .wanted import WantedFile, safe_name, wanted_files

__all__ = ["DEFAULT_MAX_BYTES", "MediaArchive"]

logger = logging.getLogger("suno_hooks.media")

DEFAULT_MAX_BYTES = 200 * 1024 * 1024
"""The default size cap of one file: 200 MiB."""


class _Digest:
    """Counts and hashes the bytes that pass through it, gathered into blocks."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0

    def through(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for block in gathered(chunks):
            self.sha256.update(block)
            self.size += len(block)
            yield block


class MediaArchive:
    """Keeps the files of completed events in `target` (a directory, a `file://`, `s3://`,
    `gs://` or `az://` URL, or any `Target`) under `{task_id}/{stage}/{name}`.

    Only `https` URLs on `allowed_hosts` (Kie's media hosts unless given) whose every address is
    public are fetched; `allow_http` and `allow_private` take True or host names, for a local
    server such as the sandbox. Each file is streamed, capped at `max_bytes`, tried `tries`
    times with exponential `backoff` on a 429, a 5xx or a timeout, and written atomically; an
    event's files are fetched `parallel` at a time."""

    def __init__(
        self,
        target: str | os.PathLike[str] | Target,
        *,
        allowed_hosts: Iterable[str] = KIE_MEDIA_HOSTS,
        allow_http: bool | Collection[str] = False,
        allow_private: bool | Collection[str] = False,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeouts: MediaTimeouts | None = None,
        tries: int = 4,
        backoff: float = 0.5,
        parallel: int = 3,
        client: httpx.Client | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        if max_bytes < 1 or tries < 1 or parallel < 1 or backoff < 0:
            raise ValueError(
                "max_bytes, tries and parallel must be positive and backoff not negative"
            )
        self.target = target_from(target)
        self.policy = MediaPolicy(
            allowed_hosts, allow_http=allow_http, allow_private=allow_private, resolver=resolver
        )
        self.timeouts = timeouts or MediaTimeouts()
        self.fetcher = MediaFetcher(
            self.policy, max_bytes=max_bytes, timeouts=self.timeouts, client=client
        )
        self.tries = tries
        self.backoff = backoff
        self.parallel = parallel
        self._connected: list[Any] = []

    def __repr__(self) -> str:
        return f"MediaArchive({self.target!r})"

    def close(self) -> None:
        """Disconnect from every receiver and close the HTTP connections."""
        for sender in list(self._connected):
            self.disconnect(sender)
        self.fetcher.close()

    def connect(self, receiver: Any) -> None:
        """Keep the files of every completed event `receiver` dispatches (a `Receiver`, or the
        Flask app for the Flask adapter), recording them with the event's delivery in the
        receiver's store (`Delivery.kept`). The copy runs in the handler: a file that cannot be
        kept fails the delivery, so a replay tries again and skips what was kept."""
        task_completed.connect(self._on_completed, sender=receiver, weak=False)
        self._connected.append(receiver)

    def disconnect(self, receiver: Any) -> None:
        """Stop keeping the files of `receiver`'s events."""
        task_completed.disconnect(self._on_completed, sender=receiver)
        self._connected = [sender for sender in self._connected if sender is not receiver]

    def _on_completed(self, sender: Any, *, event: Event, **extra: Any) -> None:
        self.keep(event, store=store_of(sender))

    def keep(self, event: Event, *, store: RecordsKept | None = None) -> list[KeptFile]:
        """Copy every file `event` names that is not kept yet; every file now kept, also on
        `event.kept`. With a `store` (by default the store of the one receiver connected, if
        any), a file its delivery records as kept is not fetched again, and what is kept is
        recorded there. Raise `KeepFailed` (after every other file was tried) when some could
        not be kept; each such file was announced by `media_failed`."""
        if store is None and len(self._connected) == 1:
            store = store_of(self._connected[0])
        task = safe_name(event.task_id, "task")
        stage = safe_name(event.stage, "stage")
        stored = _stored(store, event.dedupe_key)
        kept: list[KeptFile] = []
        failures: dict[str, MediaError] = {}
        missing: list[tuple[str, WantedFile]] = []
        named = wanted_files(event)
        for wanted in named:
            key = f"{task}/{stage}/{wanted.name}"
            found = stored.get(wanted.name)
            if found is None or found.key != key:
                found = self._recorded(key)
            if found is not None:
                kept.append(found)
            else:
                missing.append((key, wanted))
        for (key, wanted), outcome in zip(missing, self._keep_files(missing), strict=True):
            if isinstance(outcome, MediaError):
                failures[wanted.name] = outcome
                source = shown_url(wanted.url) if wanted.url else None
                logger.warning("media: %s not kept (%s): %s", key, source, outcome.detail)
                media_failed.send(self, event=event, name=wanted.name, url=source, error=outcome)
                continue
            kept.append(outcome)
            media_kept.send(self, event=event, kept=outcome)
        order = {wanted.name: place for place, wanted in enumerate(named)}
        kept.sort(key=lambda record: order[record.name])
        known = {record.key for record in event.kept}
        event.kept.extend(record for record in kept if record.key not in known)
        fresh = [record for record in kept if stored.get(record.name) != record]
        if store is not None and fresh:
            _record(store, event.dedupe_key, fresh)
        if failures:
            raise KeepFailed(kept, failures)
        return kept

    def _keep_files(self, missing: list[tuple[str, WantedFile]]) -> Iterator[KeptFile | MediaError]:
        """Keep each of `missing`, up to `parallel` at once; each one's record or error, in
        order."""

        def keep_one(item: tuple[str, WantedFile]) -> KeptFile | MediaError:
            try:
                return self._keep_file(*item)
            except MediaError as error:
                return error

        if self.parallel == 1 or len(missing) < 2:
            yield from map(keep_one, missing)
            return
        with ThreadPoolExecutor(min(self.parallel, len(missing)), "suno-hooks-media") as pool:
            yield from pool.map(keep_one, missing)

    def _recorded(self, key: str) -> KeptFile | None:
        data = self.target.read_record(record_key(key))
        if data is None:
            return None
        try:
            return KeptFile.from_dict(json.loads(data))
        except ValueError:
            return None

    def _keep_file(self, key: str, wanted: WantedFile) -> KeptFile:
        try:
            if wanted.content is not None:
                record = self._store(key, wanted, [wanted.content], wanted.content_type)
            else:
                record = self._fetch(key, wanted)
            self.target.write_record(record_key(key), json.dumps(record.to_dict()).encode())
        except MediaError:
            raise
        except Exception as exc:  # the target's own failure: a full disk, a refused upload …
            detail = f"the target could not keep it: {type(exc).__name__}: {str(exc)[:200]}"
            raise MediaError(detail) from exc
        return record

    def _fetch(self, key: str, wanted: WantedFile) -> KeptFile:
        assert wanted.url is not None
        deadline = time.monotonic() + self.timeouts.total
        for attempt in range(1, self.tries + 1):
            try:
                with self.fetcher.open(wanted.url, deadline) as download:
                    return self._store(key, wanted, download.chunks(), download.content_type)
            except MediaError as error:
                wait = self.backoff * 2 ** (attempt - 1)
                if error.retry_after is not None:
                    wait = max(wait, min(error.retry_after, 60.0))
                last = attempt == self.tries or time.monotonic() + wait > deadline
                if not error.retryable or last:
                    raise
                logger.info("media: %s try %d failed (%s); again", key, attempt, error.detail)
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _store(
        self, key: str, wanted: WantedFile, chunks: Iterable[bytes], content_type: str | None
    ) -> KeptFile:
        digest = _Digest()
        location = self.target.save(key, digest.through(chunks), content_type)
        return KeptFile(
            key=key,
            name=wanted.name,
            location=location,
            bytes=digest.size,
            sha256=digest.sha256.hexdigest(),
            content_type=content_type,
            kept_at=datetime.now(timezone.utc),
            source=shown_url(wanted.url) if wanted.url else None,
        )


def store_of(sender: Any) -> RecordsKept | None:
    """The store that records kept media for `sender`'s deliveries: a `Receiver`'s store, or
    the store of the Flask app's receiver; None when there is none that records them."""
    store = getattr(sender, "store", None)
    extension = getattr(sender, "extensions", {}).get("suno_hooks") if store is None else None
    if extension is not None:
        store = extension.receiver_for(sender).store
    return store if isinstance(store, RecordsKept) else None


def _stored(store: RecordsKept | None, key: str) -> dict[str, KeptFile]:
    get = getattr(store, "get", None)
    if get is None:
        return {}
    try:
        delivery = get(key)
    except Exception as exc:  # the store is down: the sidecar records still say what is kept
        logger.warning("media: the store could not be read for %s: %s", key, type(exc).__name__)
        return {}
    return {record.name: record for record in getattr(delivery, "kept", ())}


def _record(store: RecordsKept, key: str, files: list[KeptFile]) -> None:
    try:
        if not store.record_kept(key, files):
            logger.info("media: %s is not in the store; %d file(s) not recorded", key, len(files))
    except Exception as exc:  # the files and their sidecar records are kept all the same
        logger.warning("media: the store could not record %s: %s", key, type(exc).__name__)
