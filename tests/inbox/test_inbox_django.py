"""The inbox page in the Django admin under Django's live server, in headless Chromium: staff
only, linked from the deliveries list, replay with Django's CSRF, players on the admin's
delivery page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from suno_hooks.contrib.django.models import Delivery

from ..adapters.test_django_admin import Switch, deliver, switch
from ..support.browser import browser, follow
from ..support.inbox_helpers import song

__all__ = ["browser", "switch"]

pytestmark = pytest.mark.django_db(transaction=True)

INBOX = "/admin/suno_hooks/delivery/inbox/"


def sign_in(browser: WebDriver, base: str, username: str, password: str) -> None:
    browser.delete_all_cookies()
    browser.get(base + "/admin/login/")
    browser.delete_all_cookies()
    browser.get(base + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    follow(browser, browser.find_element(By.CSS_SELECTOR, "input[type=submit]"))


def test_anonymous_and_non_staff_users_are_refused(live_server: Any, browser: WebDriver):
    deliver(song("Secret song", audio_url="https://x/a.mp3", image_url="https://x/a.png"))
    answer = httpx.get(live_server.url + INBOX, follow_redirects=False)
    assert answer.status_code == 302 and "/admin/login/" in answer.headers["location"]
    assert httpx.post(live_server.url + INBOX + "replay", data={"key": "k"}).status_code in (
        302,
        403,
    )
    User.objects.create_user("visitor", password="pw-visitor-1")
    sign_in(browser, live_server.url, "visitor", "pw-visitor-1")
    browser.get(live_server.url + INBOX)
    assert "/admin/login/" in browser.current_url
    assert "Secret song" not in browser.page_source


def test_staff_open_the_page_from_the_admin_and_replay_a_failure(
    live_server: Any, browser: WebDriver, switch: Switch
):
    key = deliver(
        song(
            "Admin song",
            audio_url="https://cdn.example.com/a.mp3",
            image_url="https://cdn.example.com/a.png",
        )
    )
    assert Delivery.objects.get(key=key).status == "failed"
    User.objects.create_superuser("boss", "boss@example.com", "pw-boss-1")
    sign_in(browser, live_server.url, "boss", "pw-boss-1")
    browser.get(live_server.url + "/admin/suno_hooks/delivery/")
    follow(browser, browser.find_element(By.LINK_TEXT, "Open the inbox page"))
    assert browser.current_url == live_server.url + INBOX
    assert browser.find_element(By.CSS_SELECTOR, "td.summary a").text == "Admin song"
    follow(browser, browser.find_element(By.CSS_SELECTOR, "td.when a"))
    switch.broken = False
    follow(browser, browser.find_element(By.CSS_SELECTOR, "form.replay button"))
    assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "done"
    assert Delivery.objects.get(key=key).status == "done"

    row = Delivery.objects.get(key=key)
    browser.get(f"{live_server.url}/admin/suno_hooks/delivery/{row.pk}/change/")
    audio = browser.find_elements(By.CSS_SELECTOR, "audio")
    assert [a.get_attribute("src") for a in audio] == [
        "https://cdn.example.com/a.mp3",
        "https://cdn.example.com/a.mp3?stream=1",
    ]
    assert "Admin song" in browser.find_element(By.CSS_SELECTOR, "h3.title").text


def test_staff_without_the_change_permission_see_no_replay_button(
    live_server: Any, browser: WebDriver, switch: Switch
):
    from django.contrib.auth.models import Permission

    key = deliver(song("Look only", audio_url="https://x/a.mp3", image_url="https://x/a.png"))
    viewer = User.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    sign_in(browser, live_server.url, "viewer", "pw-viewer-1")
    browser.get(f"{live_server.url}{INBOX}delivery?key={key}")
    assert "failed" in browser.find_element(By.CSS_SELECTOR, "h1 .badge").text
    assert browser.find_elements(By.CSS_SELECTOR, "form.replay") == []
