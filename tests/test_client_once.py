"""A client that cannot fill `callBackUrl` refuses to start, both clients."""

from __future__ import annotations

from pathlib import Path

import pytest

from suno_hooks import Receiver
from suno_hooks.client import (
    AsyncSunoClient,
    SunoClient,
)
from suno_hooks.errors import ConfigurationError
from suno_hooks.stores import SQLiteStore

from .kie_stub import kie

__all__ = ["kie"]

KEY = "kie-secret-api-key-123"
GENERATE = "/api/v1/generate"
BASE = "https://app.example/suno/callback"
OK = (200, {"code": 200, "msg": "success", "data": {"taskId": "task-001"}})


@pytest.fixture
def receiver(tmp_path: Path) -> Receiver:
    return Receiver(secret_key="s3cret", store=SQLiteStore(tmp_path / "tasks.db"))


# -- a receiver needs a callback base -------------------------------------------------------------


@pytest.mark.parametrize("client_class", [SunoClient, AsyncSunoClient])
@pytest.mark.parametrize("base", [None, "", "app.example/suno/callback"])
def test_a_receiver_without_a_callback_base_is_refused_at_once(
    client_class: type[SunoClient], base: str | None, receiver: Receiver
):
    with pytest.raises(ConfigurationError, match="callback_base") as raised:
        client_class(KEY, receiver=receiver, callback_base=base)
    assert KEY not in str(raised.value)


@pytest.mark.parametrize("client_class", [SunoClient, AsyncSunoClient])
def test_a_polling_client_needs_no_receiver(client_class: type[SunoClient]):
    client = client_class(KEY)
    assert client.receiver is None
