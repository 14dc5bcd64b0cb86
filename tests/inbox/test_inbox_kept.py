"""The kept media of a delivery on the inbox page, in real headless Chromium (WSGI and ASGI)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from suno_hooks import Receiver
from suno_hooks.media import KeptFile
from suno_hooks.stores import MemoryStore

from ..support.browser import browser, follow
from ..support.inbox_helpers import Serve, deliver, serve, song

pytestmark = pytest.mark.filterwarnings("ignore::suno_hooks.InsecureReceiverWarning")

__all__ = ["browser", "serve"]


def test_the_delivery_page_lists_its_kept_media_escaped(browser: WebDriver, serve: Serve):
    receiver = Receiver(store=MemoryStore(), require="none")
    outcome = deliver(receiver, song("Kept", audio_url="https://x/a.mp3", image_url="https://x/i"))
    assert outcome.delivery is not None
    key = outcome.delivery.key
    record = KeptFile(
        key="t/complete/a.mp3",
        name="a.mp3",
        location="/srv/<b>music</b>/a.mp3",
        bytes=4096,
        sha256="0123456789ab" + "f" * 52,
        content_type="audio/mpeg",
        kept_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc),
    )
    assert receiver.store.record_kept(key, [record])  # type: ignore[attr-defined]
    browser.get(serve(receiver) + "/")
    follow(browser, browser.find_element(By.CSS_SELECTOR, f"tr[data-key='{key}'] td.when a"))
    cells = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#kept tbody td")]
    assert cells[:3] == ["a.mp3", "4096", "0123456789ab…"]
    assert cells[4] == "/srv/<b>music</b>/a.mp3"  # shown as text, never as markup
    assert "2026-03-04" in cells[3]
