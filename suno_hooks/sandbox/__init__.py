"""A local, Kie-compatible Suno API that sends real callbacks, so an integration can be tried
end to end without credits or a public URL.

Create endpoints of every family that calls back and `jobs/createTask`, the polling endpoints,
callbacks in stage order signed with Kie's headers and retried like Kie, scenarios (drop,
duplicate, reorder, timeout, fail, market, variant, forge, replay) and a control API. Needs the
`sandbox` extra (Starlette, uvicorn, httpx)."""

from __future__ import annotations

from .app import Sandbox
from .families import FAMILIES, MARKET_MODELS, Family
from .handle import SandboxError, SandboxHandle, serve_asgi, serve_sandbox
from .scenarios import SCENARIOS, Scenario
from .sender import kie_signature
from .tasks import SAMPLE_AUDIO_ID, SAMPLE_TASK_ID
from .timing import Timing
from .validation import SpanRule

__all__ = [
    "FAMILIES",
    "MARKET_MODELS",
    "SAMPLE_AUDIO_ID",
    "SAMPLE_TASK_ID",
    "SCENARIOS",
    "Family",
    "Sandbox",
    "SandboxError",
    "SandboxHandle",
    "Scenario",
    "SpanRule",
    "Timing",
    "kie_signature",
    "serve_asgi",
    "serve_sandbox",
]
