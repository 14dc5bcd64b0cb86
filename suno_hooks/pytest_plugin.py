"""pytest plugin (registered by the package): the toolkit as fixtures.

`suno_make_callback` and `suno_sign_headers` (also as `make_callback` and `sign_headers`) build
and sign callback bodies; `suno_events` captures the events a test dispatched; `suno_sandbox` is
a local Suno API on a free port (needs the `sandbox` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from . import testing

if TYPE_CHECKING:
    from .sandbox import SandboxHandle


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


@pytest.fixture
def suno_sandbox_options() -> dict[str, Any]:
    """Keyword arguments of `suno_hooks.sandbox.serve_sandbox` for `suno_sandbox`; override
    this fixture to change the HMAC key, the API key, the timing or the scenarios."""
    return {"hmac_key": "whk_sandbox_test_key"}


@pytest.fixture
def suno_sandbox(suno_sandbox_options: dict[str, Any]) -> Iterator[SandboxHandle]:
    """A sandbox Suno API on a free port, stopped after the test: its handle, with `url`,
    `api_key` and `hmac_key`, creates tasks, lists tasks and attempts and waits for them."""
    from .sandbox import serve_sandbox

    with serve_sandbox(**suno_sandbox_options) as handle:
        yield handle
