"""The inbox page in real headless Chromium, served as WSGI (werkzeug) and as ASGI (uvicorn):
every family listed, filters, paging, players, escaping, expiry, and replay from the button."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from suno_hooks import Receiver, callback_received, task_completed, task_failed
from suno_hooks._callbacks.probe import load_json, probe
from suno_hooks.stores import ClaimResult, Delivery, MemoryStore
from suno_hooks.stores.tasks import ExpectedTask, TaskStore
from suno_hooks.testing import encode, make_callback

from ..conftest import fixture_bytes
from ..support.browser import browser, follow
from ..support.inbox_helpers import (
    FAMILIES,
    Serve,
    deliver,
    deliver_fixtures,
    failing_handler,
    serve,
    song,
)

# The page is what these tests are about: their receivers accept callbacks unverified.
pytestmark = pytest.mark.filterwarnings("ignore::suno_hooks.InsecureReceiverWarning")

__all__ = ["browser", "serve"]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver(store=MemoryStore(), require="none")


def texts(browser: WebDriver, selector: str) -> list[str]:
    return [element.text for element in browser.find_elements(By.CSS_SELECTOR, selector)]


def row_keys(browser: WebDriver) -> list[str]:
    rows = browser.find_elements(By.CSS_SELECTOR, "table.deliveries tbody tr")
    return [str(row.get_attribute("data-key")) for row in rows]


def test_list_shows_every_family_newest_first_with_counts(
    browser: WebDriver, serve: Serve, receiver: Receiver
):
    deliver_fixtures(receiver)
    expected = [d.key for d in receiver.store.deliveries(limit=1000)]
    browser.get(serve(receiver) + "/")
    assert browser.title == "Deliveries · suno-hooks inbox"
    assert f"all {len(expected)}" in texts(browser, ".counts li")[0]
    keys, kinds = [], set()
    while True:
        keys += row_keys(browser)
        kinds |= set(texts(browser, "td span.kind"))
        older = browser.find_elements(By.CSS_SELECTOR, "a[rel=next]")
        if not older:
            break
        follow(browser, older[0])
    assert keys == expected
    assert set(FAMILIES) <= kinds
    assert "page 2" in browser.find_element(By.CSS_SELECTOR, ".pages").text


def test_filters_narrow_the_list(browser: WebDriver, serve: Serve, receiver: Receiver):
    deliver_fixtures(receiver)
    with failing_handler(receiver):
        failed = deliver(receiver, song("Broken", audio_url="https://x/a", image_url="https://x/i"))
    assert failed.delivery is not None
    base = serve(receiver)

    def choose(**values: str) -> list[str]:
        browser.get(base + "/")
        for name, value in values.items():
            if name == "task":
                browser.find_element(By.NAME, "task").send_keys(value)
            else:
                Select(browser.find_element(By.NAME, name)).select_by_visible_text(value)
        follow(browser, browser.find_element(By.CSS_SELECTOR, ".filters button"))
        return row_keys(browser)

    assert choose(status="failed") == [failed.delivery.key]
    lyrics = choose(kind="lyrics")
    assert lyrics and all(
        key in {d.key for d in receiver.store.deliveries(kind="lyrics")} for key in lyrics
    )
    assert set(texts(browser, "td span.kind")) == {"lyrics"}
    errors = choose(stage="error", kind="music")
    assert errors == [d.key for d in receiver.store.deliveries(stage="error", kind="music")]
    assert choose(task=failed.delivery.task_id) == [failed.delivery.key]
    assert len(choose(source="callback")) == 50
    assert choose(source="replay") == []
    assert "No deliveries match these filters." in browser.page_source
    with callback_received.connected_to(lambda sender, **extra: None):  # heard, so done
        polled = receiver.deliver(song("Polled", audio_url="https://x/p", image_url="https://x/q"))
    assert polled.delivery is not None
    assert choose(source="poll") == [polled.delivery.key]
    follow(browser, browser.find_element(By.LINK_TEXT, "clear"))
    assert len(row_keys(browser)) == 50
    follow(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "failed"))
    assert row_keys(browser) == [failed.delivery.key]


def test_failed_delivery_replays_from_its_button_and_turns_done(
    browser: WebDriver, serve: Serve, receiver: Receiver
):
    with failing_handler(receiver) as handler:
        outcome = deliver(
            receiver, song("Retry me", audio_url="https://x/a", image_url="https://x/i")
        )
        assert outcome.delivery is not None
        key = outcome.delivery.key
        browser.get(serve(receiver) + "/")
        follow(browser, browser.find_element(By.CSS_SELECTOR, f"tr[data-key='{key}'] td.when a"))
        assert "failed" in browser.find_element(By.CSS_SELECTOR, "h1 .badge").text
        assert (
            "label printer jammed <b>now</b>"
            in browser.find_element(By.CSS_SELECTOR, "dd.error").text
        )
        handler.broken = False
        follow(browser, browser.find_element(By.CSS_SELECTOR, "form.replay button"))
        assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "done"
        assert "now done" in browser.find_element(By.ID, "replayed").text
        assert texts(browser, "form.replay button") == ["Run the handlers again"]
        assert handler.runs == 2
    kept = receiver.store.get(key)
    assert kept is not None and (kept.status.value, kept.attempts) == ("done", 2)


def test_the_tasks_outcome_shows_apart_from_the_delivery_and_done_ones_replay_on_purpose(
    browser: WebDriver, serve: Serve, receiver: Receiver
):
    failed_task = make_callback(stage="error", task_id="e" * 32)
    with failing_handler(receiver, task_failed) as handler:
        handler.broken = False
        assert deliver(receiver, failed_task).body == {"status": "received"}
    unheard = deliver(receiver, make_callback(task_id="n" * 32))
    assert unheard.delivery is not None and unheard.body == {"status": "received"}
    base = serve(receiver)
    browser.get(base + "/")
    failed_row = f"tr[data-key='{'e' * 32}:error']"
    assert texts(browser, f"{failed_row} td.outcome") == ["failed"]
    assert texts(browser, f"{failed_row} td.status") == ["done"]
    unheard_row = f"tr[data-key='{'n' * 32}:complete']"
    assert texts(browser, f"{unheard_row} td.outcome") == ["completed"]
    assert texts(browser, f"{unheard_row} td.status") == ["failed"]
    colour = "return getComputedStyle(document.querySelector(arguments[0])).backgroundColor"
    done_badge = browser.execute_script(colour, f"{failed_row} td.status .badge")
    assert done_badge != browser.execute_script(colour, f"{unheard_row} td.outcome .badge")

    follow(browser, browser.find_element(By.CSS_SELECTOR, f"{unheard_row} td.when a"))
    assert "no handler was connected" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert texts(browser, "form.replay button") == ["Replay this delivery"]

    browser.get(f"{base}/delivery?key={'e' * 32}:error")
    assert texts(browser, "dl.facts .outcome") == ["failed"]
    assert "already ran once" in browser.find_element(By.CSS_SELECTOR, "form.replay").text
    with failing_handler(receiver, task_failed) as again:
        again.broken = False
        follow(browser, browser.find_element(By.CSS_SELECTOR, "form.replay button"))
        assert again.runs == 1
    assert "now done" in browser.find_element(By.ID, "replayed").text
    kept = receiver.store.get("e" * 32 + ":error")
    assert kept is not None and (kept.status.value, kept.attempts) == ("done", 2)


def test_audio_elements_play_the_track_urls(browser: WebDriver, serve: Serve, receiver: Receiver):
    audio, cover = "https://cdn.example.com/tracks/a1.mp3", "https://cdn.example.com/covers/a1.png"
    outcome = deliver(receiver, song("Neon Rain", audio_url=audio, image_url=cover))
    assert outcome.delivery is not None
    browser.get(serve(receiver) + "/delivery?key=" + outcome.delivery.key)
    sources = [a.get_attribute("src") for a in browser.find_elements(By.CSS_SELECTOR, "audio")]
    assert sources == [audio, audio + "?stream=1"]
    assert all(a.get_attribute("controls") for a in browser.find_elements(By.TAG_NAME, "audio"))
    assert browser.find_element(By.CSS_SELECTOR, ".cover img").get_attribute("src") == cover
    assert browser.find_element(By.CSS_SELECTOR, "h3.title").text == "Neon Rain"
    assert '"title": "Neon Rain"' in browser.find_element(By.CSS_SELECTOR, "pre.body").text


def test_stems_video_images_and_midi_are_shown(
    browser: WebDriver, serve: Serve, receiver: Receiver
):
    found = {}
    for name in (
        "vocal-removal.split-stem.complete.json",
        "video.complete.json",
        "cover-image.complete.json",
        "midi.complete.json",
    ):
        outcome = deliver(receiver, fixture_bytes(name))
        assert outcome.delivery is not None and outcome.event is not None
        found[name] = outcome
    base = serve(receiver)

    stems = found["vocal-removal.split-stem.complete.json"]
    browser.get(base + "/delivery?key=" + stems.delivery.key)
    expected = stems.event.stems.urls()
    assert len(expected) >= 12
    assert texts(browser, ".players figcaption") == list(expected)
    sources = [
        a.get_attribute("src") for a in browser.find_elements(By.CSS_SELECTOR, ".players audio")
    ]
    assert sources == list(expected.values())

    video = found["video.complete.json"]
    browser.get(base + "/delivery?key=" + video.delivery.key)
    player = browser.find_element(By.TAG_NAME, "video")
    assert player.get_attribute("src") == video.event.video_url
    assert player.get_attribute("controls")

    images = found["cover-image.complete.json"]
    browser.get(base + "/delivery?key=" + images.delivery.key)
    shown = [i.get_attribute("src") for i in browser.find_elements(By.CSS_SELECTOR, ".images img")]
    assert shown == images.event.images and shown

    midi = found["midi.complete.json"]
    browser.get(base + "/delivery?key=" + midi.delivery.key)
    instruments = midi.event.midi.instruments
    assert (
        f"{len(instruments)} instruments"
        in browser.find_element(By.CSS_SELECTOR, "table.midi caption").text
    )
    rows = texts(browser, "table.midi tbody tr td:first-child")
    assert rows == [i.name for i in instruments]


def test_titles_and_lyrics_holding_markup_show_as_text(
    browser: WebDriver, serve: Serve, receiver: Receiver
):
    title = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='img'\">"
    body = song(title, audio_url="https://x/a.mp3", image_url="https://x/i.png")
    body["data"]["data"][0]["prompt"] = "</pre><script>document.title='lyrics'</script>"
    outcome = deliver(receiver, body)
    assert outcome.delivery is not None
    base = serve(receiver)
    browser.get(base + "/")
    assert browser.title == "Deliveries · suno-hooks inbox"
    assert browser.find_element(By.CSS_SELECTOR, "td.summary a").text == title
    browser.get(base + "/delivery?key=" + outcome.delivery.key)
    assert browser.find_element(By.CSS_SELECTOR, "h3.title").text == title
    assert browser.find_elements(By.CSS_SELECTOR, "main script, main img[src=x]") == []
    browser.find_element(By.CSS_SELECTOR, "details summary").click()
    assert "<script>" in browser.find_element(By.CSS_SELECTOR, "pre.lyrics").text
    assert browser.title.endswith("suno-hooks inbox")


def test_expired_and_non_http_media_are_not_players(
    browser: WebDriver, serve: Serve, receiver: Receiver
):
    old = deliver(
        receiver,
        song(
            "Old",
            audio_url="https://x/o.mp3",
            image_url="https://x/o.png",
            created=time.time() - 15 * 86400,
        ),
    )
    odd = deliver(
        receiver, song("Odd", audio_url="javascript:alert(1)", image_url="data:image/png;base64,AA")
    )
    assert old.delivery is not None and odd.delivery is not None
    base = serve(receiver)
    browser.get(base + "/delivery?key=" + old.delivery.key)
    assert browser.find_elements(By.TAG_NAME, "audio") == []
    assert "audio: expired" in texts(browser, ".expired")
    assert "cover: expired" in texts(browser, ".expired")
    browser.get(base + "/delivery?key=" + odd.delivery.key)
    assert browser.find_elements(By.TAG_NAME, "audio") == []
    assert browser.find_elements(By.CSS_SELECTOR, ".cover img") == []
    assert "audio: not shown (not an http(s) URL)" in texts(browser, ".unsafe")
    assert "javascript:" not in "".join(
        str(a.get_attribute("href")) for a in browser.find_elements(By.TAG_NAME, "a")
    )


def test_unknown_delivery_is_a_not_found_page(browser: WebDriver, serve: Serve, receiver: Receiver):
    browser.get(serve(receiver) + "/delivery?key=nope:complete")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"


def test_expected_tasks_pending_overdue_settled_and_lost(
    browser: WebDriver, serve: Serve, receiver: Receiver
):
    store = receiver.store
    assert isinstance(store, TaskStore)
    now = time.time()
    for task_id, after in (
        ("pending-1", 600),
        ("overdue-1", -60),
        ("by-callback", 600),
        ("by-poll", -1),
        ("lost-1", -1),
    ):
        store.expect(ExpectedTask.submitted(task_id, "generate", after=after, now=now - 120))
    store.settle("by-callback", by="callback")
    store.settle("by-poll", by="poll")
    store.mark_lost("lost-1")
    base = serve(receiver)
    browser.get(base + "/")
    follow(browser, browser.find_element(By.LINK_TEXT, "Expected tasks"))
    states = dict(
        zip(
            texts(browser, "table.tasks td.mono"),
            texts(browser, "table.tasks td:nth-child(3)"),
            strict=True,
        )
    )
    assert states == {
        "pending-1": "pending",
        "overdue-1": "overdue",
        "by-callback": "settled by callback",
        "by-poll": "settled by poll",
        "lost-1": "lost",
    }
    for state, expected in (
        ("overdue", ["overdue-1"]),
        ("settled", ["by-callback", "by-poll"]),
        ("lost", ["lost-1"]),
    ):
        follow(browser, browser.find_element(By.LINK_TEXT, state))
        assert sorted(texts(browser, "table.tasks td.mono")) == expected
    follow(browser, browser.find_element(By.LINK_TEXT, "lost-1"))
    assert "task=lost-1" in browser.current_url


def test_tasks_page_of_a_store_without_expected_tasks(browser: WebDriver, serve: Serve):
    class InboxOnly:
        """A store that keeps deliveries only: the memory store's inbox methods, nothing else."""

        def __init__(self) -> None:
            inner = MemoryStore()
            self.retention = inner.retention
            for name in ("claim", "finish", "extend", "get", "deliveries", "count_by_status"):
                setattr(self, name, getattr(inner, name))
            self.purge, self.close = inner.purge, inner.close

    store = InboxOnly()
    assert not isinstance(store, TaskStore)
    receiver = Receiver(store=store, require="none")  # type: ignore[arg-type]
    browser.get(serve(receiver) + "/tasks")
    assert "This store does not keep expected tasks." in browser.page_source


def test_abandoned_delivery_is_counted_and_replays_from_its_button(
    browser: WebDriver, serve: Serve, receiver: Receiver
):
    body = encode(song("Half done", audio_url="https://x/h.mp3", image_url="https://x/h.png"))
    # A worker that died mid-handler leaves its delivery processing with an ended lease.
    found = probe(load_json(body))
    left = Delivery(found.dedupe_key, found.task_id, found.stage, body, kind="music")
    assert receiver.store.claim(left, lease=0.0).result is ClaimResult.NEW
    calls: list[str] = []
    with task_completed.connected_to(lambda sender, event, **extra: calls.append(event.task_id)):
        base = serve(receiver)
        browser.get(base + "/")
        follow(browser, browser.find_element(By.PARTIAL_LINK_TEXT, "abandoned"))
        assert row_keys(browser) == [left.key]
        follow(browser, browser.find_element(By.CSS_SELECTOR, "td.when a"))
        assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "abandoned"
        follow(browser, browser.find_element(By.CSS_SELECTOR, "form.replay button"))
        assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "done"
    assert calls == [left.task_id]
