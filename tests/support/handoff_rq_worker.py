"""An `rq worker` for the hand-off tests that RQ finds dead within seconds once it is killed.

RQ keeps a running job's heartbeat for the worker's `--job-monitoring-interval` plus 60 s, so a
killed worker's job is called abandoned a minute or more after the kill. `PromptWorker` keeps the
same heartbeats with a 3-second margin: started with `--job-monitoring-interval 1`, its job
lapses about 4 s after its last beat, while a live job, beating every second, never does.
`HoldingWorker` is one that holds each fan-out job once it has started it, before it rings a key,
so that a test can kill it there.
"""

from __future__ import annotations

import os
import time

from rq import Worker
from rq.job import Job

from .handoff_ledger import LEDGER_ENV, Ledger

HEARTBEAT_MARGIN = 3
"""Seconds a running job's heartbeat outlives the worker's monitoring interval."""

PROMPT_WORKER = ["--worker-class", f"{__name__}.PromptWorker", "--job-monitoring-interval", "1"]
"""The `rq worker` options that run `PromptWorker`, beating every second."""


class PromptWorker(Worker):
    """RQ's forking worker, whose running job's heartbeat lasts the monitoring interval plus
    `HEARTBEAT_MARGIN` seconds."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """How long this heartbeat of `job` holds: until just after the next one is due."""
        return int(self.job_monitoring_interval) + HEARTBEAT_MARGIN


HOLDING_WORKER = ["--worker-class", f"{__name__}.HoldingWorker", "--job-monitoring-interval", "1"]
"""The `rq worker` options that run `HoldingWorker`, beating every second."""


class HoldingWorker(PromptWorker):
    """A `PromptWorker` whose work-horse, once a fan-out job is marked started, records the job's
    id in the ledger as `held` and waits there (up to 60 s) instead of ringing its keys."""

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        """Mark `job` started, as RQ does; then hold it if it is a fan-out."""
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        if job.func_name == "suno_hooks.contrib.rq.fan_out":
            Ledger(os.environ[LEDGER_ENV]).record(job.id, "held")
            time.sleep(60)
