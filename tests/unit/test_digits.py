"""`whole_number` reads what `int` reads from plain ASCII digits and refuses everything else
without raising; the parsers of untrusted text that use it never crash on `"²"`."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from suno_hooks._callbacks.poll_records import callback_body
from suno_hooks._callbacks.whole_numbers import whole_number
from suno_hooks.inbox.listing import ListQuery


@given(st.text(max_size=30), st.integers(min_value=1, max_value=30), st.booleans())
@example("²", 18, False)
@example("-²", 18, True)
@example("9" * 5000, 18, False)
def test_whole_number_never_raises_and_agrees_with_int(text: str, limit: int, signed: bool):
    number = whole_number(text, limit, signed=signed)
    digits = text.strip().removeprefix("-") if signed else text.strip()
    plain = digits.isascii() and digits.isdigit() and 0 < len(digits) <= limit
    if plain:
        assert number == int(text.strip())
    else:
        assert number is None


def test_unicode_digits_are_not_numbers():
    assert whole_number("²") is None
    assert whole_number(" 42 ") == 42
    assert whole_number("-42") is None
    assert whole_number("-42", signed=True) == -42
    assert whole_number("1234", 3) is None


def test_a_superscript_page_number_is_ignored_not_a_crash():
    query, problems = ListQuery.from_params({"page": "²"})
    assert query.page == 1
    assert problems == ["Ignored the page number '²'."]


def test_polled_records_with_superscript_codes_are_read_not_a_crash():
    failed = {"state": "fail", "failCode": "²", "failMsg": "no"}
    body = callback_body("mk", "ai-music-api/sounds", {"code": 200, "data": failed})
    assert body is not None and body["code"] == 501
    flagged = {"status": "²", "errorCode": "³"}
    assert callback_body("t", "generate", {"code": 200, "data": flagged}) is None
