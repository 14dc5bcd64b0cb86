"""`RQHandoff` sends a batch of two keys or more as one fan-out job, which a real `rq worker` on a
real redis-server turns into each key's own job, with the rule of one live job per key; a lone
key is queued directly, and a fan-out lost with its worker leaves its deliveries to the sweeper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue, Retry
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from suno_hooks.contrib.rq import RQHandoff, fan_out, job_id
from suno_hooks.stores import DeliveryStatus

from ..support.handoff_e2e import (
    all_done,
    counts,
    kept_statuses,
    record_queued,
    ring_failure_logged,
    site_env,
    sweep_until_done,
    sweeper,
    worker,
)
from ..support.handoff_ledger import Ledger
from ..support.handoff_rq_worker import HOLDING_WORKER, PROMPT_WORKER
from ..support.services import RedisServer
from .test_rq import QUEUE, RECEIVER_PATH, handoff_on, run_burst

FAN_OUT = "suno_hooks.contrib.rq.fan_out"


def test_a_batch_is_one_job_at_the_front_that_a_worker_turns_into_each_key_s_own(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    handoff = handoff_on(broker)
    handoff.ring("waiting")
    keys = [f"fan-{n}" for n in range(40)]
    assert handoff.ring_many(keys + keys[:5]) == {}  # a key twice in one batch is rung once
    first, waiting = handoff.queue.jobs
    assert (first.func_name, list(first.args[0])) == (FAN_OUT, keys)
    assert waiting.id == job_id("waiting")
    assert all(handoff.queue.fetch_job(job_id(key)) is None for key in keys)
    run_burst(broker, ledger, tmp_path / "worker.log")
    assert ledger.phases("done") == dict.fromkeys(["waiting", *keys], 1)
    assert ledger.order("started") == ["waiting", *keys]  # queued behind it, in batch order
    for key in keys:
        job = handoff.queue.fetch_job(job_id(key))
        assert job is not None and job.get_status() == JobStatus.FINISHED
        assert list(job.args) == [key, RECEIVER_PATH]
    assert handoff.queue.fetch_job(first.id) is None  # gone once it has run


def test_a_lone_key_is_queued_directly(broker: RedisServer) -> None:
    handoff = handoff_on(broker)
    assert handoff.ring_many(["lone", "lone"]) == {}  # one key, however often it is named
    handoff.ring("rung")
    assert handoff.queue.job_ids == [job_id("lone"), job_id("rung")]


def test_a_fan_out_sent_again_runs_no_delivery_twice(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'site.db'}"
    env = site_env("rq", broker, ledger, store, SITE_HANDLER_SECONDS="0")
    keys = record_queued(store, [f"fan-again-{n}" for n in range(6)])
    log = tmp_path / "worker.log"
    with sweeper("rq", broker, store) as receiver:
        handoff: Any = receiver.handoff
        queue = handoff.queue
        assert handoff.ring_many(keys) == {}
        assert handoff.ring_many(keys) == {}
        assert len(queue.job_ids) == 1  # sent again while it waits: the same job
        worker("rq", env, log, "--burst").start().finish("done, quitting")
        assert all_done(receiver, keys)
        ended = {key: queue.fetch_job(job_id(key)).ended_at for key in keys}
        # Sent again after it ran: each key's job runs again, and finds its delivery done.
        assert handoff.ring_many(keys) == {}
        worker("rq", env, log, "--burst").start().finish("done, quitting")
        assert all(queue.fetch_job(job_id(key)).ended_at > ended[key] for key in keys)
    assert counts(ledger, keys) == {"sent": 6, "run once": 6, "doubled": 0, "lost": 0}


def test_a_fan_out_whose_worker_is_killed_before_it_rang_leaves_the_deliveries_to_the_sweeper(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'site.db'}"
    env = site_env("rq", broker, ledger, store, SITE_HANDLER_SECONDS="0")
    keys = record_queued(store, [f"fan-killed-{n}" for n in range(5)])
    log = tmp_path / "worker.log"
    with sweeper("rq", broker, store) as receiver:
        handoff: Any = receiver.handoff
        queue = handoff.queue
        assert handoff.ring_many(keys) == {}
        (fanned,) = queue.job_ids
        first = worker("rq", env, log, *HOLDING_WORKER).start()
        ledger.wait_for("held", [fanned])
        first.kill()  # the worker and its work-horse, the fan-out started but no key rung
        # A worker that saw its work horse die first has failed the job at once.
        assert queue.fetch_job(fanned).get_status(refresh=True) in (
            JobStatus.STARTED,
            JobStatus.FAILED,
        )
        assert all(queue.fetch_job(job_id(key)) is None for key in keys)
        assert kept_statuses(receiver, keys) == {DeliveryStatus.QUEUED}
        second = worker("rq", env, log, *PROMPT_WORKER).start()
        try:
            sweep_until_done(receiver, keys, older_than=1, timeout=60, max_rings=100)
        finally:
            second.stop()
    assert counts(ledger, keys) == {"sent": 5, "run once": 5, "doubled": 0, "lost": 0}


def test_a_key_the_fan_out_cannot_queue_is_logged_in_the_worker_and_the_others_run(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    handoff = handoff_on(broker)
    RQHandoff(Queue("elsewhere", connection=handoff.queue.connection)).ring("taken")
    assert handoff.ring_many(["taken", "free"]) == {}  # the web process cannot tell yet
    log = tmp_path / "worker.log"
    run_burst(broker, ledger, log)
    assert ledger.phases("done") == {"free": 1}
    output = log.read_text()
    assert ring_failure_logged(output, "taken"), output
    assert "RQ could not queue taken: its job id stayed taken" in output


def test_options_a_fan_out_cannot_carry_are_refused_and_it_runs_only_in_a_worker(
    broker: RedisServer,
) -> None:
    queue = Queue(QUEUE, connection=Redis.from_url(broker.url), serializer=JSONSerializer)
    with pytest.raises(ValueError, match="fan_out=False"):
        RQHandoff(queue, receiver=RECEIVER_PATH, retry=Retry(max=2))
    direct = RQHandoff(queue, receiver=RECEIVER_PATH, retry=Retry(max=2), fan_out=False)
    assert direct.ring_many(["a", "b"]) == {}
    assert queue.job_ids == [job_id("a"), job_id("b")]
    with pytest.raises(RuntimeError, match="in a worker"):
        fan_out(["a", "b"], RECEIVER_PATH)
