"""Reading whole numbers from untrusted text: `str.isdigit` also accepts digits such as `"²"`,
which `int` refuses, and `int` refuses past 4,300 digits."""

from __future__ import annotations

__all__ = ["whole_number"]


def whole_number(text: str, max_digits: int = 18, *, signed: bool = False) -> int | None:
    """`text` (surrounding space ignored; with `signed`, one leading `-` allowed) as an int when
    the rest is ASCII digits, at most `max_digits` of them; None otherwise."""
    text = text.strip()
    digits = text[1:] if signed and text.startswith("-") else text
    if not (0 < len(digits) <= max_digits and digits.isascii() and digits.isdigit()):
        return None
    return int(text)
