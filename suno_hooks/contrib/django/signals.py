"""Django signals with the core's names, sent by the views for every callback.

The sender is the `Receiver` that handled the callback. Connect sync or async functions with
`@receiver(task_completed)`; async views send with `asend`, so async receivers are awaited and
sync ones run in a worker thread (safe for the ORM).
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = [
    "callback_received",
    "callback_rejected",
    "media_failed",
    "media_kept",
    "task_completed",
    "task_failed",
    "task_progress",
]

callback_received = Signal(use_caching=True)
"""Every accepted, non-duplicate callback, before the stage signal. Kwargs: `event` (Event)."""

task_progress = Signal(use_caching=True)
"""A `text` or `first` stage arrived. Kwargs: `event` (Event, status `"progress"`)."""

task_completed = Signal(use_caching=True)
"""A task finished successfully. Kwargs: `event` (Event, status `"completed"`)."""

task_failed = Signal(use_caching=True)
"""A task failed (code ≠ 200 or stage `"error"`). Kwargs: `event` (Event, status `"failed"`)."""

callback_rejected = Signal(use_caching=True)
"""A request was refused, for monitoring. Kwargs: `error` (code such as `"invalid_signature"`),
`status` (HTTP status), `detail` (one sentence), `peer` (address or None)."""

media_kept = Signal(use_caching=True)
"""A `MediaArchive` kept one file; the sender is the archive. Kwargs: `event` (Event), `kept`
(KeptFile)."""

media_failed = Signal(use_caching=True)
"""A `MediaArchive` gave up on one file after its last try; the sender is the archive. Kwargs:
`event` (Event), `name`, `url` (without its query), `error` (MediaError)."""
