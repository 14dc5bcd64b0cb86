"""Start a throwaway PostgreSQL server for the tests: `initdb` into a temporary directory and
`postgres` on a free loopback port, as the `postgres` user when running as root.

`python3 run.py test` installs PostgreSQL when `initdb` is missing; here a missing server is a
failure, never a skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from .services import free_port

__all__ = ["PostgresServer", "find_postgres_bin", "running_postgres"]


@dataclass(frozen=True)
class PostgresServer:
    """Where the server listens; `django_database` is a Django DATABASES entry for it."""

    host: str
    port: int
    user: str = "postgres"
    name: str = "postgres"

    @property
    def django_database(self) -> dict[str, str]:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": self.name,
            "USER": self.user,
            "HOST": self.host,
            "PORT": str(self.port),
        }


def find_postgres_bin() -> Path:
    """The directory holding `initdb` and `postgres` (PATH first, then Debian's layout)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        pytest.fail(
            "PostgreSQL is not installed (no initdb): run `python3 run.py test`, which "
            "installs it, or `apt-get install -y postgresql`.",
            pytrace=False,
        )
    return found[-1].parent


def _as_postgres_user(root: Path) -> list[str]:
    """The command prefix that runs the server as a non-root user (postgres refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/bin/false", "postgres"],
            check=True,
        )
    shutil.chown(root, user="postgres")
    return ["runuser", "-u", "postgres", "--"]


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the duration of the block; stopped and deleted afterwards."""
    bindir = find_postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="suno-hooks-pg-"))
    os.chmod(root, 0o755)
    prefix = _as_postgres_user(root)
    data = root / "data"
    log = root / "server.log"
    subprocess.run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = free_port()
    server = PostgresServer("127.0.0.1", port)
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [
                *prefix,
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-h",
                "127.0.0.1",
                "-k",
                str(root),
                "-c",
                "fsync=off",
                "-c",
                "max_connections=50",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(
                    host=server.host, port=port, user="postgres", dbname="postgres"
                ).close()
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"PostgreSQL did not start:\n{log.read_text()}", pytrace=False)
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
