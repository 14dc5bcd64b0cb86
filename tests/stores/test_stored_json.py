"""JSON the stores write: `Delivery.meta_json` (the small fields every durable store keeps
beside the body) and `jsonb_value` (a context or headers as PostgreSQL's jsonb can hold them)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from suno_hooks.stores import Delivery
from suno_hooks.stores._text import jsonb_value

# What a context or a header can hold once decoded from JSON or HTTP: any text, lone surrogates
# included, and numbers of every size (NaN excepted: it never equals itself).
_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


def _delivery(context: Any, headers: dict[str, str]) -> Delivery:
    return Delivery(
        "t1:complete", "t1", "complete", b"{}", "music", context=context, headers=headers
    )


@given(st.dictionaries(_TEXT, _JSON, max_size=4), st.dictionaries(_TEXT, _TEXT, max_size=3))
def test_meta_reads_back_as_written(context: dict[str, Any], headers: dict[str, str]):
    delivery = _delivery(context, headers)
    meta = json.loads(delivery.meta_json())
    assert meta == {
        "kind": "music",
        "feature": None,
        "context": context,
        "headers": headers,
        "peer": None,
        "source": "callback",
    }


def test_text_that_is_not_utf8_is_escaped_rather_than_refused():
    text = _delivery({"lone": "\ud800"}, {}).meta_json()
    assert "\\ud800" in text and text.isascii()
    assert json.loads(text)["context"] == {"lone": "\ud800"}


def test_infinities_read_back():
    meta = json.loads(_delivery({"up": math.inf, "down": -math.inf}, {}).meta_json())
    assert meta["context"] == {"up": math.inf, "down": -math.inf}


def _clean(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_clean(key) and _clean(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_clean(item) for item in value)
    return True


@given(_JSON)
@example({"a\x00": ["b\ud800", "c"]})
def test_jsonb_value_holds_no_text_postgresql_refuses(value: Any):
    cleaned = jsonb_value(value)
    assert "\\u0000" not in json.dumps(cleaned)
    json.dumps(cleaned, ensure_ascii=False).encode("utf-8")  # no lone surrogate left
    if _clean(value):
        assert cleaned == value
