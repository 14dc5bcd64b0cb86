"""`suno-hooks serve --reconcile` as a real process with an RQ hand-off (`SUNO_HOOKS_HANDOFF=rq`)
on a real redis-server: callbacks whose ring is lost, or refused by a broker that is down, are
answered 200 `queued`, and the serve process's own sweeper (`--sweep-after`) rings them again
until a real `rq worker` has run each handler once.

Polling needs the Suno API key, so the reconciler polls the sandbox, a local Suno API."""

from __future__ import annotations

import time
from pathlib import Path

from redis import Redis
from rq import Queue

from suno_hooks import Receiver
from suno_hooks.sandbox import Sandbox

from ..support.cli_helpers import serving
from ..support.faults import HMAC_KEY
from ..support.handoff_e2e import SITE, all_done, counts, ring_failure_logged, send, site_env
from ..support.handoff_ledger import Ledger
from ..support.handoff_workers import BIN, WorkerProcess
from ..support.kie_stub import serving as serving_app
from ..support.services import RedisServer

API_KEY = "sandbox-serve-sweeper"
QUEUE = "suno-hooks"  # where handoff="rq" rings


def lose_rings(url: str, queue: Queue, broker: RedisServer, ledger: Ledger) -> list[str]:
    """Send one callback whose ring is lost (its job taken off the queue) and two while the
    broker is down (their rings refused); the keys of the three, each answered 200 `queued`."""
    lost = send(url, "serve-lost-ring", ledger)
    deadline = time.monotonic() + 10
    while queue.count < 1:  # the server rings from a thread of its own
        assert time.monotonic() < deadline, "the callback was never rung"
        time.sleep(0.02)
    queue.empty()
    broker.stop()
    refused = [send(url, f"serve-broker-down-{n}", ledger) for n in range(2)]
    broker.start()
    return [lost, *refused]


def test_serve_reconcile_rings_again_what_a_lost_ring_or_a_stopped_broker_left_queued(
    broker: RedisServer, ledger: Ledger, tmp_path: Path
):
    store = f"sqlite:///{tmp_path / 'serve.db'}"
    handoff = {
        "SUNO_HOOKS_HANDOFF": "rq",
        "SUNO_HOOKS_RQ_URL": broker.url,
        "SUNO_HOOKS_RECEIVER": f"{SITE}:receiver",  # the worker's jobs run the site's handler
        "SUNO_API_KEY": API_KEY,
    }
    options = ["--reconcile", "--sweep-after", "1", "--store", store, "--hmac-key", HMAC_KEY]
    env = site_env("rq", broker, ledger, store, SITE_HANDLER_SECONDS="0.2")
    command = [str(BIN / "rq"), "worker", "--url", broker.url, QUEUE]
    worker = WorkerProcess(command, env, tmp_path / "worker.log", ready="Listening on")
    reader = Receiver(hmac_keys=[HMAC_KEY], store=store)
    with (
        serving_app(Sandbox(api_key=API_KEY).app) as api,
        serving(*options, "--base-url", api, "--no-inbox", env=handoff) as (url, process),
    ):
        keys = lose_rings(url, Queue(QUEUE, connection=Redis.from_url(broker.url)), broker, ledger)
        worker.start()  # nothing reached it: only the serve process's sweeper rings again
        try:
            ledger.wait_for("done", keys, timeout=60)
            deadline = time.monotonic() + 10
            while not all_done(reader, keys):
                assert time.monotonic() < deadline, [reader.store.get(key) for key in keys]
                time.sleep(0.1)
        finally:
            worker.stop()
    served = process.stdout.read() if process.stdout else ""
    assert counts(ledger, keys) == {"sent": 3, "run once": 3, "doubled": 0, "lost": 0}
    for key in keys[1:]:
        assert ring_failure_logged(served, key), served
    assert "sweep: rang" in served, served
    for key in keys:  # each rung again by the sweeper of the serve process
        delivery = reader.store.get(key)
        assert delivery is not None and delivery.rings >= 1, delivery
    reader.store.close()
