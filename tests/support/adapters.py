"""One client interface over every adapter, so the response-table tests run through each.

An adapter module registers a factory in `ADAPTERS`: it takes a configured `Receiver` and
returns a `CallbackClient` that POSTs to that adapter's callback endpoint.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest
from django.test import AsyncClient as DjangoAsyncClient
from django.test import Client as DjangoClient
from django.test import override_settings
from flask import Flask
from starlette.applications import Starlette
from starlette.routing import Mount
from werkzeug.test import Client as WerkzeugClient

from suno_hooks import Receiver
from suno_hooks.asgi import asgi_app
from suno_hooks.contrib.flask import SunoHooks
from suno_hooks.contrib.starlette import suno_routes
from suno_hooks.wsgi import wsgi_app


@dataclass
class Reply:
    """What a test sees of an answer."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class CallbackClient(Protocol):
    """Sends one request to an adapter's callback endpoint."""

    def post(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        query: str = "",
        method: str = "POST",
    ) -> Reply: ...


def _reply(status: int, content: bytes, headers: Any) -> Reply:
    return Reply(status, json.loads(content), {k.lower(): v for k, v in headers.items()})


class WSGITestClient:
    """Drives a WSGI app through werkzeug's test client."""

    def __init__(
        self, app: Any, path: str = "/suno/callback", client: WerkzeugClient | None = None
    ) -> None:
        self.client = client or WerkzeugClient(app)
        self.path = path

    def post(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        query: str = "",
        method: str = "POST",
    ) -> Reply:
        headers = dict(headers or {})
        content_type = headers.pop("Content-Type", None)
        response = self.client.open(
            self.path,
            method=method,
            data=body,
            headers=headers,
            content_type=content_type,
            query_string=query,
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        return _reply(response.status_code, response.get_data(), response.headers)


class ASGITestClient:
    """Drives an ASGI app through httpx's ASGI transport (one event loop per request)."""

    def __init__(self, app: Any, path: str = "/suno/callback") -> None:
        self.app = app
        self.path = path

    async def apost(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        query: str = "",
        method: str = "POST",
    ) -> Reply:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            url = self.path + (f"?{query}" if query else "")
            response = await client.request(method, url, content=body, headers=headers or {})
        return _reply(response.status_code, response.content, response.headers)

    def post(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        query: str = "",
        method: str = "POST",
    ) -> Reply:
        return asyncio.run(self.apost(body, headers, query, method))


def flask_app(receiver: Receiver) -> Flask:
    """A Flask app with the extension mounted at the default `/suno` prefix."""
    app = Flask(__name__)
    SunoHooks(app, receiver=receiver)
    return app


def starlette_app(receiver: Receiver, *, acknowledge_first: bool = False) -> Starlette:
    """A Starlette app with the routes mounted at `/suno`."""
    routes = suno_routes(receiver, acknowledge_first=acknowledge_first)
    return Starlette(routes=[Mount("/suno", routes=routes, name="suno_hooks")])


def _flask_client(receiver: Receiver) -> WSGITestClient:
    app = flask_app(receiver)
    return WSGITestClient(app, client=app.test_client())


class DjangoTestClient:
    """Drives the Django app's sync view through Django's `Client`, or its async view through
    `AsyncClient`, with the receiver given as `SUNO_HOOKS["RECEIVER"]`
    (tests/support/django_urls.py)."""

    def __init__(self, receiver: Receiver, *, asynchronous: bool = False, **client: Any) -> None:
        self.receiver = receiver
        self.asynchronous = asynchronous
        self.path = "/suno-async/callback" if asynchronous else "/suno/callback"
        self.client = client

    def post(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        query: str = "",
        method: str = "POST",
        path: str | None = None,
    ) -> Reply:
        headers = dict(headers or {})
        content_type = ""
        for name in [n for n in headers if n.lower() == "content-type"]:
            content_type = headers.pop(name)
        url = (path or self.path) + (f"?{query}" if query else "")
        options = {"data": body, "content_type": content_type, "headers": headers}
        with override_settings(SUNO_HOOKS={"RECEIVER": self.receiver}):
            if self.asynchronous:
                client = DjangoAsyncClient(**self.client)
                response = asyncio.run(client.generic(method, url, **options))
            else:
                response = DjangoClient(**self.client).generic(method, url, **options)
        return _reply(response.status_code, response.content, response.headers)


ADAPTERS: dict[str, Callable[[Receiver], CallbackClient]] = {
    "wsgi": lambda receiver: WSGITestClient(wsgi_app(receiver)),
    "asgi": lambda receiver: ASGITestClient(asgi_app(receiver)),
    "asgi-acknowledge-first": lambda receiver: ASGITestClient(
        asgi_app(receiver, acknowledge_first=True)
    ),
    "flask": _flask_client,
    "starlette": lambda receiver: ASGITestClient(starlette_app(receiver)),
    "starlette-acknowledge-first": lambda receiver: ASGITestClient(
        starlette_app(receiver, acknowledge_first=True)
    ),
    "django": lambda receiver: DjangoTestClient(receiver),
    "django-async": lambda receiver: DjangoTestClient(receiver, asynchronous=True),
}


def mark_django_adapters(items: list[pytest.Item]) -> None:
    """Give every test run through a Django adapter a transactional test database: the Django
    dispatcher runs a delivery's receivers in a transaction on the store's database (Django's
    default one for a store outside the ORM)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        adapter = params.get("client_factory", params.get("adapter", ""))
        if isinstance(params.get("table_run"), tuple):
            adapter = params["table_run"][0]
        if isinstance(adapter, str) and adapter.startswith("django"):
            item.add_marker(pytest.mark.django_db(transaction=True))
