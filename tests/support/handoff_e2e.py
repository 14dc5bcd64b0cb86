"""The hand-off's end-to-end runs: the site of `tests.support.handoff_site` (its environment and
its workers), the sweeper beside it, signed callbacks sent to it (or recorded `queued` in its
store and rung nowhere) and the tally of what their handlers did (sent, run once, doubled,
lost), and whether a failed ring was logged."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from suno_hooks import Receiver
from suno_hooks.contrib.rq import RQHandoff
from suno_hooks.inbound import Headers, InboundRequest
from suno_hooks.stores import DeliveryStatus
from suno_hooks.testing import encode, make_callback, sign_headers

from .faults import HMAC_KEY
from .handoff_bell import Bell
from .handoff_celery_app import QUEUE as CELERY_QUEUE
from .handoff_celery_app import build
from .handoff_ledger import Ledger
from .handoff_workers import BIN, WorkerProcess, worker_env
from .services import RedisServer

SITE = "tests.support.handoff_site"
RQ_QUEUE = "suno-hooks-site"  # as in handoff_site, which reads its environment on import


def site_env(engine: str, broker: RedisServer, ledger: Ledger, store: str, **extra: str) -> Any:
    """The environment of the site's processes (web server and worker) for `engine`."""
    return worker_env(
        ledger,
        SITE_ENGINE=engine,
        SITE_BROKER=broker.url,
        SITE_STORE=store,
        SITE_HMAC=HMAC_KEY,
        FAULT_LOG=str(ledger.path.with_suffix(".log")),  # the server helper's, unused here
        **extra,
    )


def worker(engine: str, env: dict[str, str], log: Path, *options: str) -> WorkerProcess:
    """An `rq worker` or a `celery worker --pool=solo` on the site's queue, `options` added."""
    if engine == "rq":
        command = [str(BIN / "rq"), "worker", "--url", env["SITE_BROKER"], *options, RQ_QUEUE]
        return WorkerProcess(command, env, log, ready="Listening on")
    command = [str(BIN / "celery"), "-A", SITE, "worker", "--pool=solo", "-Q", CELERY_QUEUE]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
    command += options
    return WorkerProcess(command, env, log, ready="ready.")


@contextmanager
def sweeper(engine: str, broker: RedisServer, store: str) -> Iterator[Receiver]:
    """What `suno-hooks reconcile` runs: a receiver over the same store and hand-off."""
    if engine == "rq":
        handoff: Any = RQHandoff.from_url(
            broker.url, queue_name=RQ_QUEUE, receiver=f"{SITE}:receiver", timeout=2
        )
        yield Receiver(hmac_keys=[HMAC_KEY], store=store, handoff=handoff)
        return
    app, handoff = build(broker.url)
    try:
        yield Receiver(hmac_keys=[HMAC_KEY], store=store, handoff=handoff)
    finally:
        app.close()


def record_queued(store: str, task_ids: list[str]) -> list[str]:
    """Have `store` keep a `queued` delivery for each of `task_ids`, as the site's web process
    would, but rung nowhere (its hand-off only keeps the rings); their keys, in order."""
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=store, handoff=Bell())
    keys = []
    for task_id in task_ids:
        body = encode(make_callback("music", "complete", task_id=task_id))
        request = InboundRequest("POST", body, Headers.of(sign_headers(body, HMAC_KEY)))
        answer = receiver.handle(request)
        assert (answer.status, answer.body) == (200, {"status": "queued"})
        keys.append(f"{task_id}:complete")
    return keys


def kept_statuses(receiver: Receiver, keys: list[str]) -> set[DeliveryStatus | None]:
    """The statuses the store keeps for the deliveries `keys`."""
    kept = [receiver.store.get(key) for key in keys]
    return {None if k is None else k.status for k in kept}


def send(url: str, task_id: str, ledger: Ledger) -> str:
    """POST one signed callback; assert it was answered `queued` before its handler finished."""
    body = encode(make_callback("music", "complete", task_id=task_id))
    answer = httpx.post(url, content=body, headers=sign_headers(body, HMAC_KEY), timeout=30)
    key = f"{task_id}:complete"
    assert (answer.status_code, answer.json()) == (200, {"status": "queued"}), answer.text
    assert ledger.phases("done")[key] == 0, f"{key} was answered after its handler finished"
    return key


def counts(ledger: Ledger, keys: list[str]) -> dict[str, int]:
    """What happened to the deliveries `keys`: sent, run once, doubled (a handler started
    twice) and lost (never done)."""
    started, done = ledger.phases("started"), ledger.phases("done")
    return {
        "sent": len(keys),
        "run once": sum(1 for key in keys if started[key] == 1 and done[key] == 1),
        "doubled": sum(1 for key in keys if started[key] > 1),
        "lost": sum(1 for key in keys if done[key] == 0),
    }


def survived_a_kill(worker: str, ledger: Ledger, keys: list[str], killed: list[str]) -> None:
    """Every delivery done once, none lost, and only those whose handler had started when the
    worker was killed started twice; prints the tally."""
    tally = counts(ledger, keys)
    print(f"\nkilled {worker}: {tally} (handlers started before the kill: {len(killed)})")
    assert tally["lost"] == 0 and tally["sent"] == len(keys)
    assert {key for key in keys if ledger.phases("started")[key] > 1} <= set(killed)
    assert all(ledger.phases("done")[key] == 1 for key in keys)


def all_done(receiver: Receiver, keys: list[str]) -> bool:
    """True when the store keeps every delivery of `keys` as done."""
    kept = [receiver.store.get(key) for key in keys]
    return all(k is not None and k.status is DeliveryStatus.DONE for k in kept)


def sweep_until_done(
    receiver: Receiver,
    keys: list[str],
    *,
    older_than: float,
    timeout: float = 60,
    max_rings: int | None = None,
) -> None:
    """Sweep every half second, as `serve --reconcile` would, until the store keeps every
    delivery of `keys` as done; fails with their statuses past `timeout` seconds."""
    options = {} if max_rings is None else {"max_rings": max_rings}
    deadline = time.monotonic() + timeout
    while not all_done(receiver, keys):
        assert time.monotonic() < deadline, kept_statuses(receiver, keys)
        receiver.sweep(older_than=older_than, **options)
        time.sleep(0.5)


def ring_failure_logged(output: str, key: str) -> bool:
    """True when `output` has a WARNING that the ring of `key` failed, alone or in a batch."""
    for line in output.splitlines():
        named, failed, _ = line.partition(" failed, the sweeper will ring again")
        if failed and key in re.split(r"[ (),]+", named.partition("hand-off of ")[2]):
            return True
    return False
