"""The Kie-compatible endpoints: create (legacy paths and `jobs/createTask`) and polling, each
behind the Bearer key, answering `{"code", "msg", "data"}` with Kie's codes."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .bodies import VARIANTS
from .families import (
    FAMILIES,
    FAMILY_BY_PATH,
    MARKET_CREATE_PATH,
    MARKET_POLL_PATH,
    STYLE_PATH,
    Family,
)
from .market import market_record
from .media import MEDIA_PREFIX
from .records import poll_record
from .results import FILES, make_results
from .scenarios import Scenario, failure_code, parse_scenarios, plan_steps
from .tasks import Task, now_ms
from .validation import CreateError, check_create, check_market, check_source, check_style

if TYPE_CHECKING:
    from .app import Sandbox

__all__ = ["api_routes", "kie_answer"]

MAX_BODY = 1 << 20


def kie_answer(code: int, msg: str, data: Any = None, *, key: str = "msg") -> JSONResponse:
    """Kie's envelope, `{"code", "msg", "data"}` (the real API says `msg` on every endpoint,
    `jobs/recordInfo` too): the HTTP status is 200 and the outcome is in `code`."""
    return JSONResponse({"code": code, key: msg, "data": data})


def style_boost(body: dict[str, Any]) -> dict[str, Any]:
    """The synchronous answer of `style/generate` for a checked request: the boosted style
    under `result`, `successFlag` as Kie spells it ("成功"), `errorMsg`, epoch-ms `createTime`."""
    content = body["content"].strip()
    return {
        "taskId": uuid.uuid4().hex,
        "param": json.dumps(body, ensure_ascii=False),
        "result": f"{content}, warm analog textures, a clear lead and a steady groove",
        "creditsConsumed": 0.4,
        "creditsRemaining": 999.6,
        "successFlag": "成功",
        "errorCode": None,
        "errorMsg": "",
        "createTime": now_ms(),
    }


def _files(request: Request) -> str:
    """The base URL of the files the sandbox serves, as the creating client reached it."""
    return str(request.base_url).rstrip("/") + MEDIA_PREFIX


def _authorize(sandbox: Sandbox, request: Request) -> None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or (sandbox.api_key and key != sandbox.api_key):
        raise CreateError(401, "You do not have access permissions: send Authorization: Bearer.")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise CreateError(422, "The request body is too large.")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise CreateError(422, "The request body is not valid JSON.") from None


def _variant(family: Family, scenarios: tuple[Scenario, ...], market: bool) -> int:
    chosen = 0
    for scenario in scenarios:
        if scenario.name == "variant":
            chosen = int(scenario.arg) if scenario.arg else 1
    spellings = 2 if market else VARIANTS[family.kind]
    if chosen >= spellings:
        raise CreateError(
            422,
            f"{family.feature} callbacks have {spellings} documented spellings "
            f"(variant 0 to {spellings - 1}).",
        )
    return chosen


def build_task(
    sandbox: Sandbox,
    family: Family,
    request: dict[str, Any],
    params: dict[str, Any],
    *,
    model: str | None = None,
    files: str = FILES,
) -> Task:
    """A task for a checked create request, with the sandbox's and the request's scenarios;
    its files are named under `files`."""
    own = parse_scenarios(request.get("sandbox"))
    scenarios = sandbox.book.scenarios + sandbox.book.next_scenarios + own
    market = model is not None or any(s.name == "market" for s in scenarios)
    failing = failure_code(family, scenarios)
    task = Task(
        family=family,
        callback_url=request["callBackUrl"],
        params={name: value for name, value in params.items() if name != "sandbox"},
        request={name: value for name, value in request.items() if name != "sandbox"},
        results={},
        scenarios=scenarios,
        steps=plan_steps(family, scenarios, failing is not None, market=market),
        failure=failing,
        variant=_variant(family, scenarios, market),
        market=market,
        model=model,
    )
    task.results = make_results(task.task_id, family.kind, family.feature, params, files)
    sandbox.book.next_scenarios = ()
    return task


def api_routes(sandbox: Sandbox) -> list[Route]:
    """The create and polling routes of `sandbox`."""

    async def create(request: Request) -> JSONResponse:
        family = FAMILY_BY_PATH[request.url.path]
        try:
            _authorize(sandbox, request)
            body = check_create(family, await _json_body(request), sandbox.span)
            check_source(family, body, sandbox.book)
            task = build_task(sandbox, family, body, body, files=_files(request))
        except CreateError as exc:
            return kie_answer(exc.code, exc.msg)
        sandbox.start(task)
        return kie_answer(200, "success", {"taskId": task.task_id})

    async def create_market(request: Request) -> JSONResponse:
        try:
            _authorize(sandbox, request)
            body = await _json_body(request)
            model, feature, inputs = check_market(body, sandbox.span)
            files = _files(request)
            task = build_task(sandbox, FAMILIES[feature], body, inputs, model=model, files=files)
        except CreateError as exc:
            return kie_answer(exc.code, exc.msg)
        sandbox.start(task)
        return kie_answer(200, "success", {"taskId": task.task_id, "recordId": task.record_id})

    def _task(request: Request, *, market: bool) -> Task | None:
        _authorize(sandbox, request)
        task_id = request.query_params.get("taskId", "").strip()
        if not task_id:
            raise CreateError(422, "Please enter taskId")
        task = sandbox.book.get(task_id)
        if task is None or (
            not market and (task.model or task.family.poll_path != request.url.path)
        ):
            return None
        return task

    async def poll(request: Request) -> JSONResponse:
        try:
            task = _task(request, market=False)
        except CreateError as exc:
            return kie_answer(exc.code, exc.msg)
        # An unknown task is not an error: `data` is null ("nothing known yet").
        return kie_answer(200, "success", poll_record(task) if task else None)

    async def poll_market(request: Request) -> JSONResponse:
        try:
            task = _task(request, market=True)
        except CreateError as exc:
            return kie_answer(exc.code, exc.msg)
        if task is None:
            return kie_answer(404, "Task not found.")
        return kie_answer(200, "success", market_record(task))

    async def boost(request: Request) -> JSONResponse:
        try:
            _authorize(sandbox, request)
            body = check_style(await _json_body(request))
        except CreateError as exc:
            return kie_answer(exc.code, exc.msg)
        return kie_answer(200, "success", style_boost(body))

    routes = [Route(path, create, methods=["POST"]) for path in FAMILY_BY_PATH]
    routes.append(Route(MARKET_CREATE_PATH, create_market, methods=["POST"]))
    poll_paths = sorted({family.poll_path for family in FAMILIES.values()})
    routes += [Route(path, poll, methods=["GET"]) for path in poll_paths]
    routes.append(Route(MARKET_POLL_PATH, poll_market, methods=["GET"]))
    routes.append(Route(STYLE_PATH, boost, methods=["POST"]))
    return routes
