"""The `suno_hooks` logger: one INFO line per accepted callback, one WARNING per refusal, through
every adapter, with no body, signature or secret in any line."""

from __future__ import annotations

import logging

import pytest

from suno_hooks import Receiver
from suno_hooks.stores import MemoryStore
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY, SECRET
from ..support.adapters import ADAPTERS


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
@pytest.mark.usefixtures("calls")  # a handler hears it, so the delivery is done
def test_accepted_and_refused_callbacks_are_logged(adapter: str, caplog: pytest.LogCaptureFixture):
    receiver = Receiver(hmac_keys=[HMAC_KEY], secret_key=SECRET, store=MemoryStore())
    client = ADAPTERS[adapter](receiver)
    task_id = "d" * 32
    body = encode(make_callback("music", "complete", task_id))
    headers = sign_headers(body, HMAC_KEY)
    forged = sign_headers(body, "not-the-key")
    with caplog.at_level(logging.INFO, logger="suno_hooks"):
        assert client.post(body, headers).status == 200
        assert client.post(body, headers).body == {"status": "duplicate"}
        assert client.post(body, forged).status == 401
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "suno_hooks"]
    task = f"task={task_id} kind=music stage=complete"
    assert lines[:2] == [("INFO", f"200 received {task}"), ("INFO", f"200 duplicate {task}")]
    [(level, refusal)] = lines[2:]
    assert level == "WARNING"
    assert refusal.startswith("refused 401 invalid_signature peer=")
    logged = caplog.text
    for secret in (HMAC_KEY, SECRET, headers["X-Webhook-Signature"], "Neon Rain", "audio_url"):
        assert secret not in logged
