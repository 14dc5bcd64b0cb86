"""`SunoClient` and `AsyncSunoClient`: run the plans of `plan.py` over httpx."""

from __future__ import annotations

import asyncio
import time
import warnings
from typing import Any, TypeVar

import httpx

from ..stores.tasks import AsyncTaskStore, TaskStore
from .plan import Answer, Call, ClientPlans, Pause, Plan, Remember, Submitted, adrive, drive
from .spans import SpanRule

__all__ = ["DEFAULT_BASE_URL", "AsyncSunoClient", "SunoClient"]

DEFAULT_BASE_URL = "https://api.kie.ai"
"""Kie's API host: where both clients send requests unless given another `base_url`."""
_T = TypeVar("_T")


def _answer(response: httpx.Response) -> Answer:
    return Answer(response.status_code, response.headers, response.content)


# Failures raised before any byte of the request left: sending again cannot create a second task.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


def _failure(exc: httpx.TransportError) -> Answer:
    if isinstance(exc, _NOT_SENT):
        return Answer(failure=f"{type(exc).__name__}: the API could not be reached", sent=False)
    return Answer(failure=f"{type(exc).__name__}: the request was sent but no answer came")


class _Client:
    """What both clients share: settings, the plans, and the replace-section helper's shape."""

    http: Any

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        receiver: Any = None,
        callback_base: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        span_rule: SpanRule | None = None,
        http: Any = None,
        poll_after: float | None = None,
    ) -> None:
        """The settings are described on `SunoClient`; `poll_after` is deprecated and ignored."""
        if poll_after is not None:
            warnings.warn(
                "poll_after no longer schedules a task's first poll: the Reconciler's `after` "
                "alone decides it, counted from submission.",
                DeprecationWarning,
                stacklevel=2,
            )
        self.plans = ClientPlans(
            api_key,
            receiver=receiver,
            callback_base=callback_base,
            retries=retries,
            backoff=backoff,
            span_rule=span_rule,
        )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.receiver = receiver
        self._own_http = http is None
        self.http = self._new_http() if http is None else http

    def _new_http(self) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url} key=***>"

    def _request(self, call: Call) -> dict[str, Any]:
        """httpx's `request` arguments for a call, with the Bearer header."""
        return {
            "method": call.method,
            "url": self.base_url + call.path,
            "params": call.params,
            "json": call.body,
            "headers": {"Authorization": self.plans.authorization, "Accept": "application/json"},
        }

    def _replace_section(
        self,
        task_id: str,
        audio_id: str,
        start: float,
        end: float,
        duration: float | None,
        market: bool,
        context: dict[str, Any] | None,
        fields: dict[str, Any],
    ) -> Plan[Submitted]:
        return self.plans.replace_section_plan(
            task_id=task_id,
            audio_id=audio_id,
            start=start,
            end=end,
            duration=duration,
            fields=fields,
            market=market,
            context=context,
        )


