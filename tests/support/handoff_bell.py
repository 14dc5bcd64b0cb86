"""`Bell`: a hand-off that keeps its rings for the test to run in this process; `BatchBell`, one
that takes them in batches too."""

from __future__ import annotations

from collections.abc import Sequence

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


class BatchBell(Bell):
    """A `Bell` that also takes batches (`ring_many`), keeping each batch; `refuse` names keys
    it reports unsent, and `error`, when set, is raised for the whole batch."""

    def __init__(self, *, out_of_process: bool = False) -> None:
        super().__init__(out_of_process=out_of_process)
        self.batches: list[list[str]] = []
        self.refuse: set[str] = set()
        self.error: Exception | None = None

    def ring_many(self, keys: Sequence[str]) -> dict[str, HandoffError]:
        if self.error is not None:
            raise self.error
        self.batches.append(list(keys))
        self.rings += [key for key in keys if key not in self.refuse]
        return {key: HandoffError(f"{key} was refused") for key in keys if key in self.refuse}
