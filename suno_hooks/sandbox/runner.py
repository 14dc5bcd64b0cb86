"""Runs one task: waits between stages, moves its polling record on and sends each planned
callback (genuine, duplicate, late, forged or replayed), then marks it settled."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .bodies import callback_body
from .market import market_callback
from .sender import CallbackSender
from .tasks import Task

__all__ = ["run_task"]

log = logging.getLogger("suno_hooks.sandbox")


def body_for(task: Task, stage: str) -> dict[str, Any]:
    """The callback body of `stage`, in the market shape for market tasks."""
    return market_callback(task) if task.market else callback_body(task, stage)


async def run_task(task: Task, sender: CallbackSender) -> None:
    """Perform every step of `task` in order; the task is settled even if a step fails."""
    timing = sender.timing
    task.started = True
    seen: dict[str, dict[str, str]] = {}
    try:
        await asyncio.sleep(timing.first_delay)
        for number, step in enumerate(task.steps, start=1):
            if number > 1 and step.injected is None:
                await asyncio.sleep(timing.stage_delay)
            if step.reach:
                task.reach(step.stage)
            if not step.send:
                continue
            body = body_for(task, step.stage)
            if step.injected == "forged":
                await sender.forge(task, step.stage, body, number)
            elif step.injected == "replayed":
                if step.stage in seen:  # nothing to replay when the genuine one was dropped
                    await sender.replay(task, step.stage, body, number, seen[step.stage])
            else:
                note = ", ".join(step.notes) or None
                seen[step.stage] = await sender.deliver(
                    task, step.stage, body, number, timeout_first=step.timeout_first, note=note
                )
    except Exception:
        log.exception("sandbox task %s stopped on an unexpected error", task.task_id)
    finally:
        task.settle()
