"""One answer whatever the store (DESIGN §3): a replayed signature and timestamp carrying another
body is refused with 401 `replayed_signature` before any duplicate answer, `callback_rejected`
is sent, and the kept delivery is untouched."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from suno_hooks import Receiver, callback_received, callback_rejected
from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import DeliveryStatus, Store
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY


@pytest.fixture
def rejected() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    with callback_rejected.connected_to(lambda sender, **kw: seen.append(kw)):
        yield seen


def forged_pair(task_id: str) -> tuple[bytes, bytes, dict[str, str]]:
    """A genuine body, another body for the same task and stage, and the genuine headers."""
    genuine = make_callback("music", "complete", task_id=task_id)
    other = dict(genuine, msg="forged")
    return encode(genuine), encode(other), sign_headers(encode(genuine), HMAC_KEY)


@pytest.mark.parametrize("outcome", ["done", "failed"])
def test_replayed_signature_on_a_kept_key_is_401_on_store(
    store: Store, rejected: list[dict[str, Any]], outcome: str
):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=store)
    genuine, forged, headers = forged_pair(f"guarded-{outcome}")
    handled: list[str] = []

    def handler(sender: Any, event: Any, **extra: Any) -> None:
        handled.append(event.msg)
        if outcome == "failed":
            raise RuntimeError("database down")

    with callback_received.connected_to(handler):
        assert receiver.handle(InboundRequest("POST", genuine, headers)).status == 200
        key = f"guarded-{outcome}:complete"
        before = store.get(key)
        reply = receiver.handle(InboundRequest("POST", forged, headers, peer="198.51.100.9"))
    assert (reply.status, reply.body["error"]) == (401, "replayed_signature")
    assert [(r["error"], r["status"], r["peer"]) for r in rejected] == [
        ("replayed_signature", 401, "198.51.100.9")
    ]
    assert len(handled) == 1
    after = store.get(key)
    assert before is not None and after is not None
    assert after.body == genuine
    expected = DeliveryStatus.DONE if outcome == "done" else DeliveryStatus.FAILED
    assert (after.status, after.attempts, after.error) == (expected, 1, before.error)


@pytest.mark.usefixtures("calls")  # a handler hears it, so the delivery is done
async def test_replayed_signature_is_401_on_the_async_path(
    store: Store, rejected: list[dict[str, Any]]
):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=store)
    genuine, forged, headers = forged_pair("guarded-async")
    assert (await receiver.handle_async(InboundRequest("POST", genuine, headers))).status == 200
    again = await receiver.handle_async(InboundRequest("POST", genuine, headers))
    assert (again.status, again.body) == (200, {"status": "duplicate"})
    reply = await receiver.handle_async(InboundRequest("POST", forged, headers))
    assert (reply.status, reply.body["error"]) == (401, "replayed_signature")
    assert [r["error"] for r in rejected] == ["replayed_signature"]
