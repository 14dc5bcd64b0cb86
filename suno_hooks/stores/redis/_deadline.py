"""Write timeouts for the asyncio Redis connections as a deadline on the running task.

redis-py bounds each write with `asyncio.wait_for`, which before Python 3.12 runs the write as
a task of its own: two more turns of the event loop for every command, about a tenth of a
callback's CPU on the `redis://` ASGI path. A deadline on the task that writes bounds it the
same way (the connection is dropped and redis-py's `TimeoutError` raised, so the client's retry
still applies) without the extra task. Reads already run under such a deadline in redis-py.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

import redis.exceptions

# The deadline redis-py's own reads run under: async-timeout (a dependency of redis-py) before
# Python 3.11.3, whose `asyncio.timeout` mishandles cancellation (the first test is for type
# checkers, which read only two parts of a version).
if sys.version_info >= (3, 11) and sys.version_info >= (3, 11, 3):
    from asyncio import timeout as deadline
else:
    from async_timeout import timeout as deadline

__all__ = ["with_write_deadline"]

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

    ConnectionClass = type[AbstractConnection]

_DERIVED: dict[ConnectionClass, ConnectionClass] = {}


def with_write_deadline(base: ConnectionClass) -> ConnectionClass:
    """`base` (a redis-py asyncio connection class) whose writes time out under a deadline on
    the writing task rather than in a task of their own; one derived class per base."""
    derived = _DERIVED.get(base)
    if derived is None:
        write = base.send_packed_command

        async def send_packed_command(self: Any, command: Any, check_health: bool = True) -> None:
            await _write_before_deadline(self, write, command, check_health)

        derived = cast(
            "ConnectionClass",
            type(base.__name__, (base,), {"send_packed_command": send_packed_command}),
        )
        _DERIVED[base] = derived
    return derived


async def _write_before_deadline(
    connection: Any, write: Callable[..., Awaitable[None]], command: Any, check_health: bool
) -> None:
    timeout = connection.socket_timeout
    if not timeout:
        await write(connection, command, check_health)
        return
    if not connection.is_connected:
        # Connecting keeps its own timeouts: the connect timeout, then the socket timeout for
        # each reply of the handshake.
        await connection.connect()
    # Without a socket timeout redis-py writes on this task; the deadline then bounds the write,
    # and cancelling it drops the connection in redis-py.
    connection.socket_timeout = None
    try:
        async with deadline(timeout):
            await write(connection, command, check_health)
    except asyncio.TimeoutError:
        raise redis.exceptions.TimeoutError("Timeout writing to socket") from None
    finally:
        connection.socket_timeout = timeout
