"""Scenarios: what the sandbox does differently for a task (drop, duplicate, reorder, time out,
fail, market shape, doc variant, forge, replay), parsed from `name[:arg][@stage]` strings and
turned into the ordered steps the task runner performs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .families import Family
from .validation import CreateError

MEDIA_MODES = ("missing", "slow", "expired")
"""The arguments of the `media` scenario."""

__all__ = [
    "MEDIA_MODES",
    "SCENARIOS",
    "Scenario",
    "Step",
    "failure_code",
    "parse_scenarios",
    "plan_steps",
]

SCENARIOS: dict[str, str] = {
    "drop": "the stage's callback is never sent; only polling shows it",
    "duplicate": "the stage's callback is delivered twice",
    "reorder": "the `first` callback arrives after `complete`",
    "timeout": "the sender gives up waiting on the first try and sends again",
    "fail": "the task fails with the documented code given as argument (`fail:531`)",
    "market": "callbacks and polling use the market shape (`jobs/createTask`)",
    "variant": "the documented alternate spelling of the family's body (`variant:2` the next)",
    "forge": "an extra copy with a forged signature arrives before the stage's callback",
    "replay": "an extra copy with the stage's signature and another body arrives after it",
    "media": "the task's files answer 404 (`media:missing`), a 403 expired-link answer "
    "(`media:expired`) or trickle in (`media:slow`)",
}
"""Every scenario by name, with what it does to a task's callbacks."""

_STAGE_SCENARIOS = ("drop", "duplicate", "timeout", "forge", "replay")


@dataclass(frozen=True)
class Scenario:
    """One scenario: its name, optional argument and the stage it targets (None: terminal)."""

    name: str
    arg: str | None = None
    stage: str | None = None

    def __str__(self) -> str:
        text = self.name + (f":{self.arg}" if self.arg else "")
        return text + (f"@{self.stage}" if self.stage else "")

    @classmethod
    def parse(cls, text: str) -> Scenario:
        """`"duplicate@first"`, `"fail:531"`, `"variant:2"` …; raise `CreateError` (422)."""
        head, _, stage = text.strip().partition("@")
        name, _, arg = head.partition(":")
        name = name.strip().lower()
        if name not in SCENARIOS:
            raise CreateError(
                422, f"Unknown sandbox scenario {name[:40]!r}; one of {', '.join(SCENARIOS)}."
            )
        if stage and name not in _STAGE_SCENARIOS:
            raise CreateError(422, f"The {name} scenario takes no @stage.")
        if name == "media":
            if arg.strip().lower() not in MEDIA_MODES:
                raise CreateError(422, f"The media scenario takes one of {', '.join(MEDIA_MODES)}.")
            return cls(name, arg.strip().lower(), stage.strip().lower() or None)
        if arg and not arg.strip().isdigit():
            raise CreateError(422, f"The {name} scenario's argument must be a number.")
        return cls(name, arg.strip() or None, stage.strip().lower() or None)


def parse_scenarios(value: Any) -> tuple[Scenario, ...]:
    """Scenarios from a create request's `sandbox` field or the control API: a list of strings
    or one comma-separated string; raise `CreateError` (422) on anything else."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CreateError(422, "sandbox must be a list of scenario names.")
    if len(value) > 20:
        raise CreateError(422, "sandbox takes at most 20 scenarios.")
    return tuple(Scenario.parse(item) for item in value)


@dataclass
class Step:
    """One thing the runner does for a task, in order: reach a stage (the polling record moves
    on) and/or send that stage's callback (maybe a forged or replayed extra copy)."""

    stage: str
    reach: bool = True
    send: bool = True
    injected: str | None = None
    timeout_first: bool = False
    notes: list[str] = field(default_factory=list)


def failure_code(family: Family, scenarios: Iterable[Scenario]) -> int | None:
    """The code the task fails with (`fail` scenario), checked against the family's table."""
    for scenario in scenarios:
        if scenario.name == "fail":
            code = int(scenario.arg) if scenario.arg else family.default_failure
            if code not in family.failure_codes:
                codes = ", ".join(str(c) for c in family.failure_codes)
                raise CreateError(
                    422, f"{family.feature} callbacks document the failure codes {codes}."
                )
            return code
    return None


def plan_steps(
    family: Family, scenarios: tuple[Scenario, ...], failing: bool, *, market: bool = False
) -> list[Step]:
    """The ordered steps for a task of `family` under `scenarios` (a market task sends one
    terminal callback); raise `CreateError` (422) when a scenario does not fit (e.g. `reorder`
    without a `first` stage)."""
    stages = ("error",) if failing else ("complete",) if market else family.stages
    steps = [Step(stage) for stage in stages]
    if any(scenario.name == "reorder" for scenario in scenarios):
        steps = _reorder(steps)
    for scenario in scenarios:
        if scenario.name in _STAGE_SCENARIOS:
            steps = _apply(steps, scenario, stages)
    return steps


def _reorder(steps: list[Step]) -> list[Step]:
    index = next((i for i, step in enumerate(steps) if step.stage == "first"), None)
    if index is None:
        raise CreateError(422, "The reorder scenario needs a family with a first stage.")
    late = replace(steps[index], reach=False, notes=["late"])
    steps[index] = replace(steps[index], send=False)
    return [*steps, late]


def _targets(scenario: Scenario, stages: tuple[str, ...]) -> tuple[str, ...]:
    if scenario.stage in (None, ""):
        return (stages[-1],)
    if scenario.stage == "all":
        return stages
    if scenario.stage not in stages:
        raise CreateError(
            422, f"{scenario} targets a stage this task does not send ({', '.join(stages)})."
        )
    return (scenario.stage,)


def _apply(steps: list[Step], scenario: Scenario, stages: tuple[str, ...]) -> list[Step]:
    targets = _targets(scenario, stages)
    result: list[Step] = []
    for step in steps:
        genuine = (
            step.injected is None
            and step.send
            and "duplicate" not in step.notes
            and step.stage in targets
        )
        if not genuine:
            result.append(step)
        elif scenario.name == "drop":
            result.append(replace(step, send=False))
        elif scenario.name == "timeout":
            result.append(replace(step, timeout_first=True))
        elif scenario.name == "forge":
            result += [Step(step.stage, reach=False, injected="forged"), step]
        elif scenario.name == "replay":
            result += [step, Step(step.stage, reach=False, injected="replayed")]
        else:
            result += [step, Step(step.stage, reach=False, notes=["duplicate"])]
    return result
