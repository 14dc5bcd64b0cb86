"""Callback URL tokens bound to their task: every store binds atomically (the `store` fixture
gives each kind in turn), and in token-only mode a token used for one task is refused (401
`invalid_token`) for any other."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from suno_hooks import Receiver
from suno_hooks._security.tokens import DEFAULT_TOKEN_MAX_AGE, TokenSigner
from suno_hooks.stores import BindsTokens, MemoryStore
from suno_hooks.testing import encode, make_callback

from ..conftest import SECRET, Calls
from ..support.adapters import CallbackClient
from ..support.stores import STORE_KINDS


def test_a_token_serves_only_its_first_task(store: Any):
    assert isinstance(store, BindsTokens)
    assert store.bind_token("token-1", "task-a", 600) is True
    assert store.bind_token("token-1", "task-a", 600) is True
    assert store.bind_token("token-1", "task-b", 600) is False
    assert store.bind_token("token-2", "task-b", 600) is True
    assert store.bind_token("token-1", "task-a", 600) is True


def test_a_binding_ends_with_its_token(store: Any):
    assert store.bind_token("short", "task-a", 0.05) is True
    time.sleep(0.1)
    assert store.bind_token("short", "task-b", 600) is True
    assert store.bind_token("short", "task-a", 600) is False


async def test_async_binding(store: Any):
    assert await store.abind_token("async-token", "task-a", 600) is True
    assert await store.abind_token("async-token", "task-b", 600) is False
    assert await store.abind_token("async-token", "task-a", 600) is True


@pytest.mark.parametrize("kind", [kind for kind in STORE_KINDS if kind != "django"])
def test_first_use_race_has_one_winner(kind: str, request: pytest.FixtureRequest):
    # Django's test database is in-memory SQLite, which locks tables instead of waiting.
    store = request.getfixturevalue(f"{kind}_store_factory")()
    store.bind_token("warm-up", "task", 600)
    racers = 6
    start = threading.Barrier(racers)
    won: list[str] = []
    lock = threading.Lock()

    def bind(n: int) -> None:
        start.wait()
        if store.bind_token("raced-token", f"task-{n}", 600):
            with lock:
                won.append(f"task-{n}")

    threads = [threading.Thread(target=bind, args=(n,)) for n in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(won) == 1
    assert store.bind_token("raced-token", won[0], 600) is True


def test_the_memory_store_keeps_its_bindings_bounded():
    store = MemoryStore(max_keys=100)
    for n in range(1000):
        store.bind_token(f"token-{n}", "task", 600)
    assert len(store._bindings) <= 100
    assert store.bind_token("token-999", "other", 600) is False


def test_tokens_carry_their_own_id_and_lifetime():
    signer = TokenSigner("secret", max_age=3600)
    first, second = signer.mint({"user": 1}), signer.mint({"user": 1})
    assert first != second
    one, two = signer.read(first), signer.read(second)
    assert one.token_id and two.token_id and one.token_id != two.token_id
    assert 3590 < one.expires_in <= 3600
    # A token minted before tokens carried an id is known by its digest.
    old_style = URLSafeTimedSerializer("secret", salt="suno-hooks.callback-url").dumps({"c": {}})
    assert isinstance(old_style, str)
    assert signer.read(old_style).token_id == signer.read(old_style).token_id != ""
    assert TokenSigner("s").read(TokenSigner("s").mint()).expires_in > DEFAULT_TOKEN_MAX_AGE - 60


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from("cfnx"), st.none() | st.text() | st.integers()))
def test_any_signed_payload_reads_to_a_usable_id(payload: dict[str, Any]):
    token = URLSafeTimedSerializer("secret", salt="suno-hooks.callback-url").dumps(payload)
    claims = TokenSigner("secret").read(str(token))
    assert isinstance(claims.token_id, str) and 0 < len(claims.token_id) <= 64


def token_query(receiver: Receiver, context: dict[str, Any]) -> str:
    url = receiver.callback_url("https://app.example/suno/callback", context=context)
    return "token=" + dict(parse_qsl(urlsplit(url).query))["token"]


def test_a_token_is_refused_for_another_task_through_every_adapter(
    client_factory: Callable[[Receiver], CallbackClient], calls: Calls
):
    receiver = Receiver(secret_key=SECRET, store=MemoryStore())
    client = client_factory(receiver)
    query = token_query(receiver, {"user": 7})

    first = client.post(encode(make_callback("music", "first", task_id="own-task")), query=query)
    assert (first.status, first.body) == (200, {"status": "received"})
    done = client.post(encode(make_callback("music", "complete", task_id="own-task")), query=query)
    assert (done.status, done.body) == (200, {"status": "received"})
    stolen = client.post(encode(make_callback(task_id="victim-task")), query=query)
    assert (stolen.status, stolen.body["error"]) == (401, "invalid_token")
    assert [event.task_id for event in calls.events] == ["own-task", "own-task"]
    assert [event.context for event in calls.events] == [{"user": 7}, {"user": 7}]

    fresh = token_query(receiver, {"user": 7})
    other = client.post(encode(make_callback(task_id="victim-task")), query=fresh)
    assert (other.status, other.body) == (200, {"status": "received"})
    assert receiver.store.get("victim-task:complete") is not None
