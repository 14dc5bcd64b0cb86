"""A separate process for the Django concurrency tests: configures Django on the database given
as JSON, then migrates it or delivers callbacks through the app's receiver.

    python -m tests.support.django_worker migrate DATABASE_JSON
    python -m tests.support.django_worker deliver DATABASE_JSON CALLBACKS_FILE SEED START_AT
    python -m tests.support.django_worker failing-receiver DATABASE_JSON

`deliver` sends every callback in an order shuffled by SEED, starting at the POSIX time START_AT,
retrying a 409 (claimed elsewhere) as Kie would; it prints what it dispatched and the answers.
`failing-receiver` posts callbacks to the sync and the async view while a receiver hits a
database error (or the receivers' COMMIT fails), then replays each; it prints what the views
answered, what the inbox kept and which receivers' writes stood.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter
from typing import Any

import django
from django.conf import settings

HMAC_KEY = "whk_concurrency_key"


def configure(database: dict[str, Any]) -> None:
    settings.configure(
        DATABASES={"default": database},
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "suno_hooks.contrib.django",
        ],
        USE_TZ=True,
        ROOT_URLCONF="tests.support.django_atomic_urls",
        SECRET_KEY="concurrency-secret",
        SUNO_HOOKS={"HMAC_KEYS": [HMAC_KEY], "STORE": "django://"},
    )
    django.setup()


def deliver(callbacks: list[dict[str, Any]], seed: int, start_at: float) -> dict[str, Any]:
    from django.db import connection

    from suno_hooks.contrib.django.conf import get_receiver
    from suno_hooks.contrib.django.signals import callback_received
    from suno_hooks.inbound import InboundRequest

    receiver = get_receiver()
    dispatched: list[str] = []

    def record(sender: Any, event: Any, **kwargs: Any) -> None:
        dispatched.append(event.dedupe_key)
        time.sleep(0.002)

    callback_received.connect(record, weak=False)
    order = list(range(len(callbacks)))
    random.Random(seed).shuffle(order)
    connection.ensure_connection()
    time.sleep(max(0.0, start_at - time.time()))
    answers: Counter[str] = Counter()
    for index in order:
        body = callbacks[index]["body"].encode()
        headers = callbacks[index]["headers"]
        for _ in range(1000):
            outcome = receiver.handle(InboundRequest("POST", body, headers, peer="127.0.0.1"))
            if outcome.status != 409:
                break
            time.sleep(0.005)
        answers[str(outcome.body.get("status") or outcome.body.get("error"))] += 1
    return {"dispatched": dispatched, "answers": answers}


WRITERS = ("django-sync", "django-async", "blinker-sync", "blinker-async")
FAILURES = ("django", "blinker", "commit")


def failing_receiver() -> dict[str, Any]:
    """Each view with each way to fail (a Django receiver's IntegrityError, then a blinker
    receiver's as the last receiver, then a write that only fails at COMMIT): what was answered,
    kept and written, then the same after a replay with the failing receiver gone."""
    import threading
    import uuid

    from asgiref.sync import async_to_sync, sync_to_async
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test import AsyncClient, Client
    from django.utils import timezone

    import suno_hooks
    from suno_hooks.contrib.django import signals as django_signals
    from suno_hooks.contrib.django.conf import get_receiver
    from suno_hooks.contrib.django.models import Delivery, SeenSignature, TerminalTask
    from suno_hooks.testing import encode, make_callback, sign_headers

    calls: list[tuple[str, bool, int]] = []

    def write(label: str, event: Any) -> None:
        calls.append((label, connection.in_atomic_block, threading.get_ident()))
        SeenSignature.objects.get_or_create(
            signature_key=f"{label}-{event.task_id}",
            defaults={"body_digest": "x", "expires_at": timezone.now()},
        )

    def django_sync(sender: Any, event: Any, **kwargs: Any) -> None:
        write("django-sync", event)

    async def django_async(sender: Any, event: Any, **kwargs: Any) -> None:
        await sync_to_async(write)("django-async", event)

    def blinker_sync(sender: Any, event: Any, **kwargs: Any) -> None:
        write("blinker-sync", event)

    async def blinker_async(sender: Any, event: Any, **kwargs: Any) -> None:
        await sync_to_async(write)("blinker-async", event)

    def save_twice(sender: Any, event: Any, **kwargs: Any) -> None:
        # The claim already recorded this terminal task: the insert fails with IntegrityError.
        TerminalTask.objects.create(task_id=event.task_id, created_at=timezone.now())

    def dangling(sender: Any, event: Any, **kwargs: Any) -> None:
        # The foreign key is checked at COMMIT (Django makes them deferred): the write succeeds.
        Permission.objects.create(name="x", codename=event.task_id, content_type_id=2**31 - 1)

    failing_signal = {
        "django": django_signals.task_completed,
        "blinker": suno_hooks.task_completed,
        "commit": django_signals.task_completed,
    }
    writers = [
        (django_signals.callback_received, django_sync),
        (django_signals.callback_received, django_async),
        (suno_hooks.callback_received, blinker_sync),
        (suno_hooks.callback_received, blinker_async),
    ]
    for signal, writer in writers:
        signal.connect(writer, weak=False)

    def written(task_id: str) -> list[str]:
        kept = SeenSignature.objects.filter(signature_key__endswith=f"-{task_id}")
        return sorted(row.signature_key.removesuffix(f"-{task_id}") for row in kept)

    def seen() -> dict[str, Any]:
        return {
            "in_atomic": sorted({in_atomic for _, in_atomic, _ in calls}),
            "threads": len({thread for _, _, thread in calls}),
            "writers": sorted({label for label, _, _ in calls}),
        }

    results: dict[str, Any] = {}
    for view in ("sync", "async"):
        for failure in FAILURES:
            task_id = uuid.uuid4().hex
            body = encode(make_callback(task_id=task_id))
            headers = sign_headers(body, HMAC_KEY)
            headers.pop("Content-Type", None)  # given once, as content_type
            options = {"data": body, "content_type": "application/json", "headers": headers}
            failing = save_twice if failure != "commit" else dangling
            failing_signal[failure].connect(failing, weak=False)
            calls.clear()
            url = f"/{view}/callback"
            if view == "sync":
                response = Client().generic("POST", url, **options)
            else:
                response = async_to_sync(AsyncClient().generic)("POST", url, **options)
            failing_signal[failure].disconnect(failing)
            key = f"{task_id}:complete"
            kept = Delivery.objects.filter(key=key).first()
            first = {**seen(), "written": written(task_id)}
            calls.clear()
            if view == "sync":
                outcome = get_receiver().replay(key)
            else:
                outcome = async_to_sync(get_receiver().areplay)(key)
            replayed = Delivery.objects.get(key=key)
            results[f"{view}-{failure}"] = {
                "status": response.status_code,
                "answer": json.loads(response.content),
                "kept": None if kept is None else [kept.status, kept.error or "", kept.attempts],
                "first": first,
                "replay": outcome.body,
                "after_replay": [replayed.status, replayed.attempts],
                "replayed": {**seen(), "written": written(task_id)},
            }
    for signal, writer in writers:
        signal.disconnect(writer)
    return results


def main(argv: list[str]) -> None:
    configure(json.loads(argv[1]))
    if argv[0] in ("migrate", "failing-receiver"):
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    if argv[0] == "failing-receiver":
        print(json.dumps(failing_receiver()))
    if argv[0] != "deliver":
        return
    with open(argv[2], encoding="utf-8") as file:
        callbacks = json.load(file)
    print(json.dumps(deliver(callbacks, int(argv[3]), float(argv[4]))))


if __name__ == "__main__":
    main(sys.argv[1:])
