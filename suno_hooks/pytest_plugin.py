"""pytest plugin (registered by the package): `make_callback` and `sign_headers` as fixtures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from . import testing


@pytest.fixture
def make_callback() -> Callable[..., dict[str, Any]]:
    """`suno_hooks.testing.make_callback`: build a realistic callback body."""
    return testing.make_callback


@pytest.fixture
def sign_headers() -> Callable[..., dict[str, str]]:
    """`suno_hooks.testing.sign_headers`: the Kie signature headers for a body."""
    return testing.sign_headers