class SunoClient(_Client):
    """Submit tasks to the Suno API (Kie) and read their polling records, blocking.

    A task is recorded due for polling at once: the `Reconciler`'s `after` decides when it is
    first polled. A client that only polls for a `Reconciler` needs no receiver.

    Polling retries rate limits, 5xx answers and connection failures. A create is sent again
    only after a 429 or a connection that failed before the request left: after a timeout or a
    reset once it was sent it raises `SubmissionUncertain` (the task may exist and be paid
    for), and a 5xx answer is raised at once; either error's `submission` identifies the request.

    Args:
        api_key: Kie's API key, sent as a Bearer token (never logged or shown).
        base_url: The API's address: Kie's by default, or a sandbox's
            (`suno-hooks reconcile --base-url` and `$SUNO_API_BASE_URL` set it for the CLI).
        receiver: A `Receiver` whose store records each created task as expected.
        callback_base: The public URL of your callback endpoint, which each `callBackUrl` is
            built from (signed when the receiver has a secret key); required with `receiver`,
            else `ConfigurationError`.
        timeout: Seconds per request; a `Reconciler`'s `lease` must exceed it.
        retries: How many times a request is sent again after a retryable failure.
        backoff: The first wait before a retry, in seconds, doubling (or the API's
            `Retry-After`).
        span_rule: The `SpanRule` that `replace_section` checks before spending credits.
        http: An `httpx.Client` of your own (not closed by `close()`).
        poll_after: Deprecated and ignored (a `DeprecationWarning`): the `Reconciler`'s
            `after` decides a task's first poll.
    """

    http: httpx.Client

    def _new_http(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout)

    def create(
        self, feature: str, *, context: dict[str, Any] | None = None, **params: Any
    ) -> Submitted:
        """Create a task of `feature` (a legacy feature name or a market model) with Kie's
        request fields as keywords; the task is then expected by the receiver's store.

        Raises `SubmissionUncertain` when the request was sent but no answer came (it is never
        sent twice then). Once Kie returns a task id this returns `Submitted`, even when the
        store fails to record it (`recorded=False`, logged at ERROR)."""
        return self._run(self.plans.create_plan(feature, params, context))

    def replace_section(
        self,
        *,
        task_id: str,
        audio_id: str,
        start: float,
        end: float,
        prompt: str,
        tags: str,
        title: str,
        full_lyrics: str,
        duration: float | None = None,
        market: bool = False,
        context: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Submitted:
        """Replace `start`–`end` seconds of a track, after checking the span (`SpanRule`);
        `duration` (the source's length) enables the end and share checks. `full_lyrics`, the
        whole song's lyrics with the new section, is required by both APIs (`fullLyrics`)."""
        fields |= {"prompt": prompt, "tags": tags, "title": title, "full_lyrics": full_lyrics}
        return self._run(
            self._replace_section(task_id, audio_id, start, end, duration, market, context, fields)
        )

    def record(self, task_id: str, feature: str) -> dict[str, Any]:
        """The task's polling record from the feature's endpoint: the answer's JSON."""
        return self._run(self.plans.record_plan(task_id, feature))

    def run(self, plan: Plan[_T]) -> _T:
        """Run a plan (see `plan.py`) with blocking I/O; the reconciler uses it too."""
        return self._run(plan)

    def _run(self, plan: Plan[_T]) -> _T:
        return drive(plan, self.perform)

    def perform(self, step: Call | Pause | Remember) -> Answer | bool | Exception | None:
        """Carry out one step of a plan: send the call, sleep, or remember the task (the store's
        exception is returned to the plan, not raised)."""
        if isinstance(step, Call):
            try:
                response = self.http.request(**self._request(step))
            except httpx.TransportError as exc:
                return _failure(exc)
            return _answer(response)
        if isinstance(step, Pause):
            time.sleep(step.seconds)
            return None
        store = getattr(self.receiver, "store", None)
        try:
            return store.expect(step.task) if isinstance(store, TaskStore) else False
        except Exception as exc:  # the plan retries, then flags the result
            return exc

    def close(self) -> None:
        """Close the HTTP client (unless it was passed in)."""
        if self._own_http:
            self.http.close()

    def __enter__(self) -> SunoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncSunoClient(_Client):
    """`SunoClient` for asyncio: the same settings (see `SunoClient`'s arguments) and methods,
    awaited; `http` is an `httpx.AsyncClient`."""

    http: httpx.AsyncClient

    def _new_http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout)

    async def create(
        self, feature: str, *, context: dict[str, Any] | None = None, **params: Any
    ) -> Submitted:
        """`SunoClient.create`, awaited."""
        return await self._run(self.plans.create_plan(feature, params, context))

    async def replace_section(
        self,
        *,
        task_id: str,
        audio_id: str,
        start: float,
        end: float,
        prompt: str,
        tags: str,
        title: str,
        full_lyrics: str,
        duration: float | None = None,
        market: bool = False,
        context: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Submitted:
        """`SunoClient.replace_section`, awaited."""
        fields |= {"prompt": prompt, "tags": tags, "title": title, "full_lyrics": full_lyrics}
        return await self._run(
            self._replace_section(task_id, audio_id, start, end, duration, market, context, fields)
        )

    async def record(self, task_id: str, feature: str) -> dict[str, Any]:
        """`SunoClient.record`, awaited."""
        return await self._run(self.plans.record_plan(task_id, feature))

    async def run(self, plan: Plan[_T]) -> _T:
        """Run a plan with asyncio I/O."""
        return await self._run(plan)

    async def _run(self, plan: Plan[_T]) -> _T:
        return await adrive(plan, self.perform)

    async def perform(self, step: Call | Pause | Remember) -> Answer | bool | Exception | None:
        """`SunoClient.perform`, awaited."""
        if isinstance(step, Call):
            try:
                response = await self.http.request(**self._request(step))
            except httpx.TransportError as exc:
                return _failure(exc)
            return _answer(response)
        if isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
            return None
        store = getattr(self.receiver, "store", None)
        try:
            if isinstance(store, AsyncTaskStore):
                return await store.aexpect(step.task)
            if isinstance(store, TaskStore):
                return await asyncio.to_thread(store.expect, step.task)
        except Exception as exc:  # the plan retries, then flags the result
            return exc
        return False

    async def aclose(self) -> None:
        """Close the HTTP client (unless it was passed in)."""
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncSunoClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
