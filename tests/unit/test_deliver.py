"""Trusted in-process delivery and the event source (`callback`, `poll`, `replay`), on every store:
`Receiver.deliver` runs the same claim, dispatch and bookkeeping as a callback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from suno_hooks import Event, Receiver, callback_received
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import DeliveryStatus, MemoryStore, Store
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY, SECRET, fixture_json, unverified_receiver


@pytest.fixture
def seen() -> Iterator[list[Event]]:
    events: list[Event] = []
    with callback_received.connected_to(lambda sender, event, **kw: events.append(event)):
        yield events


def strict_receiver(store: Store) -> Receiver:
    """A receiver whose HTTP checks refuse anything unsigned from anywhere."""
    return Receiver(
        hmac_keys=[HMAC_KEY],
        secret_key=SECRET,
        store=store,
        require="both",
        allowed_ips=["203.0.113.0/24"],
    )


def test_deliver_skips_the_http_checks_and_marks_the_source(store: Store, seen: list[Event]):
    receiver = strict_receiver(store)
    body = make_callback("music", "complete", task_id="polled1")
    outcome = receiver.deliver(body, feature="replace_section", context={"user": 7})
    assert (outcome.status, outcome.body) == (200, {"status": "received"})
    [event] = seen
    assert (event.source, event.feature, event.context) == ("poll", "replace_section", {"user": 7})
    assert event.kind == "music" and event.tracks
    kept = store.get("polled1:complete")
    assert kept is not None and kept.status is DeliveryStatus.DONE
    assert (kept.source, kept.feature, kept.context) == ("poll", "replace_section", {"user": 7})
    assert kept.to_dict()["source"] == "poll"
    assert [d.source for d in store.deliveries()] == ["poll"]


def test_deliver_and_callback_share_one_dedupe_key(store: Store, seen: list[Event]):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=store)
    first = encode(make_callback("music", "complete", task_id="race1"))
    assert receiver.deliver(first).body == {"status": "received"}
    reply = receiver.handle(InboundRequest("POST", first, sign_headers(first, HMAC_KEY)))
    assert (reply.status, reply.body) == (200, {"status": "duplicate"})
    second = encode(make_callback("music", "complete", task_id="race2"))
    assert receiver.handle(InboundRequest("POST", second, sign_headers(second, HMAC_KEY))).ok
    assert receiver.deliver(second).body == {"status": "duplicate"}
    assert [(e.task_id, e.source) for e in seen] == [("race1", "poll"), ("race2", "callback")]
    kept = store.get("race2:complete")
    assert kept is not None and kept.source == "callback"


def test_deliver_of_progress_after_the_end_is_stale(store: Store, seen: list[Event]):
    receiver = unverified_receiver(store=store)
    receiver.deliver(make_callback("music", "complete", task_id="late1"))
    outcome = receiver.deliver(make_callback("music", "first", task_id="late1"))
    assert (outcome.status, outcome.body) == (200, {"status": "stale"})
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"not json", "invalid_json"), (b"[1]", "invalid_json"), ({"data": {}}, "invalid_payload")],
)
def test_deliver_refuses_a_body_without_a_task_id(body: Any, code: str, seen: list[Event]):
    outcome = unverified_receiver(store=MemoryStore()).deliver(body)
    assert outcome.status == 400 and outcome.body["error"] == code
    assert seen == []


def test_deliver_refuses_what_json_cannot_encode():
    outcome = unverified_receiver(store=MemoryStore()).deliver(
        {"data": {"taskId": "x", "when": object()}}
    )
    assert (outcome.status, outcome.body["error"]) == (400, "invalid_payload")


def test_deliver_rejects_an_unknown_source():
    with pytest.raises(ValueError, match="source must be one of"):
        unverified_receiver(store=MemoryStore()).deliver(make_callback(), source="webhook")


def test_replay_says_replay_and_the_inbox_keeps_the_first_source(store: Store):
    receiver = unverified_receiver(store=store)
    sources: list[str] = []
    broken = {"on": True}

    def handler(sender: Any, event: Event, **extra: Any) -> None:
        sources.append(event.source)
        if broken["on"]:
            raise RuntimeError("database down")

    with callback_received.connected_to(handler):
        receiver.deliver(make_callback(task_id="polled2"))
        body = encode(make_callback(task_id="called2"))
        receiver.handle(InboundRequest("POST", body))
        broken["on"] = False
        assert receiver.replay("polled2:complete").body == {"status": "received"}
        assert receiver.replay("called2:complete").body == {"status": "received"}
    assert sources == ["poll", "callback", "replay", "replay"]
    for key, source in (("polled2:complete", "poll"), ("called2:complete", "callback")):
        kept = store.get(key)
        assert kept is not None and kept.status is DeliveryStatus.DONE
        assert (kept.source, kept.attempts) == (source, 2)


async def test_adeliver_and_areplay(store: Any, seen: list[Event]):
    receiver = unverified_receiver(store=store)
    record = fixture_json("market.sounds.record-info.success.json")
    outcome = await receiver.adeliver(record, feature="sounds", source="poll")
    assert outcome.body == {"status": "received"}
    assert (await receiver.adeliver(record)).body == {"status": "duplicate"}
    event = seen[0]
    assert (event.source, event.kind, event.feature) == ("poll", "music", "sounds")
    assert event.result_urls
    key = event.dedupe_key
    await receiver.areplay(key)
    assert [e.source for e in seen] == ["poll"]  # a done delivery answers duplicate
    kept = await store.aget(key)
    assert kept is not None and kept.source == "poll"


def test_an_inbound_request_carries_its_source(store: Store, seen: list[Event]):
    body = encode(make_callback(task_id="sourced1"))
    outcome = unverified_receiver(store=store).handle(InboundRequest("POST", body, source="poll"))
    assert outcome.status == 200 and [e.source for e in seen] == ["poll"]
    kept = store.get("sourced1:complete")
    assert kept is not None and kept.source == "poll"
