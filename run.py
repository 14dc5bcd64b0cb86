#!/usr/bin/env python3
"""The project's two commands, on any machine with Python 3.10+:

    python3 run.py serve   # the embedded receiver on 127.0.0.1:8000, SQLite inbox
    python3 run.py test    # lint, type-check, the docs in strict mode and the whole test suite
                           # (again on Python 3.10 and 3.13 when they are installed)

Each creates `.venv` on first use and installs what it needs (again when pyproject.toml changes).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed"
OTHER_PYTHONS = ("3.10", "3.13")  # the oldest and newest supported: the suite runs there too


def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv(directory: Path = VENV, interpreter: str | None = None) -> Path:
    """Create a virtualenv (by default `.venv` with this Python) and install the project with its
    dev extras when out of date; its Python."""
    if sys.version_info < (3, 10):  # noqa: UP036 (run.py may be started by an older Python)
        sys.exit("suno-hooks needs Python 3.10 or newer.")
    python = directory / PYTHON.relative_to(VENV)
    stamp = directory / STAMP.name
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        if interpreter is None:
            venv.EnvBuilder(with_pip=True).create(directory)
        else:
            run(interpreter, "-m", "venv", directory)
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    stamp.write_text(wanted)
    return python


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


def has_postgres() -> bool:
    """True when PostgreSQL's `initdb` is on PATH or in Debian's versioned directory."""
    return bool(shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb"))


def has_redis() -> bool:
    """True when `redis-server` is on PATH."""
    return bool(shutil.which("redis-server"))


def apt_install(package: str, present: Callable[[], bool]) -> None:
    """Install a Debian package the tests need when it is missing; stop loudly if that fails."""
    if present():
        return
    if not shutil.which("apt-get"):
        sys.exit(f"The tests need {package} and apt-get is not available to install it.")
    sudo = [] if os.name != "posix" or os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(*sudo, "apt-get", "update", env=env)
    run(*sudo, "apt-get", "install", "-y", "--no-install-recommends", package, env=env)
    if not present():
        sys.exit(f"{package} was installed but cannot be found.")


def serve(argv: list[str]) -> None:
    ensure_venv()
    run(BIN / "suno-hooks", "serve", *argv)


def test(argv: list[str]) -> None:
    ensure_venv()
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    docs = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    run(BIN / "mkdocs", "build", "--strict", "--quiet", "--site-dir", ROOT / "site", env=docs)
    apt_install("redis-server", has_redis)  # the Redis store's tests start real servers
    apt_install("postgresql", has_postgres)  # so do the Django store's concurrency tests
    apt_install("chromium", lambda: os.access("/usr/bin/chromium", os.X_OK))  # the inbox page
    apt_install("chromium-driver", lambda: os.access("/usr/bin/chromedriver", os.X_OK))
    run(PYTHON, "-m", "pytest", "-q", *argv)
    for version in OTHER_PYTHONS:
        interpreter = find_python(version)
        if interpreter is None:
            print(f"Python {version} is not installed: the suite ran on this Python only.")
            continue
        python = ensure_venv(ROOT / f".venv-{version}", interpreter)
        run(python, "-m", "pytest", "-q", *argv)


def main() -> None:
    commands = {"serve": serve, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: python3 run.py {{{'|'.join(commands)}}} [args...]")
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
