"""`RQHandoff` with a real `rq worker` on a real redis-server."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from redis import Redis
from rq import Queue
from rq.job import JobStatus

from suno_hooks import Receiver
from suno_hooks.contrib import rq as rq_engine
from suno_hooks.contrib.rq import RQHandoff, job_id
from suno_hooks.handoff import HandoffError
from suno_hooks.handoff._protocol import ring_many_or_log
from suno_hooks.inbound import Headers, InboundRequest
from suno_hooks.stores import DeliveryStatus
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY
from ..support.browser import wsgi_server
from ..support.handoff_ledger import Ledger, RecordingReceiver
from ..support.handoff_rq_worker import HEARTBEAT_MARGIN, PROMPT_WORKER
from ..support.handoff_workers import BIN, WorkerProcess, worker_env
from ..support.services import RedisServer

QUEUE = "suno-hooks"
RECEIVER_PATH = "tests.support.handoff_rq_app:receiver"


def rq_worker(broker: RedisServer, ledger: Ledger, log: Path, *options: str) -> WorkerProcess:
    command = [str(BIN / "rq"), "worker", "--url", broker.url, *options, QUEUE]
    return WorkerProcess(command, worker_env(ledger), log, ready="Listening on")


def run_burst(broker: RedisServer, ledger: Ledger, log: Path) -> None:
    """Run every job waiting in the queue with `rq worker --burst`, until it says it is done."""
    rq_worker(broker, ledger, log, "--burst").start().finish("done, quitting")


def handoff_on(broker: RedisServer, **options: Any) -> RQHandoff:
    return RQHandoff.from_url(
        broker.url, queue_name=QUEUE, receiver=RECEIVER_PATH, timeout=2, **options
    )


def wsgi_ringing(handoff: RQHandoff) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        handoff.ring(parse_qs(environ["QUERY_STRING"])["key"][0])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"queued"]

    return app


def test_each_ring_runs_once_in_the_worker(broker: RedisServer, ledger: Ledger, tmp_path: Path):
    handoff = handoff_on(broker)
    worker = rq_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        direct = [f"rq-{n}" for n in range(6)]
        served = [f"rq-web-{n}" for n in range(4)]
        for key in direct:
            handoff.ring(key)
        with wsgi_server(wsgi_ringing(handoff)) as url:
            for key in served:
                assert httpx.get(url, params={"key": key}, timeout=5).status_code == 200
        ledger.wait_for("done", direct + served)
        time.sleep(0.5)
        assert ledger.phases("done") == dict.fromkeys(direct + served, 1)
    finally:
        worker.stop()


def test_a_ring_while_the_job_waits_adds_nothing_and_one_after_it_finished_queues_it_again(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
):
    handoff = handoff_on(broker)
    for _ in range(3):
        handoff.ring("twice")
    assert handoff.queue.job_ids == [job_id("twice")]
    worker = rq_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        ledger.wait_for("done", ["twice"])
        wait_status(handoff.queue, "twice", JobStatus.FINISHED)  # set just after the job returns
        handoff.ring("twice")
        assert ledger.wait_for("done", ["twice"], times=2)["twice"] == 2
    finally:
        worker.stop()


def test_a_failed_job_is_queued_again_by_the_next_ring(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
):
    handoff = handoff_on(broker)
    worker = rq_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        handoff.ring("fail:once")
        job = wait_status(handoff.queue, "fail:once", JobStatus.FAILED)
        assert job is not None
        handoff.ring("fail:once")
        assert ledger.wait_for("started", ["fail:once"], times=2)["fail:once"] == 2
    finally:
        worker.stop()


def wait_status(queue: Queue, key: str, status: JobStatus, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = queue.fetch_job(job_id(key))
        if job is not None and job.get_status(refresh=True) == status:
            return job
        time.sleep(0.05)
    raise AssertionError(f"the job of {key} never became {status}")


def ring_until_queued(handoff: RQHandoff, key: str, timeout: float = 30) -> int:
    """Ring `key` every 0.2 s, as a sweeper would, until a ring queues its job afresh; how many
    rings added nothing before that."""
    deadline = time.monotonic() + timeout
    refused = 0
    while True:
        handoff.ring(key)
        if job_id(key) in handoff.queue.job_ids:
            return refused
        assert time.monotonic() < deadline, f"no ring queued {key} again within {timeout} s"
        refused += 1
        time.sleep(0.2)


def test_a_killed_worker_s_job_is_queued_again_once_its_heartbeat_lapsed(
    broker: RedisServer, ledger: Ledger, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="rq.registry")
    handoff = handoff_on(broker)
    log = tmp_path / "worker.log"
    first = rq_worker(broker, ledger, log, *PROMPT_WORKER).start()
    handoff.ring("slow:killed")
    ledger.wait_for("started", ["slow:killed"])
    first.kill()  # the worker and its work horse, mid-job
    job = handoff.queue.fetch_job(job_id("slow:killed"))
    # Whether a ring right now still finds the heartbeat holding depends on the machine's
    # speed (that a live job is never queued twice is the next test's), and a worker that saw
    # its work horse die first fails the job at once.
    started = job.get_status(refresh=True) == JobStatus.STARTED
    assert started or job.get_status() == JobStatus.FAILED
    ledger.release("slow:killed")
    refused = ring_until_queued(handoff, "slow:killed")
    if started and refused:  # it was RQ's cleanup, run by a ring, that failed the job
        assert f"{job.id} Moved to FailedJobRegistry, due to AbandonedJobError" in caplog.text
    second = rq_worker(broker, ledger, log).start()
    try:
        ledger.wait_for("done", ["slow:killed"])
        assert ledger.phases("started")["slow:killed"] == 2
        assert ledger.phases("done")["slow:killed"] == 1
    finally:
        second.stop()


def test_a_live_job_is_never_queued_twice_however_long_it_runs(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
):
    handoff = handoff_on(broker)
    worker = rq_worker(broker, ledger, tmp_path / "worker.log", *PROMPT_WORKER).start()
    try:
        handoff.ring("slow:alive")
        ledger.wait_for("started", ["slow:alive"])
        running = time.monotonic()
        while time.monotonic() - running < 3 * (1 + HEARTBEAT_MARGIN):  # heartbeats outlived
            handoff.ring("slow:alive")
            assert handoff.queue.count == 0
            assert handoff.queue.failed_job_registry.count == 0
            time.sleep(0.2)
        ledger.release("slow:alive")
        ledger.wait_for("done", ["slow:alive"])
        wait_status(handoff.queue, "slow:alive", JobStatus.FINISHED)
    finally:
        worker.stop()
    assert ledger.phases("started") == {"slow:alive": 1}


def test_a_broker_that_is_down_fails_the_ring_within_its_timeout(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
):
    handoff = handoff_on(broker)
    broker.stop()
    started = time.monotonic()
    with pytest.raises(HandoffError, match="RQ could not queue during: ConnectionError"):
        handoff.ring("during")
    assert time.monotonic() - started < 10
    broker.start()
    handoff.ring("after")
    worker = rq_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        ledger.wait_for("done", ["after"])
        assert ledger.phases("done") == {"after": 1}
    finally:
        worker.stop()


def test_a_password_is_masked_in_the_ring_error(broker: RedisServer):
    connection = Redis.from_url(broker.url, password="hunter2-secret")
    text = "AUTH hunter2-secret failed"
    assert rq_engine._without_password(text, connection) == "AUTH *** failed"


def test_without_a_path_the_job_uses_the_receiver_bound_in_its_process(
    broker: RedisServer, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(rq_engine, "_bound", [])
    with pytest.raises(LookupError, match="receiver="):
        rq_engine.run_queued("k")
    RQHandoff(Queue(QUEUE, connection=Redis.from_url(broker.url))).bind(RecordingReceiver(ledger))
    rq_engine.run_queued("k")
    assert ledger.phases("done") == {"k": 1}


def test_the_job_id_is_stable_distinct_and_safe():
    assert job_id("a") == job_id("a") != job_id("b")
    assert job_id("task:x/é space").replace("-", "").isalnum()


def test_a_receiver_that_is_not_a_path_is_refused(broker: RedisServer):
    with pytest.raises(ValueError, match="dotted path"):
        RQHandoff(Queue(QUEUE, connection=Redis.from_url(broker.url)), receiver="receiver")


def test_with_fan_out_off_a_batch_queues_each_key_once_in_order_and_a_worker_runs_each_once(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    handoff = handoff_on(broker, fan_out=False)
    assert repr(handoff).endswith("fan_out=False)")
    keys = [f"batch-{n}" for n in range(40)]
    assert handoff.ring_many(keys + keys[:5]) == {}  # a key twice in one batch is queued once
    assert handoff.queue.job_ids == [job_id(key) for key in keys]
    run_burst(broker, ledger, tmp_path / "worker.log")
    assert ledger.phases("done") == dict.fromkeys(keys, 1)
    assert ledger.order("started") == keys


def test_a_batch_keeps_the_rule_of_one_live_job_per_key(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    handoff = handoff_on(broker, fan_out=False)  # the rule a fan-out's worker applies too
    log = tmp_path / "worker.log"
    assert handoff.ring_many(["finished", "fail:failed"]) == {}
    run_burst(broker, ledger, log)
    wait_status(handoff.queue, "finished", JobStatus.FINISHED)
    wait_status(handoff.queue, "fail:failed", JobStatus.FAILED)
    handoff.ring("waiting")
    elsewhere = Queue("elsewhere", connection=handoff.queue.connection)
    RQHandoff(elsewhere, receiver=RECEIVER_PATH).ring("elsewhere")

    failed = handoff.ring_many(["waiting", "finished", "fail:failed", "elsewhere", "new"])
    assert list(failed) == ["elsewhere"]
    assert str(failed["elsewhere"]) == "RQ could not queue elsewhere: its job id stayed taken"
    # "waiting" keeps its one job; the finished one is queued afresh and the new one queued,
    # after it in batch order; the failed one is requeued from RQ's failed registry, last.
    queued = ["waiting", "finished", "new", "fail:failed"]
    assert handoff.queue.job_ids == [job_id(key) for key in queued]
    assert elsewhere.job_ids == [job_id("elsewhere")]
    run_burst(broker, ledger, log)
    assert ledger.phases("started") == {"finished": 2, "fail:failed": 2, "waiting": 1, "new": 1}


def test_a_job_another_ring_queues_while_a_batch_is_read_is_not_queued_twice(
    broker: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    handoff, elsewhere = handoff_on(broker, fan_out=False), handoff_on(broker)  # two processes
    enqueue_many = handoff.queue.enqueue_many
    raced: list[str] = []

    def racing(job_datas: Any, pipeline: Any = None, group_id: str | None = None) -> Any:
        if not raced:  # between the batch's read and its write, the other rings "raced"
            raced.append("raced")
            elsewhere.ring("raced")
        return enqueue_many(job_datas, pipeline=pipeline, group_id=group_id)

    monkeypatch.setattr(handoff.queue, "enqueue_many", racing)
    assert handoff.ring_many(["raced", "calm"]) == {}
    assert raced == ["raced"]
    assert handoff.queue.job_ids == [job_id("raced"), job_id("calm")]


def post(receiver: Receiver, task_id: str) -> str:
    """Send `receiver` one signed callback; the key of its delivery, answered `queued`."""
    body = encode(make_callback("music", "complete", task_id=task_id))
    answer = receiver.handle(InboundRequest("POST", body, Headers.of(sign_headers(body, HMAC_KEY))))
    assert (answer.status, answer.body) == (200, {"status": "queued"})
    return f"{task_id}:complete"


def handoff_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "suno_hooks.handoff"]


def test_a_batch_the_broker_refuses_is_one_warning_and_stays_queued_for_the_sweeper(
    broker: RedisServer, ledger: Ledger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="suno_hooks.handoff")
    handoff = handoff_on(broker)
    receiver = Receiver(
        hmac_keys=[HMAC_KEY], store=f"sqlite:///{tmp_path / 'hooks.db'}", handoff=handoff
    )
    broker.stop()
    keys = [post(receiver, f"down-{n}") for n in range(5)]
    deadline = time.monotonic() + 30
    while not all(any(key in line for line in handoff_warnings(caplog)) for key in keys):
        assert time.monotonic() < deadline, handoff_warnings(caplog)  # rung in the background
        time.sleep(0.05)
    caplog.clear()

    assert ring_many_or_log(handoff, keys) == dict.fromkeys(keys, False)  # what the thread does
    (warning,) = handoff_warnings(caplog)
    assert warning.startswith(
        f"hand-off of 5 deliveries ({', '.join(keys)}) failed, the sweeper will ring again: "
        "RQ could not queue 5 deliveries: ConnectionError"
    )
    for key in keys:
        kept = receiver.store.get(key)
        assert kept is not None and kept.status is DeliveryStatus.QUEUED

    broker.start()
    assert receiver.sweep(older_than=0) == dict.fromkeys(keys, True)  # rung from the same thread
    worker = rq_worker(broker, ledger, tmp_path / "worker.log").start()
    try:
        ledger.wait_for("done", keys)
        time.sleep(0.5)
        assert ledger.phases("done") == dict.fromkeys(keys, 1)
    finally:
        worker.stop()


def test_the_job_options_are_those_of_enqueue_and_a_ring_s_own_are_refused(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
) -> None:
    queue = Queue(QUEUE, connection=Redis.from_url(broker.url))
    handoff = RQHandoff(queue, receiver=RECEIVER_PATH, job_timeout=30, description="ring")
    handoff.ring("one")
    assert handoff.ring_many(["two", "three"]) == {}  # one fan-out, carrying the options
    patient = Queue(QUEUE, connection=queue.connection, default_timeout=77)
    assert RQHandoff(patient, receiver=RECEIVER_PATH).ring_many(["four", "five"]) == {}
    run_burst(broker, ledger, tmp_path / "worker.log")
    for key in ("one", "two", "three", "four", "five"):
        job = queue.fetch_job(job_id(key))
        assert job is not None and list(job.args) == [key, RECEIVER_PATH]
        assert job.timeout == (77 if key in ("four", "five") else 30)
        assert (job.description == "ring") is (job.timeout == 30)
    for option in ({"depends_on": "x"}, {"job_id": "x"}, {"job_timout": 30}):
        with pytest.raises(ValueError, match="cannot take the job option"):
            RQHandoff(queue, receiver=RECEIVER_PATH, **option)
