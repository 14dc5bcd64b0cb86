"""A download's chunks gathered into blocks: every byte in order, every block but the last at
least the block size, and the source's error passed through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suno_hooks.media._blocks import gathered


@given(st.lists(st.binary(max_size=300), max_size=40), st.integers(1, 700))
def test_every_byte_arrives_in_order_in_full_blocks(chunks: list[bytes], block: int) -> None:
    blocks = list(gathered(chunks, block))
    assert b"".join(blocks) == b"".join(chunks)
    assert all(len(part) >= block for part in blocks[:-1])
    assert all(blocks)


def test_an_error_of_the_source_goes_through() -> None:
    def source() -> Iterator[bytes]:
        yield b"a" * 10
        raise ConnectionError("cut")

    blocks = gathered(source(), block=4)
    assert next(blocks) == b"a" * 10
    with pytest.raises(ConnectionError, match="cut"):
        next(blocks)
