"""Start a throwaway PostgreSQL server for the tests: `initdb` into a temporary directory and
`postgres` on a free loopback port, as the `postgres` user when running as root.

`python3 run.py test` installs PostgreSQL when `initdb` is missing; here a missing server is a
failure, never a skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
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

__all__ = [
    "PostgresCluster",
    "PostgresServer",
    "find_postgres_bin",
    "restartable_postgres",
    "running_postgres",
]


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


class PostgresCluster:
    """A throwaway data directory and its server process, which can be stopped and started
    again on the same port (its data kept), as a restart or an outage would."""

    def __init__(self) -> None:
        self.bindir = find_postgres_bin()
        self.root = Path(tempfile.mkdtemp(prefix="suno-hooks-pg-"))
        os.chmod(self.root, 0o755)
        self.prefix = _as_postgres_user(self.root)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.server = PostgresServer("127.0.0.1", free_port())
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [
                *self.prefix,
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
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

    def start(self) -> PostgresServer:
        """Start the server and wait until it accepts connections."""
        server = self.server
        with open(self.log, "ab") as log_file:
            self.process = subprocess.Popen(
                [
                    *self.prefix,
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(server.port),
                    "-h",
                    server.host,
                    "-k",
                    str(self.root),
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=50",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(
                    host=server.host, port=server.port, user=server.user, dbname=server.name
                ).close()
                return server
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"PostgreSQL did not start:\n{self.log.read_text()}", pytrace=False)
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (a fast shutdown: sessions are cut, data kept)."""
        process, self.process = self.process, None
        if process is None:
            return
        # SIGINT asks the postmaster itself (runuser does not pass it on) for a fast shutdown.
        pid_file = self.data / "postmaster.pid"
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        except (OSError, ValueError, IndexError):
            process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def remove(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the duration of the block; stopped and deleted afterwards."""
    with restartable_postgres() as cluster:
        yield cluster.server


@contextmanager
def restartable_postgres() -> Iterator[PostgresCluster]:
    """A started `PostgresCluster` for the duration of the block; deleted afterwards."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
