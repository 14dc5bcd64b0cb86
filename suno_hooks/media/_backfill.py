"""Backfilling the archive from an inbox: the completed deliveries received since a moment,
each event rebuilt from its stored body, its files kept and recorded with the delivery."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .._callbacks.stored import event_of
from ..signals import media_kept
from ..stores.base import Delivery, DeliveryStatus, RecordsKept
from .archive import MediaArchive
from .errors import KeepFailed
from .kept import KeptFile

__all__ = ["Backfill", "deliveries_to_keep"]

_PAGE = 200


def deliveries_to_keep(store: Any, *, since: float, missing: bool) -> Iterator[Delivery]:
    """The deliveries of a task's last stage received at or after `since`, newest first, that
    no handler is working on (none `processing`); with `missing`, only those with nothing kept
    yet."""
    offset = 0
    while True:
        page: list[Delivery] = store.deliveries(limit=_PAGE, offset=offset)
        for delivery in page:
            if delivery.received_at < since:
                return
            busy = delivery.status is DeliveryStatus.PROCESSING
            if busy or not delivery.terminal or (missing and delivery.kept):
                continue
            yield delivery
        if len(page) < _PAGE:
            return
        offset += _PAGE


@dataclass
class Backfill:
    """Keeps the files of stored deliveries with `archive`, recording them in `store`, and
    counts: the completed deliveries, files copied now (`kept`), found kept (`already`), and
    those that failed."""

    archive: MediaArchive
    store: RecordsKept
    deliveries: int = 0
    kept: int = 0
    already: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    """`{task_id}/{stage}/{name}` of each file that could not be kept, with the reason."""

    def keep(self, delivery: Delivery) -> None:
        """Keep the files of `delivery`'s event when it completed; a body that no longer parses,
        or an event that is not a completed one, is passed over."""
        try:
            event = event_of(delivery)
        except Exception:
            return
        if not (event.ok and event.is_terminal):
            return
        self.deliveries += 1
        copied: list[KeptFile] = []

        def on_kept(sender: Any, *, kept: KeptFile, **extra: Any) -> None:
            copied.append(kept)

        with media_kept.connected_to(on_kept, sender=self.archive):
            try:
                kept = self.archive.keep(event, store=self.store)
            except KeepFailed as failure:
                kept = failure.kept
                for name, error in failure.failures.items():
                    self.failed[f"{event.task_id}/{event.stage}/{name}"] = error.detail
        self.kept += len(copied)
        self.already += len(kept) - len(copied)
