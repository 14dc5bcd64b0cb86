"""Sandbox tasks: what was asked, how far each has got, every callback attempt and its answer,
and the book that keeps them (with the scenarios that apply to every task or to the next one)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .families import Family
from .scenarios import Scenario, Step

__all__ = ["SAMPLE_AUDIO_ID", "SAMPLE_TASK_ID", "Attempt", "Task", "TaskBook", "now_ms"]

SAMPLE_TASK_ID = "5c79f6d1a2b34c8e9f0a1b2c3d4e5f60"
"""The task id of a finished song every sandbox knows from the start, to derive tasks from
(WAV, video, MIDI, stems) without generating one first."""
SAMPLE_AUDIO_ID = "e3225e2d-16ec-4f5c-9dcc-16fd548631e1"
"""The audio id of the sample song's track (see `SAMPLE_TASK_ID`)."""


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


@dataclass
class Attempt:
    """One POST of a callback: which stage, which try, what the receiver answered and how fast."""

    task_id: str
    stage: str
    delivery: int
    attempt: int
    url: str
    status: int | None
    answer: Any
    latency_ms: float
    error: str | None = None
    injected: str | None = None
    note: str | None = None
    sent_at: int = field(default_factory=now_ms)

    @property
    def ok(self) -> bool:
        """True when the receiver answered 2xx in time."""
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        """The attempt as JSON for the control API."""
        return {
            "task_id": self.task_id,
            "stage": self.stage,
            "delivery": self.delivery,
            "attempt": self.attempt,
            "url": self.url,
            "status": self.status,
            "answer": self.answer,
            "latency_ms": round(self.latency_ms, 3),
            "error": self.error,
            "injected": self.injected,
            "note": self.note,
            "ok": self.ok,
            "sent_at": self.sent_at,
        }


@dataclass
class Task:
    """One created task: its request, planned steps, invented results and progress."""

    family: Family
    callback_url: str
    params: dict[str, Any]
    request: dict[str, Any]
    results: dict[str, Any]
    scenarios: tuple[Scenario, ...]
    steps: list[Step]
    failure: int | None = None
    variant: int = 0
    market: bool = False
    model: str | None = None
    task_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    record_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_ms: int = field(default_factory=now_ms)
    updated_ms: int = field(default_factory=now_ms)
    reached: list[str] = field(default_factory=list)
    started: bool = False
    last_timestamp: int = 0
    settled: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def failed(self) -> bool:
        """True once the task has reached its failure."""
        return "error" in self.reached

    @property
    def terminal_reached(self) -> bool:
        """True once the task has finished (success or failure), callbacks sent or not."""
        return "complete" in self.reached or "error" in self.reached

    def reach(self, stage: str) -> None:
        """The task has got to `stage`: polling shows it from now on."""
        if stage not in self.reached:
            self.reached.append(stage)
        self.updated_ms = now_ms()

    def settle(self) -> None:
        """Every step is done: callbacks sent (or given up) and the result final."""
        self.settled = True
        self.done.set()

    def to_dict(self, *, attempts: bool = True) -> dict[str, Any]:
        """The task as JSON for the control API."""
        data: dict[str, Any] = {
            "task_id": self.task_id,
            "feature": self.family.feature,
            "kind": self.family.kind,
            "market": self.market,
            "model": self.model,
            "callback_url": self.callback_url,
            "scenarios": [str(scenario) for scenario in self.scenarios],
            "plan": [
                {"stage": s.stage, "send": s.send, "injected": s.injected, "notes": s.notes}
                for s in self.steps
            ],
            "failure": self.failure,
            "variant": self.variant,
            "reached": list(self.reached),
            "state": "settled" if self.settled else "running" if self.started else "pending",
            "created_ms": self.created_ms,
        }
        if attempts:
            data["attempts"] = [attempt.to_dict() for attempt in self.attempts]
        return data


class TaskBook:
    """Every task of one sandbox, in creation order, and the scenarios set by the control API."""

    def __init__(self) -> None:
        self.tasks: dict[str, Task] = {}
        self.scenarios: tuple[Scenario, ...] = ()
        self.next_scenarios: tuple[Scenario, ...] = ()
        self.log: list[Attempt] = []
        self.songs: dict[str, frozenset[str]] = {SAMPLE_TASK_ID: frozenset((SAMPLE_AUDIO_ID,))}

    def has_song(self, task_id: Any, audio_id: Any = None) -> bool:
        """True when `task_id` is a music task the sandbox knows (the sample song or one it
        created) and `audio_id`, when given, is one of its tracks."""
        tracks = self.songs.get(task_id) if isinstance(task_id, str) else None
        if tracks is None:
            return False
        return audio_id is None or audio_id in tracks

    def scenarios_for_new_task(self, own: tuple[Scenario, ...]) -> tuple[Scenario, ...]:
        """The sandbox-wide scenarios, those queued for the next task (used up now), then the
        task's own."""
        queued, self.next_scenarios = self.next_scenarios, ()
        return self.scenarios + queued + own

    def add(self, task: Task) -> Task:
        """Keep a new task (a music task's tracks become sources for derived tasks)."""
        self.tasks[task.task_id] = task
        tracks = task.results.get("tracks")
        if task.family.is_music and isinstance(tracks, list):
            self.songs[task.task_id] = frozenset(str(track["id"]) for track in tracks)
        return task

    def get(self, task_id: str) -> Task | None:
        """The task with this id, if the sandbox created it."""
        return self.tasks.get(task_id)

    def record(self, task: Task, attempt: Attempt) -> None:
        """Keep one callback attempt, on its task and in the sandbox-wide log."""
        task.attempts.append(attempt)
        self.log.append(attempt)

    def attempts(self, task_id: str | None = None) -> list[Attempt]:
        """Every callback attempt, in the order they were made (of one task when given)."""
        if task_id is None:
            return list(self.log)
        return [attempt for attempt in self.log if attempt.task_id == task_id]

    def clear(self) -> None:
        """Forget every task and scenario."""
        self.tasks.clear()
        self.songs = {SAMPLE_TASK_ID: frozenset((SAMPLE_AUDIO_ID,))}
        self.log.clear()
        self.scenarios = ()
        self.next_scenarios = ()
