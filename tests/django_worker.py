"""A separate process for the Django concurrency tests: configures Django on the database given
as JSON, then migrates it or delivers callbacks through the app's receiver.

    python -m tests.django_worker migrate DATABASE_JSON
    python -m tests.django_worker deliver DATABASE_JSON CALLBACKS_FILE SEED START_AT

`deliver` sends every callback in an order shuffled by SEED, starting at the POSIX time START_AT,
retrying a 409 (claimed elsewhere) as Kie would; it prints what it dispatched and the answers.
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


def main(argv: list[str]) -> None:
    configure(json.loads(argv[1]))
    if argv[0] == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return
    with open(argv[2], encoding="utf-8") as file:
        callbacks = json.load(file)
    print(json.dumps(deliver(callbacks, int(argv[3]), float(argv[4]))))


if __name__ == "__main__":
    main(sys.argv[1:])
