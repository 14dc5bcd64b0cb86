"""The media archive's parsers and validators under any input: `KeptFile.from_dict`, file
names, the sandbox's `media` scenario and the `SUNO_HOOKS["MEDIA"]` check; and a target that
fails is reported like a failed download."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from suno_hooks.contrib.django.media_checks import check_media
from suno_hooks.media import KeepFailed, KeptFile, LocalTarget, MediaArchive
from suno_hooks.media.wanted import safe_name
from suno_hooks.sandbox.scenarios import Scenario
from suno_hooks.sandbox.validation import CreateError
from suno_hooks.testing import make_callback

from ..support.media_helpers import event_of

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
records = st.builds(
    KeptFile,
    key=st.text(min_size=1, max_size=40),
    name=st.text(min_size=1, max_size=40),
    location=st.text(min_size=1, max_size=80),
    bytes=st.integers(0, 2**40),
    sha256=st.text("0123456789abcdef", min_size=64, max_size=64),
    content_type=st.none() | st.text(max_size=30),
    kept_at=st.datetimes(timezones=st.just(timezone.utc)),
    source=st.none() | st.text(max_size=80),
)


@given(records)
def test_a_record_survives_json(record: KeptFile) -> None:
    assert KeptFile.from_dict(record.to_dict()) == record


@given(st.dictionaries(st.sampled_from([*KeptFile.__slots__, "x"]), json_values) | json_values)
def test_any_json_is_a_record_or_none(data: Any) -> None:
    found = KeptFile.from_dict(data)
    assert found is None or (isinstance(found, KeptFile) and found.kept_at.tzinfo is not None)


@given(st.text(max_size=300))
def test_a_safe_name_is_one_harmless_path_segment(text: str) -> None:
    name = safe_name(text, "fallback")
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}", name)
    assert name not in (".", "..") and "/" not in name


@given(st.text(max_size=40))
def test_any_media_scenario_text_parses_or_is_refused(arg: str) -> None:
    modes = ("missing", "slow", "expired")
    if arg.strip().lower() not in modes:
        with pytest.raises(CreateError):
            Scenario.parse(f"media:{arg}")
        return
    scenario = Scenario.parse(f"media:{arg}")
    assert scenario.name == "media" and scenario.arg in modes


@given(st.dictionaries(st.sampled_from(["TARGET", "STORAGE", "MAX_BYTES", "x"]), json_values))
def test_the_media_check_never_raises(media: dict[str, Any]) -> None:
    with override_settings(SUNO_HOOKS={"STORE": "memory://", "MEDIA": media}):
        found = check_media()
    assert all(message.id and message.hint for message in found)


class FullDisk(LocalTarget):
    def save(self, key: str, chunks: Iterable[bytes], content_type: str | None) -> str:
        raise OSError(28, "No space left on device")


def test_a_failing_target_is_reported_like_a_failed_download(tmp_path: Path) -> None:
    archive = MediaArchive(FullDisk(tmp_path))
    event = event_of(make_callback("lyrics", "complete", task_id="full"))
    with pytest.raises(KeepFailed, match="No space left") as caught:
        archive.keep(event)
    assert not caught.value.failures["lyrics-1.txt"].retryable
    assert event.kept == []
    archive.close()
