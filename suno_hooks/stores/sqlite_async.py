"""`SQLiteStore` on an event loop: a new claim and its finish are written on the loop when the
file is free (`sqlite_inline`), everything else runs in a worker thread, so the loop never
waits on the file lock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .base import Claim, ClaimResult, Delivery, ReplayCheck, new_token
from .sqlite_writes import claim_params, fast_claim_or_duplicate, finish, finish_settling

if TYPE_CHECKING:
    from .sqlite_inline import InlineWriter

__all__ = ["SQLiteAsync"]


class SQLiteAsync:
    """The asyncio methods of `SQLiteStore`, which provides what is declared here."""

    _inline: InlineWriter | None
    claim: Callable[..., Claim]
    finish: Callable[..., bool]
    finish_settling: Callable[..., bool]
    extend: Callable[..., bool]
    get: Callable[[str], Delivery | None]
    deliveries: Callable[..., list[Delivery]]
    purge: Callable[[float | None], int]
    bind_token: Callable[[str, str, float], bool]
    close: Callable[[], None]
    _full_claim: Callable[[Delivery, ReplayCheck | None, tuple[Any, ...]], Claim]
    _claimed: Callable[[Delivery, int, float, str], Claim]
    _sweep_due: Callable[[ReplayCheck | None], bool]
    _sweep_guard: Callable[[float], None]

    async def aclaim(
        self,
        delivery: Delivery,
        *,
        lease: float,
        replay: ReplayCheck | None = None,
    ) -> Claim:
        """`claim` without ever waiting on the file lock on the loop: a new delivery is inserted
        inline when no other connection is writing, anything else runs in a worker thread."""
        if self._inline is None:
            return await asyncio.to_thread(self.claim, delivery, lease=lease, replay=replay)
        params = claim_params(delivery, lease, replay, new_token())
        answer = await self._inline.awrite(
            lambda conn: fast_claim_or_duplicate(conn, replay, params)
        )
        if answer is None:
            return await asyncio.to_thread(self.claim, delivery, lease=lease, replay=replay)
        inserted, duplicate = answer
        if duplicate:
            return Claim(ClaimResult.DUPLICATE)
        if not inserted:
            return await asyncio.to_thread(self._full_claim, delivery, replay, params)
        if self._sweep_due(replay):
            await asyncio.to_thread(self._sweep_guard, params[5])
        return self._claimed(delivery, 1, params[5], params[10])

    async def afinish(self, key: str, *, token: str, error: str | None = None) -> bool:
        """`finish`, inline when the file is free, else in a worker thread."""
        if self._inline is not None:
            done = await self._inline.awrite(lambda conn: finish(conn, key, token, error))
            if done is not None:
                return done
        return await asyncio.to_thread(self.finish, key, token=token, error=error)

    async def afinish_settling(
        self, key: str, *, token: str, error: str | None, task_id: str, by: str
    ) -> bool:
        """`finish_settling`, inline when the file is free, else in a worker thread."""
        if self._inline is not None:
            done = await self._inline.awrite(
                lambda conn: finish_settling(conn, key, token, error, task_id, by)
            )
            if done is not None:
                return done
        return await asyncio.to_thread(
            self.finish_settling, key, token=token, error=error, task_id=task_id, by=by
        )

    async def aextend(self, key: str, *, token: str, lease: float) -> bool:
        """`extend` on a worker thread."""
        return await asyncio.to_thread(self.extend, key, token=token, lease=lease)

    async def aget(self, key: str) -> Delivery | None:
        """`get` on a worker thread."""
        return await asyncio.to_thread(self.get, key)

    async def adeliveries(self, **filters: Any) -> list[Delivery]:
        """`deliveries` on a worker thread."""
        return await asyncio.to_thread(lambda: self.deliveries(**filters))

    async def apurge(self, older_than: float | None = None) -> int:
        """`purge` on a worker thread."""
        return await asyncio.to_thread(self.purge, older_than)

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` on a worker thread."""
        return await asyncio.to_thread(self.bind_token, token_id, task_id, ttl)

    async def aclose(self) -> None:
        """`close`."""
        self.close()
