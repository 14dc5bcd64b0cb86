"""The Kie HMAC rule (with the published-rule vectors), tokens and the IP allow-list."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suno_hooks import Receiver
from suno_hooks._security.allow_list import SourceFilter
from suno_hooks._security.signatures import HmacVerifier, SignedHeaders, compute_signature
from suno_hooks._security.tokens import TokenSigner, derive_key
from suno_hooks.errors import (
    InvalidSignature,
    InvalidToken,
    MissingSignature,
    SignatureError,
    StaleTimestamp,
)
from suno_hooks.inbound import Headers, InboundRequest
from suno_hooks.stores import MemoryStore

from ..conftest import Calls, fixture_bytes, fixture_json

VECTORS = fixture_json("signature.vectors.json")
KEY = VECTORS["webhookHmacKey"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["task_id"][:8])
def test_signature_vectors(vector: dict):
    assert (
        compute_signature(KEY, vector["task_id"], vector["timestamp"])
        == vector["expected_signature"]
    )
    verifier = HmacVerifier(["old-key", KEY])
    matched, _ = verifier.verify(
        [vector["task_id"]], Headers.of(vector["headers"]), now=vector["timestamp"]
    )
    assert matched == vector["task_id"]


@pytest.mark.parametrize(
    ("fixture", "vector_index"), [("generate.complete.json", 0), ("cover-image.complete.json", 1)]
)
def test_vectors_verify_their_fixture_through_the_receiver(
    fixture: str, vector_index: int, calls: Calls, monkeypatch: pytest.MonkeyPatch
):
    vector = VECTORS["vectors"][vector_index]
    monkeypatch.setattr(time, "time", lambda: float(vector["timestamp"] + 10))
    receiver = Receiver(hmac_keys=[KEY], store=MemoryStore())
    outcome = receiver.handle(InboundRequest("POST", fixture_bytes(fixture), vector["headers"]))
    assert outcome.status == 200, outcome.body
    assert calls.events[0].task_id == vector["task_id"]


def test_header_names_are_case_insensitive():
    verifier = HmacVerifier([KEY])
    now = int(time.time())
    sig = compute_signature(KEY, "t1", now)
    for names in (
        ("X-Webhook-Signature", "X-Webhook-Timestamp"),
        ("x-webhook-signature", "x-webhook-timestamp"),
        ("X-WEBHOOK-SIGNATURE", "X-WEBHOOK-TIMESTAMP"),
    ):
        headers = Headers.of({names[0]: sig, names[1]: str(now)})
        assert verifier.verify(["t1"], headers)[0] == "t1"


def test_tolerance_both_ways():
    verifier = HmacVerifier([KEY], tolerance=60)
    now = 1_800_000_000
    for stamp, ok in ((now - 60, True), (now + 60, True), (now - 61, False), (now + 61, False)):
        headers = Headers.of(
            {
                "X-Webhook-Signature": compute_signature(KEY, "t", stamp),
                "X-Webhook-Timestamp": str(stamp),
            }
        )
        if ok:
            verifier.verify(["t"], headers, now=now)
        else:
            with pytest.raises(StaleTimestamp):
                verifier.verify(["t"], headers, now=now)


def test_missing_and_malformed_headers():
    verifier = HmacVerifier([KEY])
    with pytest.raises(MissingSignature):
        verifier.verify(["t"], Headers())
    with pytest.raises(InvalidSignature):
        verifier.verify(
            ["t"], Headers.of({"X-Webhook-Signature": "x", "X-Webhook-Timestamp": "12ab"})
        )


@settings(max_examples=300, deadline=None)
@given(
    st.binary(min_size=1, max_size=200),
    st.text(min_size=1, max_size=64),
    st.integers(min_value=0, max_value=10**12),
)
def test_verifier_agrees_with_the_hmac_module(key: bytes, task_id: str, stamp: int):
    verifier = HmacVerifier([b"an-old-key", key])
    expected = hmac.new(key, f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
    assert compute_signature(key, task_id, stamp) == base64.b64encode(expected).decode()
    signed = SignedHeaders(base64.b64encode(expected).decode(), str(stamp))
    assert verifier.matches(task_id, signed)
    assert not verifier.matches(task_id + "x", signed)
    assert not HmacVerifier([key + b"x"]).matches(task_id, signed)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.text(max_size=30), st.text(max_size=40))
def test_arbitrary_header_values_never_crash(signature: str, timestamp: str, task_id: str):
    verifier = HmacVerifier([KEY])
    headers = Headers.of({"X-Webhook-Signature": signature, "X-Webhook-Timestamp": timestamp})
    try:
        verifier.verify([task_id], headers)
    except SignatureError:
        return
    pytest.fail("an arbitrary signature verified")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_tokens_are_refused_cleanly(token: str):
    signer = TokenSigner("secret")
    with pytest.raises(InvalidToken):
        signer.read(token)


def test_token_round_trip_and_tampering():
    signer = TokenSigner("secret")
    token = signer.mint({"user": 42, "song": "é"}, "replace_section")
    claims = signer.read(token)
    assert claims.context == {"user": 42, "song": "é"} and claims.feature == "replace_section"
    with pytest.raises(InvalidToken):
        TokenSigner("other-secret").read(token)
    with pytest.raises(InvalidToken):
        signer.read(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_callback_url_keeps_existing_query():
    receiver = Receiver(secret_key="s", store=MemoryStore())
    url = receiver.callback_url(
        "https://api.example.com/suno/callback?a=1&token=old", context={"u": 1}
    )
    assert url.startswith("https://api.example.com/suno/callback?a=1&token=")
    assert url.count("token=") == 1


def test_allow_list_with_trusted_proxies():
    direct = SourceFilter(["203.0.113.0/24"])
    assert direct.allows("203.0.113.9", Headers())
    assert not direct.allows("198.51.100.1", Headers())
    assert not direct.allows(None, Headers())
    assert not direct.allows("not-an-ip", Headers())
    behind_one = SourceFilter(["203.0.113.0/24"], trusted_proxies=1)
    forwarded = Headers.of({"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    assert behind_one.allows("10.0.0.1", forwarded)
    spoofed = Headers.of({"X-Forwarded-For": "203.0.113.9, 6.6.6.6"})
    assert not behind_one.allows("10.0.0.1", spoofed)
    assert not behind_one.allows("203.0.113.9", Headers())
    behind_two = SourceFilter(["203.0.113.0/24"], trusted_proxies=2)
    assert behind_two.allows("10.0.0.1", spoofed)


def test_derived_keys_are_one_way_and_differ_per_purpose():
    key = derive_key("whk_current", "suno-hooks.inbox.csrf")
    assert len(key) == 32 and b"whk_current" not in key
    assert key == derive_key(b"whk_current", "suno-hooks.inbox.csrf")
    assert key != derive_key("whk_current", "another purpose")
    assert key != derive_key("whk_older", "suno-hooks.inbox.csrf")
    verifier = HmacVerifier(["whk_current", "whk_older"])
    assert verifier.derive_key("suno-hooks.inbox.csrf") == key
    assert TokenSigner("whk_current").derive_key("suno-hooks.inbox.csrf") == key
    assert "whk_current" not in repr(verifier) + repr(TokenSigner("whk_current"))
