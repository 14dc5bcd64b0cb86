"""Property tests of the parsers the kept media added: the stores' kept column, the inbox's
byte ranges and the `keep` command's durations never raise on any input and mean what they say."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from suno_hooks.cli.keep import parse_duration
from suno_hooks.inbox.kept import _span
from suno_hooks.media import KeptFile
from suno_hooks.stores._kept import kept_from_json, kept_json, merge_kept, records_from

from .test_media_records import json_values, records


@given(st.lists(records, max_size=6))
def test_the_kept_column_reads_back_what_it_wrote_merged_by_name(files: list[KeptFile]) -> None:
    merged = merge_kept((), files)
    assert kept_from_json(kept_json(files)) == merged
    assert [f.name for f in merged] == sorted({f.name for f in files})
    assert all(f == [g for g in files if g.name == f.name][-1] for f in merged)  # last one wins


@given(st.text(max_size=200) | st.binary(max_size=200) | json_values.map(json.dumps))
def test_any_kept_column_reads_as_records_or_nothing(data: Any) -> None:
    assert all(isinstance(f, KeptFile) for f in kept_from_json(data))


@given(st.lists(json_values, max_size=5))
def test_any_list_of_values_gives_only_records(items: list[Any]) -> None:
    assert all(isinstance(f, KeptFile) for f in records_from(items))


@given(st.text(max_size=40) | st.none(), st.integers(0, 10**9))
def test_any_range_header_is_a_span_inside_the_file_or_unsatisfiable(
    header: str | None, size: int
) -> None:
    span = _span(header, size)
    if span is not None:
        start, end, partial = span
        assert 0 <= start <= end <= size
        assert partial or (start, end) == (0, size)


@given(st.integers(0, 5000), st.integers(0, 5000) | st.none(), st.integers(0, 5000))
def test_a_byte_range_means_what_http_says(first: int, last: int | None, size: int) -> None:
    data = bytes(range(256)) * 20
    data = data[:size]
    header = f"bytes={first}-{'' if last is None else last}"
    span = _span(header, size)
    end = size if last is None else min(size, last + 1)
    if first >= size or first >= end:
        assert span is None
    else:
        assert span is not None and data[span[0] : span[1]] == data[first:end]


@given(st.integers(1, 5000), st.integers(0, 5000))
def test_a_suffix_range_is_the_last_bytes(count: int, size: int) -> None:
    span = _span(f"bytes=-{count}", size)
    assert span is None if size == 0 else span == (max(0, size - count), size, True)


@given(st.text(max_size=20))
def test_any_duration_text_is_seconds_or_a_usage_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except click.BadParameter:
        return
    assert seconds >= 0


@given(st.integers(0, 10**6), st.sampled_from(["s", "m", "h", "d", "w"]))
def test_a_duration_is_its_number_in_its_unit(number: int, unit: str) -> None:
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{number}{unit}") == number * scale


def test_durations_people_write() -> None:
    assert parse_duration("14d") == 14 * 86400
    with pytest.raises(click.BadParameter):
        parse_duration("fortnight")
