"""Rendering: the package's Jinja2 templates with autoescaping always on."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined

__all__ = ["environment", "render", "stylesheet"]


def when(value: float | datetime | None) -> str:
    """A moment as UTC text (`2026-05-01 12:00:00 UTC`); an empty value as a dash."""
    if value is None or value == 0:
        return "–"
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def as_json(value: Any) -> str:
    """A value as indented JSON text (escaped by the template like any other text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared Jinja2 environment: package templates, autoescape on, strict undefined."""
    env = Environment(
        loader=PackageLoader("suno_hooks.inbox", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["as_json"] = as_json
    return env


def render(template: str, *, root: str, **context: Any) -> str:
    """Render a page template; `url(path, **params)` in templates builds links under `root`."""

    def url(path: str, **params: Any) -> str:
        query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
        return f"{root}{path}" + (f"?{query}" if query else "")

    return environment().get_template(template).render(url=url, root=root, **context)


@functools.lru_cache(maxsize=1)
def stylesheet() -> bytes:
    """The page's stylesheet, shipped in the package."""
    return resources.files("suno_hooks.inbox").joinpath("static/inbox.css").read_bytes()
