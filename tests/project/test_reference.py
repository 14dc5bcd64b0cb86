"""The API reference documents every public name: each name in the `__all__` of `suno_hooks` and
of each public module is rendered on a page under docs/reference/, as mkdocstrings builds them
(with `--strict`), and the `Receiver` page has a row for each of its arguments."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from suno_hooks import Receiver
from suno_hooks._pipeline.settings import ENV_PREFIX, ENV_VARIABLES, SETTINGS
from suno_hooks.client import FEATURES
from suno_hooks.contrib.django.conf import RECEIVER_OPTIONS
from suno_hooks.contrib.flask import CONFIG_OPTIONS

from .test_docstrings import _public_modules

ROOT = Path(__file__).resolve().parents[2]
_ANCHOR = re.compile(r'\bid="(suno_hooks(?:\.\w+)*)"')
_MISSING = object()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation site, built as `python3 run.py test` builds it."""
    directory = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", directory],
        cwd=ROOT,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    return directory


@pytest.fixture(scope="module")
def documented(site: Path) -> list[tuple[str, Any]]:
    """Each object the reference pages render, by its anchor, with the object it names."""
    anchors = set()
    for page in (site / "reference").rglob("*.html"):
        anchors.update(_ANCHOR.findall(page.read_text()))
    assert anchors, "the reference pages render no object"
    return [(anchor, resolve(anchor)) for anchor in sorted(anchors)]


def resolve(path: str) -> Any:
    """The object a dotted path names: the longest importable module, then its attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            attribute = getattr(found, name, _MISSING)
            found = _field(found, name) if attribute is _MISSING else attribute
        return found
    return _MISSING


def _field(owner: Any, name: str) -> Any:
    """A field of a pydantic model or a dataclass, which is not a class attribute."""
    fields = getattr(owner, "model_fields", None) or getattr(owner, "__dataclass_fields__", {})
    return fields.get(name, _MISSING) if isinstance(fields, dict) else _MISSING


def public_names() -> list[tuple[str, str]]:
    """(module, name) for every name each public module exports."""
    names = []
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        names.extend((module_name, name) for name in getattr(module, "__all__", ()))
    return names


def test_the_public_modules_export_names():
    modules = {module for module, _ in public_names()}
    for expected in ("suno_hooks", "suno_hooks.stores", "suno_hooks.client", "suno_hooks.reconcile",
                     "suno_hooks.sandbox", "suno_hooks.inbox", "suno_hooks.testing",
                     "suno_hooks.wsgi", "suno_hooks.asgi", "suno_hooks.contrib.flask",
                     "suno_hooks.contrib.starlette", "suno_hooks.contrib.fastapi",
                     "suno_hooks.contrib.django.signals"):  # fmt: skip
        assert expected in modules, expected


def test_every_public_name_is_in_the_reference(documented: list[tuple[str, Any]]):
    missing = []
    for module_name, name in public_names():
        value = getattr(importlib.import_module(module_name), name)
        if not any(
            found is value or (anchor.rsplit(".", 1)[-1] == name and _same(found, value))
            for anchor, found in documented
        ):
            missing.append(f"{module_name}.{name}")
    assert not missing, "add to a page under docs/reference/:\n" + "\n".join(missing)


def _same(found: Any, value: Any) -> bool:
    try:
        return bool(found == value)
    except Exception:
        return False


def test_every_anchor_names_an_object(documented: list[tuple[str, Any]]):
    assert [anchor for anchor, found in documented if found is _MISSING] == []


def receiver_table() -> dict[str, list[str]]:
    """The rows of the argument table on the `Receiver` page, by argument."""
    text = (ROOT / "docs" / "reference" / "receiver.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        found = re.fullmatch(r"`(\w+)`", cells[0]) if line.startswith("|") else None
        if found:
            rows[found.group(1)] = cells
    return rows


def env_setting(keyword: str) -> str:
    """The environment variable `Receiver.from_env()` reads for `keyword`, or "—"."""
    names = [ENV_PREFIX + s.name for s in SETTINGS if s.keyword == keyword]
    return names[0] if names and names[0] in ENV_VARIABLES else "—"


def test_the_receiver_page_has_a_row_for_each_argument():
    rows = receiver_table()
    parameters = inspect.signature(Receiver.__init__).parameters
    arguments = [name for name in parameters if name != "self"]
    assert list(rows) == arguments
    flask = {keyword: key for key, keyword in CONFIG_OPTIONS.items()}
    django = {keyword: key for key, keyword in RECEIVER_OPTIONS.items()}
    for name in arguments:
        assert len(rows[name]) == 7, name
        _, kind, default, what, environment, flask_key, django_key = rows[name]
        assert kind and what, name
        shown = re.match(r"`([^`]+)`", default)
        assert shown, (name, default)
        assert shown.group(1) == repr(parameters[name].default), (name, default)
        assert environment.strip("`") == env_setting(name), name
        assert flask_key.strip("`") == flask.get(name, "—"), name
        assert django_key.strip("`") == django.get(name, "—"), name


def test_the_client_page_lists_every_feature_with_its_endpoints():
    text = (ROOT / "docs" / "reference" / "client.md").read_text()
    rows = re.findall(r"^\| `([\w-]+)` \| `(\S+)` \| `(\S+)` \|$", text, re.MULTILINE)
    assert rows == [(f.name, f.create_path, f.record_path) for f in FEATURES.values()]
