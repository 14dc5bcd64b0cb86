"""Binding callback URL tokens to their task: the optional store methods behind it.

In token-only mode a callback URL token is the only proof a request carries, so the receiver
records the first task id each token serves and refuses the token for any other task.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["AsyncBindsTokens", "BindsTokens"]


@runtime_checkable
class BindsTokens(Protocol):
    """A store that can bind a token to a task id, atomically, for a while."""

    def bind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """Record `task_id` as the task of `token_id` for `ttl` seconds unless the token is
        already bound; True when the token's task is `task_id`."""
        ...


@runtime_checkable
class AsyncBindsTokens(Protocol):
    """The asyncio flavour of `BindsTokens`."""

    async def abind_token(self, token_id: str, task_id: str, ttl: float) -> bool:
        """`bind_token` without blocking the event loop."""
        ...
