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
"""Sent for every accepted, non-duplicate callback, before the stage's own signal; kwargs:
`event` (the `Event`)."""
task_progress = _signals.signal(
    "suno-hooks.task-progress",
    doc="A `text` or `first` stage arrived. Kwargs: `event` (Event, status 'progress').",
)
"""Sent when a `text` or `first` stage arrives; kwargs: `event` (status `"progress"`)."""
task_completed = _signals.signal(
    "suno-hooks.task-completed",
    doc="A task finished successfully. Kwargs: `event` (Event, status 'completed').",
)
"""Sent when a task finished successfully; kwargs: `event` (status `"completed"`)."""
task_failed = _signals.signal(
    "suno-hooks.task-failed",
    doc="A task failed (code ≠ 200 or stage 'error'). Kwargs: `event` (Event, status 'failed').",
)
"""Sent when a task failed (a code other than 200, or the `error` stage); kwargs: `event`
(status `"failed"`)."""
callback_rejected = _signals.signal(
    "suno-hooks.callback-rejected",
    doc=(
        "A request was refused, for monitoring. Kwargs: `error` (code such as "
        "'invalid_signature'), `status` (HTTP status), `detail`, `peer` (address or None)."
    ),
)
"""Sent when a request is refused, for monitoring; kwargs: `error` (a code such as
`"invalid_signature"`), `status` (the HTTP status), `detail` and `peer` (an address or None)."""
media_kept = _signals.signal(
    "suno-hooks.media-kept",
    doc=(
        "A `MediaArchive` kept one file of an event; sent with the archive as sender. Kwargs: "
        "`event` (Event), `kept` (KeptFile)."
    ),
)
"""Sent when a `MediaArchive` kept one file of an event, with the archive as sender; kwargs:
`event` (the Event) and `kept` (the KeptFile)."""
media_failed = _signals.signal(
    "suno-hooks.media-failed",
    doc=(
        "A `MediaArchive` gave up on one file after its last try; sent with the archive as "
        "sender. Kwargs: `event` (Event), `name` (the file's name), `url` (without its query, "
        "None for inline data), `error` (MediaError)."
    ),
)
"""Sent when a `MediaArchive` gave up on one file after its last try, with the archive as sender;
kwargs: `event`, `name` (the file's name), `url` (without its query; None for inline data) and
`error` (the MediaError)."""
