"""The inbox in the admin (changelist, search, filters, raw body, replay action) and the
`suno_hooks` management command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from suno_hooks import Event
from suno_hooks.contrib.django import signals
from suno_hooks.contrib.django.conf import get_receiver
from suno_hooks.contrib.django.models import Delivery
from suno_hooks.testing import encode, make_callback, sign_headers

from ..conftest import HMAC_KEY
from ..support.stores import delivery

pytestmark = pytest.mark.django_db(transaction=True)


def deliver(body: dict[str, Any]) -> str:
    raw = encode(body)
    headers = sign_headers(raw, HMAC_KEY)
    content_type = headers.pop("Content-Type")
    response = Client().post("/suno/callback", raw, content_type=content_type, headers=headers)
    assert response.status_code == 200
    return f"{body['data']['task_id']}:{body['data'].get('callbackType', 'complete')}"


class Switch:
    """Makes the connected task_completed receiver fail while `broken` is set."""

    def __init__(self) -> None:
        self.broken = True
        self.runs = 0


@pytest.fixture
def switch() -> Iterator[Switch]:
    state = Switch()

    def print_label(sender: Any, event: Event, **kwargs: Any) -> None:
        state.runs += 1
        if state.broken:
            raise RuntimeError("label printer jammed")

    signals.task_completed.connect(print_label, weak=False)
    yield state
    signals.task_completed.disconnect(print_label)


@pytest.fixture
def inbox(switch: Switch) -> dict[str, str]:
    """One failed music delivery, one done lyrics delivery and one done progress delivery."""
    failed = deliver(make_callback(task_id="f" * 32))
    switch.broken = False
    lyrics = deliver(make_callback("lyrics", task_id="1" * 32))
    progress = deliver(make_callback(stage="text", task_id="2" * 32))
    return {"failed": failed, "lyrics": lyrics, "progress": progress}


def test_changelist_lists_filters_and_searches(admin_client: Client, inbox: dict[str, str]):
    url = "/admin/suno_hooks/delivery/"
    page = admin_client.get(url).content.decode()
    for key in inbox.values():
        assert key.split(":")[0] in page
    failed = admin_client.get(url, {"status__exact": "failed"}).content.decode()
    assert "f" * 32 in failed and "1" * 32 not in failed
    lyrics = admin_client.get(url, {"kind__exact": "lyrics"}).content.decode()
    assert "1" * 32 in lyrics and "f" * 32 not in lyrics
    found = admin_client.get(url, {"q": "2" * 32}).content.decode()
    assert "2" * 32 in found and "f" * 32 not in found
    assert "0 results" not in found


def test_change_page_shows_the_body_as_indented_json_read_only(
    admin_client: Client, inbox: dict[str, str]
):
    row = Delivery.objects.get(key=inbox["failed"])
    page = admin_client.get(f"/admin/suno_hooks/delivery/{row.pk}/change/").content.decode()
    assert "&quot;callbackType&quot;: &quot;complete&quot;" in page
    assert '\n  "code"' in json.dumps(json.loads(bytes(row.body)), indent=2)
    assert "\n  &quot;code&quot;: 200" in page
    assert "label printer jammed" in page
    assert 'name="_save"' not in page
    assert admin_client.get("/admin/suno_hooks/delivery/add/").status_code == 403


def test_replay_action_reruns_failed_deliveries(
    admin_client: Client, inbox: dict[str, str], switch: Switch
):
    rows = Delivery.objects.filter(key__in=[inbox["failed"], inbox["lyrics"]])
    runs = switch.runs
    response = admin_client.post(
        "/admin/suno_hooks/delivery/",
        {"action": "replay_deliveries", "_selected_action": [r.pk for r in rows]},
        follow=True,
    )
    page = response.content.decode()
    assert '<li class="success">Replayed 1 delivery: all done.</li>' in page
    assert "Skipped 1 that were neither failed nor abandoned." in page
    row = Delivery.objects.get(key=inbox["failed"])
    assert row.status == "done" and row.attempts == 2
    assert switch.runs == runs + 1


def test_replay_action_that_fails_again_says_so_once_as_a_warning(
    admin_client: Client, inbox: dict[str, str], switch: Switch
):
    switch.broken = True
    row = Delivery.objects.get(key=inbox["failed"])
    response = admin_client.post(
        "/admin/suno_hooks/delivery/",
        {"action": "replay_deliveries", "_selected_action": [row.pk]},
        follow=True,
    )
    page = response.content.decode()
    expected = "Replayed 1 delivery: 0 done, 1 failed again (see their error)."
    assert f'<li class="warning">{expected}</li>' in page
    assert 'class="success"' not in page
    assert Delivery.objects.get(key=inbox["failed"]).status == "failed"


def test_replay_action_needs_the_change_permission(inbox: dict[str, str], django_user_model: Any):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client = Client()
    client.force_login(viewer)
    page = client.get("/admin/suno_hooks/delivery/").content.decode()
    assert "f" * 32 in page
    assert "replay_deliveries" not in page


def call(*args: str) -> str:
    out = StringIO()
    call_command("suno_hooks", *args, stdout=out)
    return out.getvalue()


def call_json(*args: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in call(*args, "--json").splitlines()]


def test_command_replays_a_done_delivery_only_when_forced(inbox: dict[str, str], switch: Switch):
    runs = switch.runs
    assert call("replay", inbox["lyrics"]) == f"{inbox['lyrics']}: duplicate\n"
    assert switch.runs == runs
    assert call("replay", inbox["lyrics"], "--force") == f"{inbox['lyrics']}: received\n"
    assert Delivery.objects.get(key=inbox["lyrics"]).attempts == 2
    with pytest.raises(CommandError, match="give its key"):
        call("replay", "--failed", "--force")


def test_command_lists_with_filters_and_json(inbox: dict[str, str]):
    listed = call_json("list")
    assert {d["key"] for d in listed} == set(inbox.values())
    failed = call_json("list", "--status", "failed")
    assert [d["key"] for d in failed] == [inbox["failed"]]
    assert "label printer jammed" in failed[0]["error"]
    lyrics = call_json("list", "--kind", "lyrics")
    assert [d["key"] for d in lyrics] == [inbox["lyrics"]]
    one = call_json("list", "--task", "2" * 32)
    assert [d["stage"] for d in one] == ["text"]
    text = call("list")
    assert inbox["failed"] in text and "error: " in text


def test_command_replays_one_key_and_every_failed(inbox: dict[str, str], switch: Switch):
    switch.broken = True
    assert "failed again: " in call("replay", inbox["failed"])
    switch.broken = False
    assert call("replay", "--failed") == f"{inbox['failed']}: received\n"
    assert call("replay", "--failed") == "No failed deliveries.\n"
    assert call("replay", inbox["lyrics"]) == f"{inbox['lyrics']}: duplicate\n"
    with pytest.raises(CommandError, match="No delivery"):
        call("replay", "nothing:complete")
    with pytest.raises(CommandError, match="one delivery key, or --failed"):
        call("replay")


def test_abandoned_rows_are_listed_and_the_replay_action_recovers_them(
    admin_client: Client, switch: Switch
):
    switch.broken = False
    store = get_receiver().store
    # Two workers died mid-handler (their leases are over); a third is still running.
    for task_id, lease in (("a" * 32, 0.0), ("b" * 32, 0.0), ("c" * 32, 600.0)):
        body = encode(make_callback(task_id=task_id))
        store.claim(delivery(task_id, body=body), lease=lease)
    url = "/admin/suno_hooks/delivery/"
    listed = admin_client.get(url).content.decode()
    assert listed.count('<td class="field-reported_status">abandoned</td>') == 2
    assert listed.count('<td class="field-reported_status">processing</td>') == 1
    abandoned = admin_client.get(url, {"status__exact": "abandoned"}).content.decode()
    assert "a" * 32 in abandoned and "b" * 32 in abandoned and "c" * 32 not in abandoned
    running = admin_client.get(url, {"status__exact": "processing"}).content.decode()
    assert "c" * 32 in running and "a" * 32 not in running

    runs = switch.runs
    response = admin_client.post(
        url,
        {"action": "replay_deliveries", "_selected_action": [r.pk for r in Delivery.objects.all()]},
        follow=True,
    )
    page = response.content.decode()
    assert '<li class="success">Replayed 2 deliveries: all done.</li>' in page
    assert "Skipped 1 that were neither failed nor abandoned." in page
    assert switch.runs == runs + 2
    statuses = {row.task_id: (row.status, row.attempts) for row in Delivery.objects.all()}
    assert statuses == {"a" * 32: ("done", 2), "b" * 32: ("done", 2), "c" * 32: ("processing", 1)}
    after = admin_client.get(url).content.decode()
    assert '<td class="field-reported_status">abandoned</td>' not in after


def test_change_page_lists_the_kept_media_escaped(admin_client: Client, inbox: dict[str, str]):
    from datetime import datetime, timezone

    from suno_hooks.media import KeptFile

    store = get_receiver().store
    row = Delivery.objects.get(key=inbox["lyrics"])
    page = admin_client.get(f"/admin/suno_hooks/delivery/{row.pk}/change/").content.decode()
    assert "nothing kept" in page
    record = KeptFile(
        "t/complete/lyrics-1.txt", "lyrics-1.txt", "suno/<i>x</i>.txt", 12, "9" * 64, None,
        datetime(2026, 1, 1, tzinfo=timezone.utc),
    )  # fmt: skip
    assert store.record_kept(inbox["lyrics"], [record])  # type: ignore[attr-defined]
    page = admin_client.get(f"/admin/suno_hooks/delivery/{row.pk}/change/").content.decode()
    assert "<code>lyrics-1.txt</code> 12 bytes" in page
    assert "suno/&lt;i&gt;x&lt;/i&gt;.txt" in page and "<i>x</i>" not in page
