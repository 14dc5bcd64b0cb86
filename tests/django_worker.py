"""A separate process for the Django concurrency tests: configures Django on the database given
as JSON, then migrates it or delivers callbacks through the app's receiver.

    python -m tests.django_worker migrate DATABASE_JSON
    python -m tests.django_worker deliver DATABASE_JSON CALLBACKS_FILE SEED START_AT
    python -m tests.django_worker failing-receiver DATABASE_JSON

`deliver` sends every callback in an order shuffled by SEED, starting at the POSIX time START_AT,
retrying a 409 (claimed elsewhere) as Kie would; it prints what it dispatched and the answers.
`failing-receiver` posts a callback to the sync and the async view while a receiver hits a
database error, then replays it; it prints what the views answered and what the inbox kept.
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
        ROOT_URLCONF="tests.django_atomic_urls",
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


def failing_receiver() -> dict[str, Any]:
    import uuid

    from asgiref.sync import async_to_sync
    from django.test import AsyncClient, Client
    from django.utils import timezone

    from suno_hooks.contrib.django.conf import get_receiver
    from suno_hooks.contrib.django.models import Delivery, SeenSignature, TerminalTask
    from suno_hooks.contrib.django.signals import task_completed
    from suno_hooks.testing import encode, make_callback, sign_headers

    def note(sender: Any, event: Any, **kwargs: Any) -> None:
        SeenSignature.objects.get_or_create(
            signature_key=f"note-{event.task_id}",
            defaults={"body_digest": "x", "expires_at": timezone.now()},
        )

    def save_twice(sender: Any, event: Any, **kwargs: Any) -> None:
        # The claim already recorded this terminal task: the insert fails with IntegrityError.
        TerminalTask.objects.create(task_id=event.task_id, created_at=timezone.now())

    results: dict[str, Any] = {}
    for view in ("sync", "async"):
        task_id = uuid.uuid4().hex
        body = encode(make_callback(task_id=task_id))
        headers = sign_headers(body, HMAC_KEY)
        headers.pop("Content-Type", None)  # given once, as content_type
        url = f"/{view}/callback"
        task_completed.connect(note, weak=False)
        task_completed.connect(save_twice, weak=False)
        options = {"data": body, "content_type": "application/json", "headers": headers}
        if view == "sync":
            response = Client().generic("POST", url, **options)
        else:
            response = async_to_sync(AsyncClient().generic)("POST", url, **options)
        task_completed.disconnect(save_twice)
        key = f"{task_id}:complete"
        kept = Delivery.objects.filter(key=key).first()
        outcome = get_receiver().replay(key)  # `note` still listens: a replay needs a receiver
        task_completed.disconnect(note)
        replayed = Delivery.objects.get(key=key)
        results[view] = {
            "status": response.status_code,
            "answer": json.loads(response.content),
            "kept": None if kept is None else [kept.status, kept.error or "", kept.attempts],
            "note_kept": SeenSignature.objects.filter(signature_key=f"note-{task_id}").exists(),
            "replay": outcome.body,
            "after_replay": [replayed.status, replayed.attempts],
        }
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
