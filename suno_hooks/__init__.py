"""suno-hooks: receive Suno API (Kie AI) callbacks verified, typed, de-duplicated, dispatched."""

from __future__ import annotations

from . import errors, signals
from .errors import (
    ConfigurationError,
    InsecureReceiverWarning,
    SunoHooksException,
    SunoHooksWarning,
)
from .events import (
    CodeInfo,
    Event,
    LyricsVariant,
    Midi,
    MidiInstrument,
    MidiNote,
    RecoveredTrack,
    Stem,
    Stems,
    Track,
    VoiceResult,
)
from .inbound import Headers, InboundRequest
from .leases import Lease, current_lease
from .outcome import Outcome
from .receiver import Receiver
from .signals import (
    callback_received,
    callback_rejected,
    task_completed,
    task_failed,
    task_progress,
)
from .stores import Delivery, DeliveryStatus, MemoryStore, Store, store_from_url

__version__ = "0.1.0"
"""This release's version number."""

__all__ = [
    "CodeInfo",
    "ConfigurationError",
    "Delivery",
    "DeliveryStatus",
    "Event",
    "Headers",
    "InboundRequest",
    "InsecureReceiverWarning",
    "Lease",
    "LyricsVariant",
    "MemoryStore",
    "Midi",
    "MidiInstrument",
    "MidiNote",
    "Outcome",
    "Receiver",
    "RecoveredTrack",
    "Stem",
    "Stems",
    "Store",
    "SunoHooksException",
    "SunoHooksWarning",
    "Track",
    "VoiceResult",
    "__version__",
    "callback_received",
    "callback_rejected",
    "current_lease",
    "errors",
    "signals",
    "store_from_url",
    "task_completed",
    "task_failed",
    "task_progress",
]
