#!/usr/bin/env python3
"""The project's commands, on any machine with Python 3.10+:

    python3 run.py serve            # the embedded receiver on 127.0.0.1:8000, SQLite inbox
    python3 run.py test             # lint, type-check, the docs in strict mode and the whole test
                                    # suite, on Python 3.10 and 3.13 when they are installed
    python3 run.py test --latest    # the suite on the newest releases of every dependency
    python3 run.py test --lowest    # the suite on the lowest versions pyproject.toml claims
    python3 run.py lock             # re-pin requirements.lock after a dependency change

`serve` and `test` install from `requirements.lock`, so a clone tests exactly what was last tested
and a new upstream release cannot change the result; the library's own ranges stay open for
users. Environments are made by uv (pinned below, installed into `.venv-uv/` on first use).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "requirements.lock"
UV_VERSION = "0.13.9"
SUPPORTED = ("3.10", "3.13")  # the oldest and newest supported Pythons: the suite runs on both
LOCKED_HEADER = "# pyproject.toml dependencies sha256: "
# Test and documentation tools stay at their locked versions under --lowest: the claim under test
# is the library's, not the toolchain's.
TOOLS = (
    "pytest",
    "pytest-asyncio",
    "pytest-xdist",
    "pytest-timeout",
    "pytest-django",
    "hypothesis",
    "ruff",
    "mypy",
    "django-stubs",
    "mkdocs-material",
    "mkdocstrings",
    "build",
    "selenium",
    "setuptools",
    "wheel",
)


def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def bin_dir(environment: Path) -> Path:
    return environment / ("Scripts" if os.name == "nt" else "bin")


def uv() -> Path:
    """uv at the pinned version, installed into `.venv-uv/` the first time."""
    if sys.version_info < (3, 10):  # noqa: UP036 (run.py may be started by an older Python)
        sys.exit("suno-hooks needs Python 3.10 or newer.")
    tools = ROOT / ".venv-uv"
    binary = bin_dir(tools) / ("uv.exe" if os.name == "nt" else "uv")
    stamp = tools / ".installed"
    if binary.exists() and stamp.exists() and stamp.read_text() == UV_VERSION:
        return binary
    venv.EnvBuilder(with_pip=True, clear=True).create(tools)
    run(bin_dir(tools) / "python", "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}")
    stamp.write_text(UV_VERSION)
    return binary


def uv_env() -> dict[str, str]:
    """uv's environment: never download an interpreter (the machine's own are used)."""
    return dict(os.environ, UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")


def dependency_digest() -> str:
    """A digest of what pyproject.toml asks for (its Python range, dependencies and extras); the
    lock records the one it was made from. Read as text: Python 3.10 has no TOML reader."""
    text = (ROOT / "pyproject.toml").read_text()
    parts = [
        r"^requires-python = .*?$",
        r"^dependencies = \[.*?^\]",
        r"^\[project\.optional-dependencies\].*?(?=^\[)",
    ]
    found = [re.search(part, text, re.MULTILINE | re.DOTALL) for part in parts]
    if not all(found):
        sys.exit("pyproject.toml: the dependency tables are not where run.py looks for them.")
    asked = "\n".join(match.group(0).strip() for match in found if match)
    return hashlib.sha256(asked.encode()).hexdigest()


def lock(argv: Sequence[str] = ()) -> None:
    """Pin every package the dev extra needs, for every supported Python, with hashes; pins that
    still fit are kept unless `--upgrade` (or `--upgrade-package NAME`) is given."""
    command = [uv(), "pip", "compile", "pyproject.toml", "--extra", "dev", "--universal"]
    command += ["--python-version", SUPPORTED[0]]
    command += ["--generate-hashes", "--no-header", "--quiet", "-o", LOCK, *argv]
    run(*command, env=uv_env())
    header = (
        "# The versions `python3 run.py test` installs, for every supported Python.\n"
        "# Made by `python3 run.py lock`; do not edit by hand.\n"
        f"{LOCKED_HEADER}{dependency_digest()}\n"
    )
    LOCK.write_text(header + LOCK.read_text())
    print(f"Wrote {LOCK.name}.")


def find_python(version: str) -> str | None:
    """A working `pythonX.Y` on PATH or under pyenv, or None when that version is not installed."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(str(pyenv / "versions" / f"{version}*" / "bin" / "python3")))
    wanted = f"{sys.implementation.name} {version}"
    probe = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2])"
    for candidate in filter(None, candidates):
        found = subprocess.run([candidate, "-c", probe], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == wanted:
            return candidate
    return None


def environment(directory: Path, interpreter: str, extras: str, resolution: str = "locked") -> Path:
    """A virtualenv at `directory` holding the project (editable) with `extras`, installed at the
    locked versions, the newest (`latest`) or the lowest claimed (`lowest`); its Python."""
    python = bin_dir(directory) / ("python.exe" if os.name == "nt" else "python")
    inputs = (ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()
    wanted = hashlib.sha256(inputs + f"{interpreter} {extras} {resolution}".encode()).hexdigest()
    stamp = directory / ".installed"
    fresh = python.exists() and stamp.exists() and stamp.read_text() == wanted
    if resolution == "locked" and fresh:
        return python
    binary, env = uv(), uv_env()
    if resolution != "locked" or not python.exists():  # --latest and --lowest start empty
        run(binary, "venv", "--quiet", "--clear", "--python", interpreter, directory, env=env)
    install = [binary, "pip", "install", "--quiet", "--python", python, "--reinstall-package"]
    install += ["suno-hooks", "-e", f".[{extras}]"]
    if resolution == "locked":
        install += ["--constraint", LOCK, "--build-constraint", LOCK]
    elif resolution == "latest":
        install += ["--upgrade", "--refresh"]
    else:
        tools = directory / "tools.txt"
        tools.write_text("".join(f"{line}\n" for line in locked_pins(TOOLS)))
        install += ["--resolution", "lowest-direct", "--constraint", tools]
    run(*install, env=env)
    stamp.write_text(wanted)
    return python


def locked_pins(names: Sequence[str]) -> list[str]:
    """The lock's `name==version ; marker` lines for `names`, without their hashes."""
    pins = []
    for line in LOCK.read_text().splitlines():
        requirement = line.rstrip(" \\")
        name = requirement.split("==", 1)[0]
        if "==" in requirement and not line.startswith((" ", "#")) and name in names:
            pins.append(requirement)
    return pins


def has_postgres() -> bool:
    """True when PostgreSQL's `initdb` is on PATH or in Debian's versioned directory."""
    return bool(shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def apt_install(packages: dict[str, Callable[[], bool]]) -> None:
    """Install the Debian packages the tests need when missing; stop loudly if that fails."""
    missing = [name for name, present in packages.items() if not present()]
    if not missing:
        return
    if not shutil.which("apt-get"):
        sys.exit(f"The tests need {', '.join(missing)} and apt-get is not available.")
    sudo = [] if os.name != "posix" or os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["update"], ["install", "-y", "--no-install-recommends", *missing]):
        print("+ apt-get", " ".join(command), flush=True)
        done = subprocess.run([*sudo, "apt-get", *command], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"apt-get {command[0]} failed:\n{done.stdout}{done.stderr}")
    for name in missing:
        if not packages[name]():
            sys.exit(f"{name} was installed but cannot be found.")


def services() -> None:
    """What the suite's real services need: redis-server, PostgreSQL and headless Chromium."""
    apt_install(
        {
            "redis-server": lambda: bool(shutil.which("redis-server")),
            "postgresql": has_postgres,
            "chromium": lambda: os.access("/usr/bin/chromium", os.X_OK),
            "chromium-driver": lambda: os.access("/usr/bin/chromedriver", os.X_OK),
        }
    )


def interpreters() -> list[tuple[str, str]]:
    """(version, interpreter) for each supported Python installed here; in CI every one must be,
    elsewhere the Python running this script stands in when none is."""
    found = [(version, find_python(version)) for version in SUPPORTED]
    missing = [version for version, path in found if path is None]
    if missing and os.environ.get("CI"):
        sys.exit(f"CI runs the suite on Python {' and '.join(SUPPORTED)}: {missing} not found.")
    for version in missing:
        print(f"Python {version} is not installed: the suite does not run there.")
    present = [(version, path) for version, path in found if path is not None]
    return present or [(f"{sys.version_info[0]}.{sys.version_info[1]}", sys.executable)]


def serve(argv: list[str]) -> None:
    python = environment(ROOT / ".venv", sys.executable, "cli,inbox")
    run(bin_dir(python.parent.parent) / "suno-hooks", "serve", *argv)


def test(argv: list[str]) -> None:
    resolution = "locked"
    for flag in ("--latest", "--lowest"):
        if flag in argv:
            argv = [a for a in argv if a != flag]
            resolution = flag[2:]
    pythons = interpreters()
    if resolution == "lowest":
        pythons = pythons[:1]  # the lowest claims are the oldest Python's
    prefix = ".venv-" if resolution == "locked" else f".venv-{resolution}-"
    envs = [environment(ROOT / f"{prefix}{v}", path, "dev", resolution) for v, path in pythons]
    tools = bin_dir(envs[-1].parent.parent)
    if resolution == "locked":
        run(tools / "ruff", "check", ".")
        run(tools / "ruff", "format", "--check", ".")
        run(tools / "mypy")
        docs = dict(os.environ, NO_MKDOCS_2_WARNING="1")
        run(tools / "mkdocs", "build", "--strict", "--quiet", "--site-dir", ROOT / "site", env=docs)
    services()
    # Two workers a core: most tests wait on a server, a worker process or a timer.
    workers = ["-n", str(min(2 * (os.cpu_count() or 1), 4)), "--dist", "loadfile"]
    for python in envs:
        run(python, "-m", "pytest", "-q", *workers, *argv)


def main() -> None:
    commands: dict[str, Callable[[list[str]], None]] = {"serve": serve, "test": test, "lock": lock}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 run.py {{{'|'.join(commands)}}} [args...]")
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
