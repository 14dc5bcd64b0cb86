"""The inbox page in the Django admin under a script prefix: every link and the replay form
carry the prefix exactly once, whether it comes from the WSGI `SCRIPT_NAME` or from
`FORCE_SCRIPT_NAME`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import set_script_prefix

from ..adapters.test_django_admin import Switch, deliver, switch
from ..support.inbox_helpers import song

__all__ = ["switch"]

pytestmark = pytest.mark.django_db(transaction=True)

INBOX = "/admin/suno_hooks/delivery/inbox/"
FORM = "application/x-www-form-urlencoded"
ADDRESSES = re.compile(r'(?:href|action)="([^"]*)"')


@pytest.fixture(params=["SCRIPT_NAME", "FORCE_SCRIPT_NAME"])
def staff(request: pytest.FixtureRequest) -> Iterator[tuple[Client, dict[str, Any]]]:
    """A signed-in superuser's client, and the environ that puts the site under `/app`."""
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw-boss-1"))
    try:
        if request.param == "SCRIPT_NAME":
            yield client, {"SCRIPT_NAME": "/app"}
        else:
            with override_settings(FORCE_SCRIPT_NAME="/app"):
                yield client, {}
    finally:
        set_script_prefix("/")


def page_addresses(html: str) -> list[str]:
    """The page's own links and form actions (the stylesheet included)."""
    return [a.replace("&amp;", "&") for a in ADDRESSES.findall(html) if a.startswith("/")]


def test_links_and_the_replay_form_carry_the_prefix_once(
    staff: tuple[Client, dict[str, Any]], switch: Switch
):
    client, environ = staff
    key = deliver(song("Prefixed song", audio_url="https://x/a.mp3", image_url="https://x/a.png"))

    listing = client.get(INBOX, **environ)
    assert listing.status_code == 200
    links = page_addresses(listing.content.decode())
    assert any(link.startswith("/app" + INBOX + "delivery?") for link in links)
    for link in links:
        assert link.startswith("/app" + INBOX), link

    page = client.get(INBOX + "delivery", {"key": key}, **environ)
    html = page.content.decode()
    assert f'action="/app{INBOX}replay"' in html
    for link in page_addresses(html):
        assert link.startswith("/app" + INBOX), link

    switch.broken = False
    form = urlencode({"key": key})
    replayed = client.post(INBOX + "replay", form, FORM, **environ)
    assert replayed.status_code == 303, replayed.content.decode()[-600:]
    assert replayed["Location"].startswith(f"/app{INBOX}delivery?key=")
