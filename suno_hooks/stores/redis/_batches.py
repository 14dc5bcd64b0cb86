"""The Redis store's claims and finishes on event loops, in batches: the script calls waiting at
the same moment on a loop go to Redis as one pipelined round trip, the claims in one and the
finishes in another (a lone call is sent as a plain `EVALSHA`).

The pipeline is not a transaction: each script call runs atomically on its own, as it does when
sent alone, so an error of one call (a script error, a key of the wrong type) is that call's
alone. A connection lost while a batch is sent or answered fails the whole batch once the
client's retry has failed too, as it fails a lone call: a call whose script may have run but
whose answer was lost is answered with the error, never as done, and a claim's lease then ends
on its own. On a Redis Cluster the pipeline is split by node; a call whose node failed, or was
down, is sent again on its own with the client's retries, exactly as a lone call would be. A call
answered NOSCRIPT (the script cache was flushed, or a node never saw the script) ran nothing:
its script is loaded and such calls are sent again, together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ClusterDownError, NoScriptError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._group import BatchSizes, GroupCommit
from ._lua import LuaScript

__all__ = ["BatchedScripts", "ScriptCall", "send_pipelined"]

# The answers of a cluster pipeline's call that a lone call's client would have sent again:
# its node's connection failed (the script may have run; each script answers a repeat as it
# answered the first run) or the cluster was down (it did not run).
_SENT_AGAIN_ALONE = (RedisConnectionError, RedisTimeoutError, ClusterDownError)


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One script call of a batch: the script, its keys and its arguments."""

    script: LuaScript
    keys: list[str]
    args: list[Any]


async def send_pipelined(client: Any, calls: Sequence[ScriptCall]) -> list[Any]:
    """Each call's answer or its own error, the calls sent as one pipelined round trip. Raises
    (the error is every call's) when the connection failed, after the client's retry."""
    if len(calls) == 1:
        call = calls[0]
        return [await call.script.acall(client, call.keys, call.args)]
    answers = await _pipelined(client, calls)
    unknown = [i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
    if unknown:
        try:
            for script in {calls[i].script.sha: calls[i].script for i in unknown}.values():
                await client.script_load(script.lua)
            again: list[Any] = await _pipelined(client, [calls[i] for i in unknown])
        except Exception as exc:  # only these calls are left without an answer
            again = [exc] * len(unknown)
        for i, answer in zip(unknown, again, strict=True):
            answers[i] = answer
    lost = [i for i, answer in enumerate(answers) if isinstance(answer, _SENT_AGAIN_ALONE)]
    if lost:
        alone = await asyncio.gather(
            *(calls[i].script.acall(client, calls[i].keys, calls[i].args) for i in lost),
            return_exceptions=True,
        )
        for i, answer in zip(lost, alone, strict=True):
            answers[i] = answer
    return answers


async def _pipelined(client: Any, calls: Sequence[ScriptCall]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for call in calls:
        call.script.queue(pipe, call.keys, call.args)
    return list(await pipe.execute(raise_on_error=False))


class BatchedScripts:
    """A store's claims and finishes on event loops, each kind grouped (`GroupCommit`) and sent
    by `send_pipelined` on the client `client()` returns (the running loop's own)."""

    def __init__(self, client: Callable[[], Awaitable[Any]], sizes: BatchSizes) -> None:
        self._client = client
        self.claims: GroupCommit[ScriptCall, Any] = GroupCommit(self._send, sizes.claims)
        self.finishes: GroupCommit[ScriptCall, Any] = GroupCommit(self._send, sizes.finishes)

    async def _send(self, calls: list[ScriptCall]) -> list[Any]:
        return await send_pipelined(await self._client(), calls)
