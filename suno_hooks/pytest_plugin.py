"""pytest plugin (registered by the package): the toolkit as fixtures.

`suno_make_callback` and `suno_sign_headers` (also as `make_callback` and `sign_headers`) build
and sign callback bodies; `suno_events` captures the events a test dispatched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from . import testing


@pytest.fixture
def suno_make_callback() -> Callable[..., dict[str, Any]]:
    """`suno_hooks.testing.make_callback`: build a realistic callback body."""
    return testing.make_callback


@pytest.fixture
def suno_sign_headers() -> Callable[..., dict[str, str]]:
    """`suno_hooks.testing.sign_headers`: the Kie signature headers for a body."""
    return testing.sign_headers


@pytest.fixture
def make_callback() -> Callable[..., dict[str, Any]]:
    """`suno_make_callback` under its first name."""
    return testing.make_callback


@pytest.fixture
def sign_headers() -> Callable[..., dict[str, str]]:
    """`suno_sign_headers` under its first name."""
    return testing.sign_headers


@pytest.fixture
def suno_events() -> Iterator[testing.CapturedEvents]:
    """Every event dispatched during the test, in order (`testing.capture_events`)."""
    with testing.capture_events() as captured:
        yield captured
