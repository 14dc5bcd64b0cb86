"""The callback sender: signs each body with Kie's headers (Base64 of HMAC-SHA256 over
`taskId.timestamp`, as https://docs.kie.ai/common-api/webhook-verification describes), POSTs
it, retries with backoff when the answer is not 2xx or does not come in time, records every
attempt and logs one line per attempt."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

from .tasks import Attempt, Task, TaskBook
from .timing import Timing

__all__ = ["CallbackSender", "kie_signature"]

log = logging.getLogger("suno_hooks.sandbox")

ANSWER_EXCERPT = 500
FORGED_KEY = "whk_forged_by_the_sandbox"


def kie_signature(key: str, task_id: str, timestamp: int) -> str:
    """Base64 of HMAC-SHA256(key, f"{task_id}.{timestamp}"), as Kie signs a callback."""
    message = f"{task_id}.{timestamp}".encode()
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def _answer(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:ANSWER_EXCERPT]


class CallbackSender:
    """POSTs callbacks for the tasks of one sandbox over one shared HTTP client."""

    def __init__(
        self, client: httpx.AsyncClient, book: TaskBook, timing: Timing, hmac_key: str | None
    ) -> None:
        self.client = client
        self.book = book
        self.timing = timing
        self.hmac_key = hmac_key

    def headers(self, task: Task, *, key: str | None = None) -> dict[str, str]:
        """JSON content type, plus Kie's signature headers when a key is set.

        The signature covers only the task id and the timestamp, so each delivery of one task
        gets its own second (at most a few seconds ahead when stages come faster than that, as
        in fast timing): two different bodies never share a signature by accident."""
        headers = {"Content-Type": "application/json", "User-Agent": "suno-hooks-sandbox"}
        key = key or self.hmac_key
        if key:
            stamp = max(int(time.time()), task.last_timestamp + 1)
            task.last_timestamp = stamp
            headers["X-Webhook-Timestamp"] = str(stamp)
            headers["X-Webhook-Signature"] = kie_signature(key, task.task_id, stamp)
        return headers

    async def deliver(
        self,
        task: Task,
        stage: str,
        body: dict[str, Any],
        delivery: int,
        *,
        timeout_first: bool = False,
        note: str | None = None,
    ) -> dict[str, str]:
        """Send a genuine callback, retrying up to `timing.attempts` times with exponential
        backoff; return the headers of the last try (a replay reuses them)."""
        payload = _encode(body)
        headers: dict[str, str] = {}
        for number in range(1, self.timing.attempts + 1):
            headers = self.headers(task)
            attempt = await self._post(task, stage, payload, headers, delivery, number, note=note)
            if timeout_first and number == 1 and attempt.error is None:
                # The receiver got it, but the answer is treated as too late: Kie sends again.
                attempt.error = "timeout (scenario: the answer was not taken)"
            self._log(task, attempt)
            if attempt.ok:
                break
            if number < self.timing.attempts:
                await asyncio.sleep(self.timing.retry_delay(number))
        return headers

    async def forge(self, task: Task, stage: str, body: dict[str, Any], delivery: int) -> None:
        """Send one copy signed with a key that is not the account's (an attacker's try)."""
        headers = self.headers(task, key=FORGED_KEY)
        attempt = await self._post(task, stage, _encode(body), headers, delivery, 1, "forged")
        self._log(task, attempt)

    async def replay(
        self, task: Task, stage: str, body: dict[str, Any], delivery: int, seen: dict[str, str]
    ) -> None:
        """Send one copy that reuses a genuine delivery's signature headers with another body."""
        tampered = dict(body, msg="Replayed: these are not the bytes that were signed")
        headers = dict(seen)
        attempt = await self._post(task, stage, _encode(tampered), headers, delivery, 1, "replayed")
        self._log(task, attempt)

    async def _post(
        self,
        task: Task,
        stage: str,
        payload: bytes,
        headers: dict[str, str],
        delivery: int,
        number: int,
        injected: str | None = None,
        *,
        note: str | None = None,
    ) -> Attempt:
        started = time.perf_counter()
        status: int | None = None
        answer: Any = None
        error: str | None = None
        try:
            response = await self.client.post(
                task.callback_url, content=payload, headers=headers, timeout=self.timing.timeout
            )
            status, answer = response.status_code, _answer(response)
        except httpx.TimeoutException:
            error = f"timeout after {self.timing.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
        attempt = Attempt(
            task_id=task.task_id,
            stage=stage,
            delivery=delivery,
            attempt=number,
            url=task.callback_url,
            status=status,
            answer=answer,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=error,
            injected=injected,
            note=note,
        )
        self.book.record(task, attempt)
        return attempt

    def _log(self, task: Task, attempt: Attempt) -> None:
        answer = attempt.error or f"{attempt.status} {json.dumps(attempt.answer)[:120]}"
        tag = f" [{attempt.injected or attempt.note}]" if attempt.injected or attempt.note else ""
        log.info(
            "callback %s %s %s try %d/%d%s -> %s (%.1f ms)",
            task.task_id,
            task.family.feature,
            attempt.stage,
            attempt.attempt,
            self.timing.attempts,
            tag,
            answer,
            attempt.latency_ms,
        )


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
