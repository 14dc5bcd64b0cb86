"""The client's logic, written once: plans are generators that yield steps (an HTTP call, a
pause, an expected task to remember) and receive each step's result. `SunoClient` runs the
steps with blocking calls, `AsyncSunoClient` awaits them; neither holds any logic of its own.

A create is sent again only when it cannot have reached the API (the connection was refused or
timed out before the request left, or the API answered 429): any other failure may have created
a task that is paid for, so it is raised with the request's identity instead.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from .._callbacks.whole_numbers import whole_number
from .._security.tokens import TOKEN_PARAM
from ..errors import ConfigurationError, InvalidToken
from ..stores.tasks import ExpectedTask
from .errors import (
    ApiConnectionError,
    ApiError,
    InvalidRequest,
    RateLimited,
    Submission,
    SubmissionUncertain,
    api_error,
)
from .features import Feature, feature
from .spans import SpanRule

__all__ = [
    "Answer",
    "Call",
    "ClientPlans",
    "Pause",
    "Plan",
    "Remember",
    "Submitted",
    "adrive",
    "drive",
]

_T = TypeVar("_T")
logger = logging.getLogger("suno_hooks.client")
MAX_BACKOFF = 30.0
# Recording an accepted task in the store: tries, and the first pause (doubling) between them.
REMEMBER_TRIES = 3
REMEMBER_PAUSE = 0.1
# Kie's documented polling limit: 3 requests per second per task.
PER_TASK_INTERVAL = 1 / 3


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request to the API (the driver adds the base URL and the Bearer header)."""

    method: str
    path: str
    params: dict[str, str] | None = None
    body: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait this many seconds before the next step."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Remember:
    """Record a submitted task as expected in the receiver's store; the driver answers with the
    store's result, or with the exception the store raised (the plan decides what follows)."""

    task: ExpectedTask


@dataclass(frozen=True, slots=True)
class Answer:
    """What a `Call` got back: HTTP status, headers and body, or `failure` when there was no
    answer (connection refused, timeout). `sent` is False only when the request certainly never
    left (refused, or timed out while connecting), the one failure after which a create is
    sent again."""

    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""
    failure: str | None = None
    sent: bool = True


Step = Call | Pause | Remember
Plan = Generator[Step, Answer | bool | Exception | None, _T]
"""A generator of steps (calls, pauses, records) that a sync or an async driver runs."""


def drive(plan: Generator[Any, Any, _T], perform: Callable[[Any], Any]) -> _T:
    """Run a plan to its result, carrying out each step with `perform` (blocking)."""
    reply: Any = None
    while True:
        try:
            step = plan.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        reply = perform(step)


async def adrive(plan: Generator[Any, Any, _T], perform: Callable[[Any], Awaitable[Any]]) -> _T:
    """`drive`, awaiting each step."""
    reply: Any = None
    while True:
        try:
            step = plan.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        reply = await perform(step)


@dataclass(frozen=True, slots=True)
class Submitted:
    """A task the API accepted: its id, the feature, and the callback URL it will call.

    `recorded` is False when the receiver's store failed to record the task as expected (logged
    at ERROR with the task id): the reconciler will not poll it until it is recorded, for
    example with `store.expect(ExpectedTask.submitted(task_id, feature, context=...))`.
    """

    task_id: str
    feature: str
    callback_url: str | None
    recorded: bool = True


