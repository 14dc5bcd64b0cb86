"""Docstrings say the rule they describe: no shipped file cites a document that does not ship
with the package, and every name a public module exports carries a docstring of its own."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "suno_hooks"

# The modules users import; the framework adapters under `contrib` are found by walking it.
PUBLIC_MODULES = (
    "suno_hooks",
    "suno_hooks.wsgi",
    "suno_hooks.asgi",
    "suno_hooks.stores",
    "suno_hooks.handoff",
    "suno_hooks.client",
    "suno_hooks.reconcile",
    "suno_hooks.sandbox",
    "suno_hooks.inbox",
    "suno_hooks.testing",
    "suno_hooks.errors",
    "suno_hooks.events",
    "suno_hooks.signals",
)

# A citation of a document that is not in the wheel: the design notes ("DESIGN §11"), sections
# of the callback contract notes ("spec §7", "§5.5", "the spec's order"), their open questions
# ("U10") and their source keys ("K-RS-CB", "S-RS-CN", "DT-WAV-CB-CN").
CITATION = re.compile(
    r"DESIGN"
    r"|\bspec\s*§"
    r"|§\s*\d"
    r"|\bU\d+\b"
    r"|\b(?:the|Kie's) spec\b|\bspec's\b"
    r"|\b(?:K|S|DT|OLD)-[A-Z]{2,}(?:-[A-Z]+)*\b"
)


def _shipped_text_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images, fonts
        files.append(path)
    return files


def test_the_citation_pattern_catches_what_it_is_for():
    for cited in ("(DESIGN §11)", "spec §7", "(§5.5)", "spec U10", "in the spec's order",
                  "(K-RS-CB)", "S-RS-CN", "DT-WAV-CB-CN"):  # fmt: skip
        assert CITATION.search(cited), cited
    for plain in ("HMAC-SHA256", "X-Webhook-Timestamp", "UTF-8", "U+2212", "importlib spec",
                  "https://docs.kie.ai/suno-api/replace-section-callbacks"):  # fmt: skip
        assert not CITATION.search(plain), plain


def test_no_shipped_file_cites_a_document_that_does_not_ship():
    found = []
    for path in _shipped_text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = CITATION.search(line)
            if match:
                where = path.relative_to(PACKAGE.parent)
                found.append(f"{where}:{number}: {match.group()!r} in {line.strip()}")
    assert not found, "state the rule or link Kie's public docs instead:\n" + "\n".join(found)


def _contrib_modules() -> list[str]:
    contrib = importlib.import_module("suno_hooks.contrib")
    names = ["suno_hooks.contrib"]
    for info in pkgutil.walk_packages(contrib.__path__, "suno_hooks.contrib."):
        parts = info.name.split(".")
        if any(part.startswith("_") or part == "migrations" for part in parts):
            continue
        names.append(info.name)
    return names


def _public_modules() -> list[str]:
    return [*PUBLIC_MODULES, *_contrib_modules()]


def _own_docstring(obj: Any) -> str | None:
    """The docstring written for `obj` itself: not its class's, nor one a decorator made up."""
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        if doc and dataclasses.is_dataclass(obj) and doc.startswith(obj.__name__ + "("):
            return None  # the signature `dataclass` writes when the class has no docstring
        return doc
    if inspect.isfunction(obj) or inspect.ismodule(obj) or inspect.ismethod(obj):
        return obj.__doc__
    if callable(obj) and hasattr(obj, "__wrapped__"):
        return _own_docstring(obj.__wrapped__)
    if hasattr(obj, "__dict__") and isinstance(vars(obj).get("__doc__"), str):
        return str(vars(obj)["__doc__"])  # a blinker signal's `doc`
    return None


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """`body` with the statements of its `if` and `try` blocks spliced in, in order."""
    flat: list[ast.stmt] = []
    for node in body:
        flat.append(node)
        if isinstance(node, ast.If):
            flat.extend(_statements(node.body + node.orelse))
        elif isinstance(node, ast.Try):
            flat.extend(_statements(node.body + node.orelse + node.finalbody))
    return flat


def _attribute_docstring(module: ModuleType, name: str, depth: int = 0) -> str | None:
    """The string under the module-level assignment of `name`, following `from … import`."""
    if depth > 8:
        return None
    body = _statements(ast.parse(inspect.getsource(module)).body)
    for index, node in enumerate(body):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            after = body[index + 1] if index + 1 < len(body) else None
            if (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                return after.value.value
            return None
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    package = module.__name__ if hasattr(module, "__path__") else module.__package__
                    dotted = "." * node.level + (node.module or "")
                    origin = importlib.import_module(importlib.util.resolve_name(dotted, package))
                    return _attribute_docstring(origin, alias.name, depth + 1)
    return None


def _undocumented(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    missing = [] if module.__doc__ else [f"{module_name} (the module)"]
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value) or inspect.ismodule(value):
            doc = _own_docstring(value)
        else:
            doc = _own_docstring(value) or _attribute_docstring(module, name)
        if not (doc and doc.strip()):
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(value) and value.__module__.startswith("suno_hooks"):
            missing.extend(_undocumented_methods(value, f"{module_name}.{name}"))
    return missing


def _undocumented_methods(cls: type, where: str) -> list[str]:
    missing = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        function = member
        if isinstance(member, (staticmethod, classmethod)):
            function = member.__func__
        elif isinstance(member, property):
            function = member.fget
        if not inspect.isfunction(function) or function.__module__ != cls.__module__:
            continue  # attached by a framework's metaclass (Django's `media`)
        if not (function.__doc__ or "").strip():
            missing.append(f"{where}.{name}")
    return missing


def test_the_public_modules_include_the_framework_adapters():
    names = _public_modules()
    assert {"suno_hooks.contrib.flask", "suno_hooks.contrib.starlette"} <= set(names)
    assert "suno_hooks.contrib.django.signals" in names


@pytest.mark.parametrize("module_name", _public_modules())
def test_every_exported_name_has_a_docstring(module_name: str):
    missing = _undocumented(module_name)
    assert not missing, "add a one- or two-sentence docstring to:\n" + "\n".join(missing)
