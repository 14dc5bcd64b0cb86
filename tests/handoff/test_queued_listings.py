"""`queued` deliveries in what people look at (`suno-hooks events`, the inbox page, the admin
and their status filters), and the sweeper where operators run it (`suno-hooks reconcile`,
`manage.py suno_hooks sweep`)."""

from __future__ import annotations

import json
import time
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from suno_hooks import Receiver, callback_received
from suno_hooks.contrib.django.store import DjangoStore
from suno_hooks.inbound import InboundRequest
from suno_hooks.inbox import inbox_wsgi_app
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY
from ..support.browser import browser, follow, wsgi_server
from ..support.cli_helpers import run_cli
from ..support.handoff_bell import Bell

__all__ = ["browser"]


def queue(receiver: Receiver, task_id: str) -> str:
    body = encode(make_callback("music", "complete", task_id=task_id))
    answer = receiver.handle(InboundRequest("POST", body, sign_headers(body, HMAC_KEY)))
    assert answer.body == {"status": "queued"}
    return f"{task_id}:complete"


def test_events_lists_queued_deliveries(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'events.db'}"
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=url, handoff=Bell())
    key = queue(receiver, "listedq")
    done = run_cli("events", "--store", url, "--status", "queued", "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(row["key"], row["status"]) for row in rows] == [(key, "queued")]


def test_reconcile_sweeps_with_the_hand_off_it_is_given(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=url, handoff=Bell())
    key = queue(receiver, "cronq")
    done = run_cli(
        "reconcile",
        "--store",
        url,
        "--once",
        "--handoff",
        "tests.support.handoff_bell:Bell",
        env={"SUNO_API_KEY": "unused-key", "SUNO_API_BASE_URL": "http://127.0.0.1:9"},
    )
    assert done.returncode == 0, done.stderr
    assert "sweep: rang 0 queued deliveries again" in done.stdout  # not old enough yet
    kept = receiver.store.get(key)
    assert kept is not None and kept.rings == 0


def call(*args: str) -> str:
    out = StringIO()
    call_command("suno_hooks", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_admin_filters_queued_and_the_command_sweeps(admin_client: Client):
    bell = Bell()
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=DjangoStore(), handoff=bell)
    key = queue(receiver, "q" * 32)
    with override_settings(SUNO_HOOKS={"RECEIVER": receiver}):
        url = "/admin/suno_hooks/delivery/"
        page = admin_client.get(url, {"status__exact": "queued"}).content.decode()
        assert "q" * 32 in page
        assert "q" * 32 not in admin_client.get(url, {"status__exact": "done"}).content.decode()
        time.sleep(0.05)
        swept = call("sweep", "--once", "--older-than", "0.01")
    assert swept.strip() == "sweep: rang 1 queued deliveries again (0 rings failed)"
    assert bell.rings == [key, key]


@pytest.mark.django_db(transaction=True)
def test_the_sweep_command_needs_a_hand_off():
    receiver: Any = Receiver(hmac_keys=[HMAC_KEY], store=DjangoStore())
    with (
        override_settings(SUNO_HOOKS={"RECEIVER": receiver}),
        pytest.raises(CommandError, match="HANDOFF"),
    ):
        call("sweep", "--once")


def test_the_inbox_page_lists_and_filters_queued_deliveries(browser: WebDriver, tmp_path: Path):
    receiver = Receiver(hmac_keys=[HMAC_KEY], store=f"sqlite:///{tmp_path / 'page.db'}")
    waiting = Receiver(hmac_keys=[HMAC_KEY], store=receiver.store, handoff=Bell())
    key = queue(waiting, "pageq")
    with callback_received.connected_to(lambda sender, **extra: None):
        ran = receiver.handle(signed(make_callback("music", "complete", task_id="pagedone")))
    assert ran.body == {"status": "received"}
    with wsgi_server(inbox_wsgi_app(receiver)) as base:
        browser.get(base + "/")
        Select(browser.find_element(By.NAME, "status")).select_by_visible_text("queued")
        follow(browser, browser.find_element(By.CSS_SELECTOR, ".filters button"))
        rows = browser.find_elements(By.CSS_SELECTOR, "table.deliveries tbody tr")
        assert [row.get_attribute("data-key") for row in rows] == [key]
        assert browser.find_elements(By.CSS_SELECTOR, "tbody .status-queued")


def signed(body: dict[str, Any]) -> InboundRequest:
    data = encode(body)
    return InboundRequest("POST", data, sign_headers(data, HMAC_KEY))
