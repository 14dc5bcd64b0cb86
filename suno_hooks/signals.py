"""Blinker signals sent for every callback; Flask's own signal library.

Each signal is sent with the `Receiver` as sender (the Flask adapter sends the app, so
`task_completed.connect_via(app)` works). Receivers take `(sender, **kwargs)`; async receivers
are awaited on the ASGI path.
"""

from __future__ import annotations

from blinker import Namespace

__all__ = [
    "callback_received",
    "callback_rejected",
    "media_failed",
    "media_kept",
    "task_completed",
    "task_failed",
    "task_progress",
]

_signals = Namespace()

callback_received = _signals.signal(
    "suno-hooks.callback-received",
    doc="Every accepted, non-duplicate callback, before the stage signal. Kwargs: `event` (Event).",
)
task_progress = _signals.signal(
    "suno-hooks.task-progress",
    doc="A `text` or `first` stage arrived. Kwargs: `event` (Event, status 'progress').",
)
task_completed = _signals.signal(
    "suno-hooks.task-completed",
    doc="A task finished successfully. Kwargs: `event` (Event, status 'completed').",
)
task_failed = _signals.signal(
    "suno-hooks.task-failed",
    doc="A task failed (code ≠ 200 or stage 'error'). Kwargs: `event` (Event, status 'failed').",
)
callback_rejected = _signals.signal(
    "suno-hooks.callback-rejected",
    doc=(
        "A request was refused, for monitoring. Kwargs: `error` (code such as "
        "'invalid_signature'), `status` (HTTP status), `detail`, `peer` (address or None)."
    ),
)
media_kept = _signals.signal(
    "suno-hooks.media-kept",
    doc=(
        "A `MediaArchive` kept one file of an event; sent with the archive as sender. Kwargs: "
        "`event` (Event), `kept` (KeptFile)."
    ),
)
media_failed = _signals.signal(
    "suno-hooks.media-failed",
    doc=(
        "A `MediaArchive` gave up on one file after its last try; sent with the archive as "
        "sender. Kwargs: `event` (Event), `name` (the file's name), `url` (without its query, "
        "None for inline data), `error` (MediaError)."
    ),
)
