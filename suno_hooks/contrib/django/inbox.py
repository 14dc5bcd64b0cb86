"""The inbox page in the Django admin: a staff-only view (mounted by `DeliveryAdmin` at
`admin/suno_hooks/delivery/inbox/`, linked from the deliveries list) and the players on the
admin's delivery page. CSRF is Django's own; replay needs the `change_delivery` permission."""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import get_token
from django.utils.safestring import SafeString, mark_safe

from ...stores.base import Delivery
from .conf import get_receiver

__all__ = ["DjangoCsrf", "event_players", "inbox_view"]

REPLAY_PERMISSION = "suno_hooks.change_delivery"


class DjangoCsrf:
    """The replay form carries Django's CSRF token; `csrf_protect` (applied by the admin's
    `admin_view`) checks it before the view runs."""

    field = "csrfmiddlewaretoken"

    def issue(self, request: Any) -> tuple[str, list[tuple[str, str]]]:
        """Django's token for this request (its middleware sets the cookie)."""
        return get_token(request.native), []

    def verify(self, request: Any) -> bool:
        """Already checked by `csrf_protect`."""
        return True


def inbox_view(request: HttpRequest, rest: str = "") -> HttpResponseBase:
    """Serve the inbox page under the admin (wrap with `admin_site.admin_view`: staff only)."""
    from ...inbox import InboxCore
    from ...inbox.request import MAX_FORM, page_request_from_environ

    core = InboxCore(get_receiver(), csrf=DjangoCsrf(), media=_media_target())
    # `request.path` already starts with the script prefix (SCRIPT_NAME or FORCE_SCRIPT_NAME).
    base = request.path[: len(request.path) - len(rest)] if rest else request.path
    page = page_request_from_environ(
        request.META,
        path="/" + rest,
        root=base.rstrip("/"),
        body=request.body[:MAX_FORM] if request.method == "POST" else b"",
        native=request,
        can_replay=request.user.has_perm(REPLAY_PERMISSION),
        secure=request.is_secure(),
    )
    answer = core.handle(page)
    response: HttpResponseBase
    if answer.chunks is None:
        response = HttpResponse(answer.body, status=answer.status)
    else:  # a kept file, streamed as it is read
        response = StreamingHttpResponse(answer.chunks, status=answer.status)
        response["Content-Length"] = str(answer.length)
    for name, value in answer.headers:
        response[name] = value
    return response


def _media_target() -> Any:
    """The archive's target `SUNO_HOOKS["MEDIA"]` names, or None when it names none."""
    from .media import media_settings, target_from_settings

    config = media_settings()
    return target_from_settings(config) if config else None


def event_players(delivery: Delivery) -> SafeString:
    """The event's players, covers, lyrics and MIDI summary as the inbox page shows them (HTML
    rendered by the page's autoescaping templates)."""
    from ...inbox.event_view import event_view
    from ...inbox.render import environment

    macros: Any = environment().get_template("_event.html").module
    html = str(macros.event_section(event_view(delivery, now=time.time())))
    return mark_safe(html)  # every value in it was escaped by the Jinja2 template
