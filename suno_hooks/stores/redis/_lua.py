"""`LuaScript`: one of `RedisStore`'s scripts, sent as a bare `EVALSHA` on a synchronous or an
asyncio client (single server or cluster) or queued on a pipeline, and loaded again when the
server answers NOSCRIPT (after a restart, a `SCRIPT FLUSH` or on a node that never saw it); and
the delivery scripts of `_scripts` as such."""

from __future__ import annotations

import hashlib
from typing import Any

from redis.exceptions import NoScriptError

from . import _scripts

__all__ = [
    "CLAIM",
    "EXTEND",
    "FINISH",
    "FINISH_SETTLING",
    "NOTE_RING",
    "PRUNE",
    "PURGE",
    "QUEUE",
    "READ",
    "RECORD_KEPT",
    "REOPEN",
    "LuaScript",
]


class LuaScript:
    """A script's text and SHA-1; calling it costs one `EVALSHA` round trip (two more, once,
    to load it). Cheaper than redis-py's `Script`, which copies its arguments on every call."""

    __slots__ = ("lua", "sha")

    def __init__(self, lua: str) -> None:
        self.lua = lua
        self.sha = hashlib.sha1(lua.encode()).hexdigest()

    def __call__(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        """Run the script on a synchronous client."""
        command = self._command(keys, args)
        try:
            return client.execute_command(*command)
        except NoScriptError:
            client.script_load(self.lua)
            return client.execute_command(*command)

    async def acall(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        """Run the script on an asyncio client."""
        command = self._command(keys, args)
        try:
            return await client.execute_command(*command)
        except NoScriptError:
            await client.script_load(self.lua)
            return await client.execute_command(*command)

    def queue(self, pipeline: Any, keys: list[str], args: list[Any]) -> None:
        """Queue the script's `EVALSHA` on a pipeline; its answer, or NOSCRIPT, comes back with
        the pipeline's (the caller loads the script and sends the call again)."""
        pipeline.execute_command(*self._command(keys, args))

    def _command(self, keys: list[str], args: list[Any]) -> tuple[Any, ...]:
        # Text encoded here, once, spares redis-py's encoder its type checks on every argument.
        return (
            "EVALSHA",
            self.sha,
            len(keys),
            *[key.encode() for key in keys],
            *[arg.encode() if type(arg) is str else arg for arg in args],
        )


CLAIM = LuaScript(_scripts.CLAIM)
"""The `CLAIM` script of `_scripts`, ready to call."""
FINISH = LuaScript(_scripts.FINISH)
"""The `FINISH` script of `_scripts`, ready to call."""
FINISH_SETTLING = LuaScript(_scripts.FINISH_SETTLING)
"""The `FINISH_SETTLING` script of `_scripts`, ready to call."""
EXTEND = LuaScript(_scripts.EXTEND)
"""The `EXTEND` script of `_scripts`, ready to call."""
READ = LuaScript(_scripts.READ)
"""The `READ` script of `_scripts`, ready to call."""
PURGE = LuaScript(_scripts.PURGE)
"""The `PURGE` script of `_scripts`, ready to call."""
RECORD_KEPT = LuaScript(_scripts.RECORD_KEPT)
"""The `RECORD_KEPT` script of `_scripts`, ready to call."""
REOPEN = LuaScript(_scripts.REOPEN)
"""The `REOPEN` script of `_scripts`, ready to call."""
QUEUE = LuaScript(_scripts.QUEUE)
"""The `QUEUE` script of `_scripts`, ready to call."""
NOTE_RING = LuaScript(_scripts.NOTE_RING)
"""The `NOTE_RING` script of `_scripts`, ready to call."""
PRUNE = LuaScript(_scripts.PRUNE)
"""The `PRUNE` script of `_scripts`, ready to call."""
