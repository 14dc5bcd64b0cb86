"""`Bell`: a hand-off that keeps its rings for the test to run in this process."""

from __future__ import annotations

from suno_hooks.handoff import HandoffError, QueuedRunner


class Bell:
    """A hand-off that keeps each ring for the test to run (in this process), and fails its
    rings while `down` is set, as a broker that is down does."""

    def __init__(self, *, out_of_process: bool = False) -> None:
        self.out_of_process = out_of_process
        self.rings: list[str] = []
        self.down = False
        self.bound: list[QueuedRunner] = []

    def bind(self, receiver: QueuedRunner) -> None:
        self.bound.append(receiver)

    def ring(self, key: str) -> None:
        if self.down:
            raise HandoffError("the broker is down")
        self.rings.append(key)
