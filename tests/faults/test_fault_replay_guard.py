"""Issue 12, case 5, under uvicorn: a burst of distinct signed callbacks into the memory store.
Every callback is dispatched once, and the replay guard (like every other structure) stays
at its bound the whole time, however many signatures go through. Lower-case `post`, found
under uvicorn, gets the table's 405."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ..support.faults import (
    FaultServer,
    KieSender,
    Sent,
    Try,
    callbacks,
    fault_env,
    fault_server,
    raw_request,
    tally,
)

BURST = 800
MAX_SIGNATURES = 100
MAX_KEYS = 300
MAX_DELIVERIES = 50


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    """The ASGI app under uvicorn on a memory store with small bounds."""
    directory = tmp_path_factory.mktemp("guard")
    store = (
        f"memory://?max_signatures={MAX_SIGNATURES}&max_keys={MAX_KEYS}"
        f"&max_deliveries={MAX_DELIVERIES}"
    )
    with fault_server(
        "uvicorn", "tests.support.fault_app:asgi", fault_env(directory, store)
    ) as server:
        yield server


def test_the_replay_guard_stays_at_its_bound_through_a_burst(site: FaultServer):
    samples: list[dict[str, Any]] = []

    def sample_the_sizes(sent: Sent, attempt: Try) -> None:
        if sent.key.endswith("0:complete"):  # every tenth callback
            samples.append(site.get("/sizes"))

    with KieSender(site.url, after_try=sample_the_sizes) as sender:
        sent = sender.send_all(callbacks("burst", BURST), concurrency=8)
    final = site.get("/sizes")

    assert [s.statuses for s in sent] == [[200]] * BURST
    counts = tally(site.log, [s.key for s in sent]).counts()
    assert counts == {"dispatched": BURST, "lost": 0, "doubled": 0}
    assert len(samples) == BURST // 10
    assert all(s["bounded"] and s["signatures"] <= MAX_SIGNATURES for s in samples), samples
    assert final["signatures"] == MAX_SIGNATURES and final["bounded"]
    assert final["keys"] <= MAX_KEYS and final["deliveries"] <= MAX_DELIVERIES


def test_a_lower_case_method_under_uvicorn_gets_the_json_405(site: FaultServer):
    body = json.dumps(callbacks("lower", 1)[0]).encode()
    status, answer = raw_request(site.url, "post", body)
    assert status == 405, answer
    assert json.loads(answer)["error"] == "method_not_allowed"
    assert tally(site.log, ["lower0:complete"]).lost == ["lower0:complete"]
