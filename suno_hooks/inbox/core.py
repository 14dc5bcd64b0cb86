"""`InboxCore`: the page's request handling, shared by the WSGI, ASGI and framework adapters.

Routes, relative to where the page is mounted: `/` (the deliveries), `/delivery?key=…` (one
delivery), `/replay` (POST, CSRF-checked), `/tasks` (expected tasks), `/kept?key=…&name=…` (a
file the archive kept for a delivery) and `/inbox.css`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..media.targets import Target, target_from
from ..outcome import Outcome
from ..receiver import Receiver
from ..stores.base import Delivery, delivery_source
from ..stores.tasks import TASK_LISTINGS, TaskStore
from .event_view import event_view, pretty_body
from .guards import BasicAuth, Check, CsrfGuard, LoopbackOnly, SignedCsrf, csrf_key
from .kept import kept_copy, serve_kept
from .listing import KINDS, SOURCES, STAGES, ListQuery, load_listing, statuses
from .render import render, stylesheet
from .request import PageRequest, PageResponse

__all__ = ["REPLAYABLE", "InboxCore", "MountedInbox", "ReplayAsked"]

logger = logging.getLogger("suno_hooks.inbox")

REPLAYABLE = frozenset({"failed", "abandoned"})
"""Statuses whose deliveries get a replay button."""

_TASK_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ReplayAsked:
    """A replay the page's form asks for: the delivery's key, and whether a delivery that is
    already done runs its handlers again (`force`)."""

    key: str
    force: bool = False


class InboxCore:
    """Answers the page's requests for one receiver; `csrf` guards the replay form (a signed
    double-submit token unless a framework brings its own).

    The token's key is derived from `secret_key`, else from the receiver's secret (`csrf_key`),
    so it verifies in every worker; a receiver without one needs `secret_key=`, unless
    `per_process_key=True` says one process serves the page (a random key of its own then signs).
    With `media` (the archive's target: a directory, an object store URL or a `Target`), a file
    whose link expired plays from the copy the archive kept.
    """

    def __init__(
        self,
        receiver: Receiver,
        *,
        csrf: CsrfGuard | None = None,
        secret_key: str | bytes | None = None,
        page_size: int = 50,
        clock: Callable[[], float] = time.time,
        per_process_key: bool = False,
        media: str | os.PathLike[str] | Target | None = None,
    ) -> None:
        self.receiver = receiver
        self.media = target_from(media) if media is not None else None
        self.csrf: CsrfGuard = csrf or SignedCsrf(
            csrf_key(receiver, secret_key, per_process=per_process_key)
        )
        self.page_size = page_size
        self.clock = clock

    def handle(self, request: PageRequest) -> PageResponse:
        """Answer one request; a store failure is a 503 page, never a stack trace."""
        route = _ROUTES.get(request.path.rstrip("/") or "/")
        if route is None:
            return self._page(request, 404, "problem.html", title="Not found", message=_NOT_FOUND)
        method, handler = route
        allowed = ("GET", "HEAD") if method == "GET" else ("POST",)
        if request.method not in allowed:
            response = self._page(
                request, 405, "problem.html", title="Method not allowed", message=_NOT_ALLOWED
            )
            response.headers.append(("Allow", ", ".join(allowed)))
            return response
        try:
            return handler(self, request)
        except Exception:
            logger.exception("suno-hooks inbox: could not answer %s", request.path)
            return self.failed(request)

    def denied(self, auth: object) -> PageResponse:
        """The answer to a request the access check refused: 401 asking for Basic credentials,
        400 for a host name a page without auth does not answer, or 403 when the check is the
        application's own."""
        if isinstance(auth, BasicAuth):
            return PageResponse.html(401, _DENIED_PAGE, [("WWW-Authenticate", auth.challenge)])
        if isinstance(auth, LoopbackOnly):
            return PageResponse.html(400, _WRONG_HOST_PAGE)
        return PageResponse.html(403, _DENIED_PAGE)

    # -- pages -----------------------------------------------------------------------------------

    def deliveries(self, request: PageRequest) -> PageResponse:
        """The list: filters, counts per status, one page of deliveries."""
        query, problems = ListQuery.from_params(request.query)
        listing = load_listing(
            self.receiver.store, query, page_size=self.page_size, now=self.clock()
        )
        listing.problems = problems
        return self._page(
            request,
            200,
            "list.html",
            title="Deliveries",
            listing=listing,
            statuses=statuses(),
            kinds=KINDS,
            stages=STAGES,
            sources=SOURCES,
        )

    def delivery(self, request: PageRequest) -> PageResponse:
        """One delivery in full, with a replay form when it failed."""
        key = request.query.get("key", "")
        delivery = self.receiver.store.get(key) if key else None
        if delivery is None:
            return self.gone(request)
        token, cookies = self.csrf.issue(request)
        return self._page(
            request,
            200,
            "delivery.html",
            cookies,
            title=f"{delivery.task_id} · {delivery.stage}",
            delivery=delivery,
            source=delivery_source(delivery),
            view=event_view(delivery, now=self.clock(), copy=self._copies(request, delivery)),
            body=pretty_body(delivery.body),
            replayable=request.can_replay and delivery.status.value in REPLAYABLE,
            forceable=request.can_replay and delivery.status.value == "done",
            csrf_field=self.csrf.field,
            csrf_token=token,
            replayed=request.query.get("replayed"),
        )

    def kept(self, request: PageRequest) -> PageResponse:
        """A file the archive kept for a delivery: only one its record in the store names."""
        key, name = request.query.get("key", ""), request.query.get("name", "")
        delivery = self.receiver.store.get(key) if key and self.media is not None else None
        kept = delivery.kept if delivery is not None else ()
        record = next((record for record in kept if record.name == name), None)
        if record is None:
            message = "No kept copy of that file is recorded."
            return self._page(request, 404, "problem.html", title="Not found", message=message)
        return serve_kept(self.media, record, request.headers.get("range"))

    def _copies(
        self, request: PageRequest, delivery: Delivery
    ) -> Callable[[object], str | None] | None:
        if self.media is None or not delivery.kept:
            return None

        def copy(url: object) -> str | None:
            record = kept_copy(delivery, url)
            if record is None:
                return None
            return render_url(request.root, "/kept", key=delivery.key, name=record.name)

        return copy

    def replay(self, request: PageRequest) -> PageResponse:
        """Run the receivers again for one kept delivery, then show it (POST, CSRF-checked)."""
        asked = self.replay_asked(request)
        if isinstance(asked, PageResponse):
            return asked
        try:
            outcome = self.receiver.replay(asked.key, force=asked.force)
        except KeyError:
            return self.gone(request)
        return self.replayed(request, asked.key, outcome)

    def replay_asked(self, request: PageRequest) -> ReplayAsked | PageResponse:
        """What a replay form asks for, or the page refusing it (no permission, a bad CSRF
        token); reads nothing from the store, so an event loop may call it."""
        if not request.can_replay:
            return self._page(request, 403, "problem.html", title="Forbidden", message=_NO_REPLAY)
        if not self.csrf.verify(request):
            return self._page(request, 403, "problem.html", title="Forbidden", message=_BAD_CSRF)
        form = request.form
        return ReplayAsked(form.get("key", ""), form.get("force") == "1")

    def replayed(self, request: PageRequest, key: str, outcome: Outcome) -> PageResponse:
        """The redirect to the delivery after its replay, saying where it now stands."""
        answer = outcome.body.get("status") or outcome.body.get("error") or str(outcome.status)
        kept = self.receiver.store.get(key)
        result = kept.status.value if kept is not None else answer
        location = render_url(request.root, "/delivery", key=key, replayed=result)
        return PageResponse(303, b"", [("Location", location), ("Cache-Control", "no-store")])

    def gone(self, request: PageRequest) -> PageResponse:
        """The page for a delivery the store no longer keeps."""
        message = "No delivery with that key is kept (it may have been purged)."
        return self._page(request, 404, "problem.html", title="Not found", message=message)

    def failed(self, request: PageRequest) -> PageResponse:
        """The page for a request that could not be answered (logged by the caller)."""
        return self._page(request, 503, "problem.html", title="Unavailable", message=_UNAVAILABLE)

    def tasks(self, request: PageRequest) -> PageResponse:
        """The expected tasks (when the store keeps them): pending, overdue, settled, lost."""
        store: Any = self.receiver.store
        supported = isinstance(store, TaskStore)
        state = request.query.get("state") or None
        if state not in (None, *TASK_LISTINGS):
            state = None
        now = self.clock()
        found = store.tasks(state=state, limit=_TASK_LIMIT, now=now) if supported else []
        return self._page(
            request,
            200,
            "tasks.html",
            title="Expected tasks",
            supported=supported,
            tasks=found,
            state=state,
            listings=TASK_LISTINGS,
            now=now,
        )

    def css(self, request: PageRequest) -> PageResponse:
        """The stylesheet."""
        return PageResponse(
            200,
            stylesheet(),
            [("Content-Type", "text/css; charset=utf-8"), ("Cache-Control", "max-age=3600")],
        )

    def _page(
        self,
        request: PageRequest,
        status: int,
        template: str,
        headers: list[tuple[str, str]] | None = None,
        **context: Any,
    ) -> PageResponse:
        text = render(template, root=request.root, **context)
        return PageResponse.html(status, text, headers)


class MountedInbox:
    """What the WSGI and ASGI apps share: the core answering requests and the access check.

    Without `auth`, the check is `LoopbackOnly`: the page answers only requests addressed to
    `localhost`, `127.0.0.1` or `[::1]`, and when the receiver has no secret its CSRF key may be a
    random one of this process; with `auth`, it needs a secret (`csrf_key`).
    """

    def __init__(
        self,
        receiver: Receiver,
        *,
        auth: Check | None = None,
        secret_key: str | bytes | None = None,
        csrf: CsrfGuard | None = None,
        media: str | os.PathLike[str] | Target | None = None,
    ) -> None:
        self.core = InboxCore(
            receiver, csrf=csrf, secret_key=secret_key, per_process_key=auth is None, media=media
        )
        self.auth: Check = auth if auth is not None else LoopbackOnly()


def render_url(root: str, path: str, **params: str) -> str:
    """A link under the page's mount."""
    return f"{root}{path}?{urlencode(params)}" if params else f"{root}{path}"


_ROUTES: dict[str, tuple[str, Callable[[InboxCore, PageRequest], PageResponse]]] = {
    "/": ("GET", InboxCore.deliveries),
    "/delivery": ("GET", InboxCore.delivery),
    "/replay": ("POST", InboxCore.replay),
    "/tasks": ("GET", InboxCore.tasks),
    "/kept": ("GET", InboxCore.kept),
    "/inbox.css": ("GET", InboxCore.css),
}

_NOT_FOUND = "Nothing is served at this address."
_NOT_ALLOWED = "This address does not take that method."
_UNAVAILABLE = "The inbox could not be read; the error is in the server's log."
_BAD_CSRF = "The form was stale or came from another site. Reload the page and try again."
_NO_REPLAY = "You may look at deliveries but not replay them."
_WRONG_HOST_PAGE = (
    "<!doctype html><title>Wrong host</title><p>This suno-hooks inbox has no sign-in, so it "
    "answers only at localhost, 127.0.0.1 or [::1].</p>"
)
_DENIED_PAGE = (
    "<!doctype html><title>Access denied</title><p>The suno-hooks inbox needs you to sign in.</p>"
)
