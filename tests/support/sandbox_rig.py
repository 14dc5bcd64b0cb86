"""The reconciler's test rig: the sandbox Suno API and a receiver, each served over real HTTP.

`PollGate` wraps the sandbox's ASGI app to count its polling requests per task (and keep the
time each arrived) and, when told, answer a task's next polls with an error status before the
sandbox sees them (a rate limit or a 5xx from the API side).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from suno_hooks import Event, Receiver, callback_received
from suno_hooks.asgi import asgi_app
from suno_hooks.client import SunoClient
from suno_hooks.sandbox import Sandbox, Timing
from suno_hooks.sandbox.tasks import SAMPLE_AUDIO_ID, SAMPLE_TASK_ID

from .kie_stub import serving

API_KEY = "sandbox-api-key"
HMAC_KEY = "whk_sandbox_rig"
SECRET = "rig-secret"
POLL_MARKERS = ("record-info", "recordInfo", "validate-info")

# A create request per feature, as Kie documents the required fields (spec §3–§4).
CREATES: dict[str, dict[str, Any]] = {
    "generate": {"prompt": "a calm song", "customMode": False, "instrumental": False,
                 "model": "V4"},
    "extend": {"defaultParamFlag": False, "audioId": "a1", "model": "V4"},
    "upload_cover": {"uploadUrl": "https://f.example/u.mp3", "prompt": "p", "customMode": False,
                     "instrumental": True, "model": "V4"},
    "upload_extend": {"uploadUrl": "https://f.example/u.mp3", "defaultParamFlag": False,
                      "instrumental": True, "continueAt": 10, "model": "V4"},
    "add_instrumental": {"uploadUrl": "https://f.example/u.mp3", "title": "t", "negativeTags": "n",
                         "tags": "jazz"},
    "add_vocals": {"prompt": "p", "title": "t", "negativeTags": "n", "style": "pop",
                   "uploadUrl": "https://f.example/u.mp3"},
    "mashup": {"uploadUrlList": ["https://f.example/1.mp3", "https://f.example/2.mp3"],
               "customMode": False, "model": "V4"},
    "replace_section": {"taskId": "src", "audioId": "a1", "prompt": "p", "tags": "t", "title": "x",
                        "infillStartS": 10.5, "infillEndS": 20.75, "fullLyrics": "la"},
    "lyrics": {"prompt": "a song about rain"},
    "wav": {"taskId": SAMPLE_TASK_ID, "audioId": SAMPLE_AUDIO_ID},
    "stems": {"taskId": SAMPLE_TASK_ID, "audioId": SAMPLE_AUDIO_ID},
    "midi": {"taskId": SAMPLE_TASK_ID},
    "video": {"taskId": SAMPLE_TASK_ID, "audioId": SAMPLE_AUDIO_ID},
    "cover_image": {"taskId": "src"},
    "ai-music-api/replace-section": {"task_id": "src", "audio_id": "a1", "prompt": "p", "tags": "t",
                                     "title": "x", "infill_start_s": 10.5, "infill_end_s": 20.75,
                                     "full_lyrics": "la"},
    "ai-music-api/generate-lyrics": {"prompt": "rain"},
}  # fmt: skip


class PollGate:
    """Counts the sandbox's polling requests by task id, with the time (`time.time()`) each
    arrived; `fail(task_id, *statuses)` answers that task's next polls with those HTTP statuses
    (Kie's error body) instead."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.polls: Counter[str] = Counter()
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, deque[int]] = defaultdict(deque)

    def fail(self, task_id: str, *statuses: int) -> None:
        self.failures[task_id].extend(statuses)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and any(marker in path for marker in POLL_MARKERS):
            query = parse_qs(scope.get("query_string", b"").decode())
            task_id = (query.get("taskId") or [""])[0]
            self.polls[task_id] += 1
            self.times[task_id].append(time.time())
            if self.failures.get(task_id):
                status = self.failures[task_id].popleft()
                body = json.dumps({"code": status, "msg": "the rig refused this poll"}).encode()
                headers = [(b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


@dataclass
class Rig:
    """A running sandbox (behind its `PollGate`) and receiver, with a client wired to both."""

    sandbox: Sandbox
    gate: PollGate
    sandbox_url: str
    receiver: Receiver
    callback_url: str
    events: list[Event] = field(default_factory=list)

    def client(self, **options: Any) -> SunoClient:
        """A client of the sandbox that fills callback URLs and records expected tasks."""
        options.setdefault("backoff", 0.01)
        return SunoClient(
            API_KEY,
            base_url=self.sandbox_url,
            receiver=self.receiver,
            callback_base=self.callback_url,
            **options,
        )

    def terminal(self, task_id: str) -> list[Event]:
        """The terminal events dispatched for a task (by callback or poll)."""
        return [e for e in self.events if e.task_id == task_id and e.is_terminal]


@pytest.fixture
def rig_timing() -> Timing:
    """The sandbox's timing for the rig (override in a test module)."""
    return Timing.fast()


@pytest.fixture
def make_rig(rig_timing: Timing) -> Iterator[Any]:
    """Builds a `Rig` around a receiver (its store decides where expected tasks live)."""
    with ExitStack() as stack:

        def build(receiver: Receiver) -> Rig:
            sandbox = Sandbox(hmac_key=HMAC_KEY, api_key=API_KEY, timing=rig_timing)
            gate = PollGate(sandbox.app)
            sandbox_url = stack.enter_context(serving(gate))
            receiver_url = stack.enter_context(serving(asgi_app(receiver)))
            rig = Rig(sandbox, gate, sandbox_url, receiver, f"{receiver_url}/suno/callback")

            def record(sender: Any, event: Event, **extra: Any) -> None:
                rig.events.append(event)

            stack.enter_context(callback_received.connected_to(record))
            return rig

        yield build


def rig_receiver(store: Any) -> Receiver:
    """A receiver that checks the sandbox's signatures and signs callback URLs."""
    return Receiver(hmac_keys=[HMAC_KEY], secret_key=SECRET, store=store)


def run_two_reconcilers(store_url: str, sandbox_url: str, *options: str) -> list[dict[str, Any]]:
    """Two `tests.support.reconcile_worker` processes over one store and sandbox, started
    together once both are ready; the summary each printed last."""
    command = [
        sys.executable,
        "-m",
        "tests.support.reconcile_worker",
        store_url,
        sandbox_url,
        *options,
    ]
    root = Path(__file__).parents[2]
    workers = [
        subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    return [json.loads(worker.communicate(timeout=120)[0].splitlines()[-1]) for worker in workers]