class ClientPlans:
    """Everything `SunoClient` and `AsyncSunoClient` do, as plans; see the module docstring."""

    def __init__(
        self,
        api_key: str,
        *,
        receiver: Any = None,
        callback_base: str | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        span_rule: SpanRule | None = None,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise InvalidRequest("An API key is required (Kie's key, sent as a Bearer token).")
        if receiver is not None:
            _check_callback_base(callback_base)
        self._api_key = api_key.strip()
        self.receiver = receiver
        self.callback_base = callback_base
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self.span_rule = span_rule or SpanRule()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} key=***>"

    @property
    def authorization(self) -> str:
        """The `Authorization` header value (never logged or shown)."""
        return f"Bearer {self._api_key}"

    # -- plans ------------------------------------------------------------------------------------

    def create_plan(
        self, name: str, params: dict[str, Any], context: dict[str, Any] | None
    ) -> Plan[Submitted]:
        """Post a create request, then remember the task as expected; see the module docstring
        for when the request is sent again."""
        found = feature(name)
        payload = dict(params)
        url = payload.get("callBackUrl") or self._callback_url(found, context)
        body: dict[str, Any]
        if found.market:
            body = {"model": found.name, "input": payload}
            if url:
                body["callBackUrl"] = url
        else:
            body = payload
            if url:
                body["callBackUrl"] = url
        once = Submission(found.name, found.create_path, 0.0, url, context, self._token_id(url))
        answer = yield from self.call_plan(Call("POST", found.create_path, body=body), once=once)
        data = answer.get("data")
        task_id = None
        if isinstance(data, dict):
            task_id = data.get("taskId") or data.get("task_id")
        if not isinstance(task_id, (str, int)) or isinstance(task_id, bool) or not str(task_id):
            raise ApiError(
                200, "The API accepted the request but named no taskId.", endpoint=found.create_path
            )
        task_id = str(task_id)
        recorded = True
        if self.receiver is not None:
            # Due at once: the reconciler's `after` alone decides when it is first polled.
            task = ExpectedTask.submitted(task_id, found.name, context=context)
            recorded = yield from self.remember_plan(task)
        return Submitted(task_id, found.name, url, recorded)

    def remember_plan(self, task: ExpectedTask) -> Plan[bool]:
        """Record an accepted task in the store, trying a few times; False (logged at ERROR)
        when every try failed. A store failure never hides the task id from the caller."""
        problem = ""
        for attempt in range(REMEMBER_TRIES):
            reply = yield Remember(task)
            if not isinstance(reply, Exception):
                return True
            problem = self._redact(f"{type(reply).__name__}: {reply}")
            if attempt + 1 < REMEMBER_TRIES:
                logger.warning("recording task %s failed, trying again: %s", task.task_id, problem)
                yield Pause(REMEMBER_PAUSE * float(1 << attempt))
        logger.error(
            "Kie accepted task %s (%s) but the store could not record it (%s); it will not be "
            "polled for a lost callback until it is recorded.",
            task.task_id,
            task.feature,
            problem,
        )
        return False

    def replace_section_plan(
        self,
        *,
        task_id: str,
        audio_id: str,
        start: float,
        end: float,
        duration: float | None,
        fields: dict[str, Any],
        market: bool,
        context: dict[str, Any] | None,
    ) -> Plan[Submitted]:
        """Check the span and the required texts (`prompt`, `tags`, `title`, `full_lyrics`),
        then create the replace-section task (legacy or market)."""
        self.span_rule.check(start, end, duration)
        # Kie refuses a replace-section without fullLyrics ("fullLyrics cannot be blank").
        for name in ("prompt", "tags", "title", "full_lyrics"):
            if not isinstance(fields.get(name), str) or not fields[name].strip():
                raise InvalidRequest(f"replace_section needs a non-empty {name}.")
        if not task_id or not audio_id:
            raise InvalidRequest("replace_section needs the source task_id and audio_id.")
        start, end = round(float(start), 2), round(float(end), 2)
        if market:
            params = {"task_id": task_id, "audio_id": audio_id, **fields}
            params |= {"infill_start_s": start, "infill_end_s": end}
            name = "ai-music-api/replace-section"
        else:
            params = {_camel(key): value for key, value in fields.items()}
            params |= {"taskId": task_id, "audioId": audio_id}
            params |= {"infillStartS": start, "infillEndS": end}
            name = "replace_section"
        return (yield from self.create_plan(name, params, context))

    def record_plan(self, task_id: str, name: str) -> Plan[dict[str, Any]]:
        """Read a task's polling record; the answer's JSON (`code`, `msg`, `data`)."""
        if not isinstance(task_id, str) or not task_id.strip():
            raise InvalidRequest("record needs a task id.")
        found = feature(name)
        call = Call("GET", found.record_path, params={"taskId": task_id.strip()})
        return (yield from self.call_plan(call, minimum_pause=PER_TASK_INTERVAL, record=True))

    def call_plan(
        self,
        call: Call,
        *,
        minimum_pause: float = 0.0,
        record: bool = False,
        once: Submission | None = None,
    ) -> Plan[dict[str, Any]]:
        """Send `call`, retrying rate limits, 5xx and connection failures with backoff.

        With `once` (a create), only a request that never left and a 429 are sent again; a
        failure once it may have left raises `SubmissionUncertain`, and every error carries
        `once` (with the time sent) as its `submission`.
        """
        attempt = 0
        while True:
            sent_at = time.time()
            reply = yield call
            assert isinstance(reply, Answer)
            try:
                return self.read_answer(call.path, reply, record=record)
            except ApiError as error:
                retry = error.retryable
                if once is not None:
                    sent = replace(once, sent_at=sent_at)
                    if reply.failure is not None and reply.sent:
                        raise SubmissionUncertain(self._redact(reply.failure), sent) from None
                    error.submission = sent
                    retry = reply.failure is not None or isinstance(error, RateLimited)
                if not retry or attempt >= self.retries:
                    raise
                yield Pause(max(minimum_pause, self._delay(attempt, reply)))
                attempt += 1

    def read_answer(self, path: str, answer: Answer, *, record: bool = False) -> dict[str, Any]:
        """The answer's JSON when it is a success, else the typed `ApiError`."""
        if answer.failure is not None:
            raise ApiConnectionError(0, self._redact(answer.failure), endpoint=path)
        try:
            body = json.loads(answer.content) if answer.content else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            code = answer.status if answer.status != 200 else 502
            raise api_error(code, "The API answered without a JSON object.", endpoint=path)
        code = _int(body.get("code"), answer.status)
        message = self._redact(str(body.get("msg") or body.get("message") or ""))
        if answer.status >= 400 and answer.status != code and code in (0, 200):
            code = answer.status
        if code in (0, 200) or (record and _is_record(body, code)):
            return body
        raise api_error(
            code, message or f"HTTP {answer.status}", endpoint=path, status=answer.status
        )

    # -- helpers ----------------------------------------------------------------------------------

    def _callback_url(self, found: Feature, context: dict[str, Any] | None) -> str | None:
        base = self.callback_base
        if base is None:
            return None
        signer = getattr(self.receiver, "signer", None)
        if self.receiver is None or signer is None:
            return base
        url: str = self.receiver.callback_url(base, feature=found.callback_feature, context=context)
        return url

    def _token_id(self, url: str | None) -> str | None:
        signer = getattr(self.receiver, "signer", None)
        token = dict(parse_qsl(urlsplit(url).query)).get(TOKEN_PARAM) if url else None
        if signer is None or not token:
            return None
        try:
            token_id: str = signer.read(token).token_id
        except InvalidToken:  # a URL the caller passed, signed by another key
            return None
        return token_id

    def _delay(self, attempt: int, answer: Answer) -> float:
        retry_after = _seconds(answer.headers.get("retry-after"))
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF)
        base = self.backoff * float(1 << attempt)
        return min(base + random.uniform(0, base / 4), MAX_BACKOFF)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key in text else text


def _check_callback_base(base: str | None) -> None:
    parts = urlsplit(base) if isinstance(base, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            "A client with a receiver needs callback_base, the public URL of your callback "
            'endpoint (for example callback_base="https://app.example/suno/callback"): Kie '
            "refuses a create without callBackUrl. A client that only polls (for a Reconciler) "
            f"needs no receiver. Got callback_base={base!r}."
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        number = whole_number(value, signed=True)
        return default if number is None else number
    return default


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 and seconds == seconds else None


# A polling answer whose code is a task's state, not an API error: recovery answers 201 while
# running and 500 when every track failed; the market answers 501 for a failed task.
def _is_record(body: dict[str, Any], code: int) -> bool:
    if code == 201:
        return True
    return code in (500, 501) and isinstance(body.get("data"), (dict, list))
