"""The asyncio store's writes time out under a deadline on the writing task: a write to a server
that stopped reading ends as it does under redis-py's own write timeout (on Python 3.10 and
3.11, redis-py's `TimeoutError` within the socket timeout and a dropped connection), and the
retry on a new connection still applies. No extra task is run per command, which is what the
deadline is for."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
import uuid

import pytest
import redis.asyncio
import redis.exceptions

from suno_hooks.stores import RedisStore
from suno_hooks.stores.redis._clients import ClientFactory
from suno_hooks.stores.redis._deadline import with_write_deadline

from ..support.services import RedisServer
from ..support.stores import delivery

TIMEOUT = 0.3
# Larger than any socket buffer pair, so the write blocks once the peer stops reading.
LARGE = b"x" * (64 * 1024 * 1024)


def _commands(buffer: bytearray) -> list[list[bytes]]:
    """The complete RESP commands at the front of `buffer`, removed from it."""
    commands = []
    while True:
        lines = bytes(buffer).split(b"\r\n")
        if len(lines) < 2 or not lines[0].startswith(b"*"):
            return commands
        count, position, arguments = int(lines[0][1:]), 1, []
        while len(arguments) < count and position + 1 < len(lines):
            arguments.append(lines[position + 1])
            position += 2
        if len(arguments) < count:
            return commands
        del buffer[: len(b"\r\n".join(lines[:position])) + 2]
        commands.append(arguments)


def _answer(command: list[bytes]) -> bytes:
    """A server's answer: `HELLO` as Redis 7 answers it, in the protocol asked for (a map under
    RESP3, a flat array under RESP2); anything else `+OK`."""
    if command[0].upper() != b"HELLO":
        return b"+OK\r\n"
    protocol = int(command[1]) if len(command) > 1 else 2
    fields = [(b"server", b"redis"), (b"version", b"7.0.15"), (b"proto", protocol)]
    fields += [(b"id", 1), (b"mode", b"standalone"), (b"role", b"master"), (b"modules", [])]
    encoded = [b"%7\r\n" if protocol == 3 else b"*14\r\n"]
    for name, value in fields:
        encoded.append(b"$%d\r\n%s\r\n" % (len(name), name))
        if isinstance(value, int):
            encoded.append(b":%d\r\n" % value)
        elif isinstance(value, list):
            encoded.append(b"*0\r\n")
        else:
            encoded.append(b"$%d\r\n%s\r\n" % (len(value), value))
    return b"".join(encoded)


class SilentServer:
    """A TCP server that answers each command as Redis does (the connection handshake included)
    until `stop_reading` is set, then never reads again (a server that hung with its connections
    open)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.stop_reading = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.connections.append(connection)
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        connection.settimeout(0.05)
        buffer = bytearray()
        while not self.stop_reading.is_set():
            try:
                data = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buffer += data
            connection.sendall(b"".join(_answer(command) for command in _commands(buffer)))

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


async def _write_to_a_server_that_stopped_reading(
    connection_class: type[redis.asyncio.Connection],
) -> tuple[str, bool, float | None]:
    """Write more than the socket buffers hold to a server that stopped reading: how the write
    ended, whether the connection is still open, and its socket timeout afterwards."""
    server = SilentServer()
    connection = connection_class(host="127.0.0.1", port=server.port, socket_timeout=TIMEOUT)
    try:
        await connection.connect()
        server.stop_reading.set()
        started = time.monotonic()
        try:
            await connection.send_packed_command([LARGE])
            ended = "written"
        except redis.exceptions.TimeoutError as exc:
            ended = f"timed out: {exc}"
            if time.monotonic() - started > TIMEOUT * 5:
                ended += " (late)"
        return ended, connection.is_connected, connection.socket_timeout
    finally:
        await connection.disconnect(nowait=True)
        server.close()


async def test_a_write_the_server_never_reads_ends_as_with_redis_py_own_timeout():
    ours = await _write_to_a_server_that_stopped_reading(
        with_write_deadline(redis.asyncio.Connection)
    )
    assert ours == await _write_to_a_server_that_stopped_reading(redis.asyncio.Connection)
    if sys.version_info < (3, 12):
        # There the stream pauses past its buffer limit, so the write waits and times out.
        # (Python 3.13's `writelines` buffers without pausing, with or without a deadline.)
        assert ours == ("timed out: Timeout writing to socket", False, TIMEOUT)


async def test_a_write_on_a_closed_connection_connects_it_first(redis_server: RedisServer):
    connection_class = with_write_deadline(redis.asyncio.Connection)
    connection = connection_class(host="127.0.0.1", port=redis_server.port, socket_timeout=TIMEOUT)
    try:
        assert not connection.is_connected
        await connection.send_command("PING")
        assert connection.is_connected
        assert await connection.read_response() in (b"PONG", "PONG")
        assert connection.socket_timeout == TIMEOUT
    finally:
        await connection.disconnect()


async def test_the_store_client_writes_without_a_task_per_command(redis_server: RedisServer):
    client = ClientFactory(redis_server.url, socket_timeout=5.0, connect_timeout=5.0).asyncio()
    try:
        await client.ping()
        loop = asyncio.get_running_loop()
        created: list[object] = []
        original = loop.create_task

        def counting(*args: object, **kwargs: object) -> asyncio.Task[object]:
            created.append(args[0])
            return original(*args, **kwargs)  # type: ignore[arg-type]

        loop.create_task = counting  # type: ignore[method-assign]
        try:
            for index in range(20):
                await client.set(f"deadline-{uuid.uuid4().hex}-{index}", b"v", px=60_000)
        finally:
            del loop.create_task
        assert created == []
    finally:
        await client.aclose()


async def test_an_async_claim_still_succeeds_after_a_write_timeout(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
):
    """The first write of the claim times out (its connection is dropped); redis-py's retry
    sends it again on a new connection, and the claim is new once."""
    store = RedisStore(redis_server.url, prefix=f"deadline-{uuid.uuid4().hex}:", socket_timeout=1)
    try:
        await store.aclaim(delivery("warm-up"), lease=60)  # connect and load the scripts
        stalls = [True]
        writer_class = asyncio.StreamWriter
        original_drain = writer_class.drain

        async def drain_once_stalled(self: asyncio.StreamWriter) -> None:
            if stalls:
                stalls.pop()
                await asyncio.sleep(60)
            await original_drain(self)

        monkeypatch.setattr(writer_class, "drain", drain_once_stalled)
        claim = await store.aclaim(delivery("after-a-stall"), lease=60)
        assert claim.result.value == "new"
        assert stalls == []
        assert (await store.aclaim(delivery("after-a-stall"), lease=60)).result.value == (
            "in_progress"
        )
    finally:
        await store.aclose()
