"""Reading a download ahead in a thread: every byte in order, the source's error raised where
it happened, and the thread stopped when the reader leaves early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suno_hooks.media._readahead import read_ahead


@given(st.lists(st.binary(max_size=300), max_size=40), st.integers(1, 700), st.integers(1, 4))
def test_every_byte_arrives_in_order(chunks: list[bytes], block: int, depth: int) -> None:
    with read_ahead(iter(chunks), block, depth) as blocks:
        got = list(blocks)
    assert b"".join(got) == b"".join(chunks)
    assert all(len(part) >= block for part in got[:-1])


def test_an_error_of_the_source_is_raised_after_what_was_read_before_it() -> None:
    def source() -> Iterator[bytes]:
        yield b"a" * 10
        raise ConnectionError("cut")

    got: list[bytes] = []
    with read_ahead(source(), block=4) as blocks, pytest.raises(ConnectionError, match="cut"):
        got.extend(blocks)
    assert b"".join(got) == b"a" * 10


def test_leaving_early_stops_the_reading_thread() -> None:
    produced = 0
    closed = threading.Event()

    def endless() -> Iterator[bytes]:
        nonlocal produced
        try:
            while True:
                produced += 1
                yield b"x" * 100
        finally:
            closed.set()

    before = threading.active_count()
    with read_ahead(endless(), block=100, depth=2) as blocks:
        next(blocks)
    assert threading.active_count() == before
    seen = produced
    assert seen <= 5  # the depth bounds what is read ahead
    assert produced == seen
