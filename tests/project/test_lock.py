"""`requirements.lock` is what the test command installs: it must be the lock of today's
pyproject.toml (made from the same dependency tables) and give every requirement of the dev
extra a version that satisfies it, on every supported Python."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import run

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def locked() -> list[Requirement]:
    """Every `name==version ; marker` line of the lock."""
    pins = []
    for line in run.LOCK.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            pins.append(Requirement(line.rstrip(" \\")))
    return pins


def dev_requirements() -> list[Requirement]:
    """The dev extra, with the project's own extras it names expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    found, pending = [], ["dev"]
    seen: set[str] = set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in extras[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "suno-hooks":
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found + [Requirement(text) for text in project["dependencies"]]


def environment(python: str) -> dict[str, str]:
    env = default_environment()
    env.update(python_version=python, python_full_version=f"{python}.0")
    return env


def test_the_lock_was_made_from_todays_pyproject():
    header = next(
        line for line in run.LOCK.read_text().splitlines() if line.startswith(run.LOCKED_HEADER)
    )
    assert header.removeprefix(run.LOCKED_HEADER) == run.dependency_digest(), (
        "pyproject.toml's dependencies changed since the lock was made: run `python3 run.py lock`."
    )


@pytest.mark.parametrize("python", PYTHONS)
def test_every_requirement_has_one_locked_version_that_satisfies_it(python: str):
    env = environment(python)
    pins: dict[str, str] = {}
    for pin in locked():
        if pin.marker is None or pin.marker.evaluate(env):
            name = canonicalize_name(pin.name)
            assert name not in pins, f"{name} is pinned twice for Python {python}"
            [specifier] = pin.specifier
            pins[name] = specifier.version
    for requirement in dev_requirements():
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in the lock for Python {python}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"the lock pins {name}=={pins[name]}, outside {requirement} (Python {python})"
        )


def test_the_lock_covers_django_6_on_the_newest_python():
    env = environment(PYTHONS[-1])
    [django] = [
        p for p in locked() if p.name == "django" and (p.marker is None or p.marker.evaluate(env))
    ]
    assert next(iter(django.specifier)).version.startswith("6.")
