"""Real services for the test suite: a `redis-server` on a free loopback port, and a
three-node Redis Cluster.

A missing binary or a server that does not come up fails the test that needs it; nothing skips.
`python3 run.py test` installs `redis-server` when it is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running(
    command: list[str],
    url: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 30,
) -> Iterator[subprocess.Popen[str]]:
    """Start a server process, wait until `url` answers HTTP (any status), yield the process and
    stop it afterwards; the test fails with the server's output if it dies or never answers."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    output = process.stdout.read() if process.stdout else ""
                    pytest.fail(f"{command[0]} did not answer on {url}:\n{output}")
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RedisServer:
    """One `redis-server` process with its own directory; it can be stopped and started again
    on the same port, keeping its data (append-only file, fsync on every write) unless
    `persistent=False` (benchmarks)."""

    def __init__(self, directory: Path, *, persistent: bool = True, cluster: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed; `python3 run.py test` installs it "
                "(apt-get install -y redis-server)."
            )
        self.binary = binary
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.persistent = persistent
        self.cluster = cluster
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--protected-mode",
            "no",
        ]
        if self.persistent:
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        if self.cluster:
            command += ["--cluster-enabled", "yes", "--cluster-port", str(free_port())]
            command += ["--cluster-config-file", str(self.directory / "nodes.conf")]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode}; see "
                    f"{self.directory / 'redis.log'}"
                )
            if self._answers():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within 10 s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Shut down cleanly (SIGTERM: the server flushes its append-only file first)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class RedisClusterServers:
    """Three `redis-server` primaries in cluster mode (no replicas), joined by
    `redis-cli --cluster create`; `url` is a `redis+cluster://` URL for `RedisStore`."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-cli")
        if binary is None:
            raise RuntimeError("redis-cli is not installed (it comes with redis-server).")
        self.cli = binary
        self.nodes = [
            RedisServer(directory / f"node{i}", persistent=False, cluster=True) for i in range(3)
        ]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def start(self) -> RedisClusterServers:
        """Start the nodes, assign the 16384 slots and wait until every node reports `ok`."""
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            options = ["--cluster-replicas", "0", "--cluster-yes"]
            subprocess.run(
                [self.cli, "--cluster", "create", *addresses, *options],
                check=True,
                capture_output=True,
                timeout=60,
            )
            deadline = time.monotonic() + 30
            while not all(self._ready(node) for node in self.nodes):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Redis cluster did not reach cluster_state:ok in 30 s")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self, node: RedisServer) -> bool:
        info = subprocess.run(
            [self.cli, "-p", str(node.port), "cluster", "info"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        return "cluster_state:ok" in info and "cluster_slots_assigned:16384" in info

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
