"""Django processes for the one-commit fault tests: each configures Django on the database given
as JSON (as `django_worker` does) and answers one signed callback through the app's receiver.

    python -m tests.support.django_one_commit_worker crash DATABASE_JSON CALLBACK_JSON
    python -m tests.support.django_one_commit_worker retry DATABASE_JSON CALLBACK_JSON
    python -m tests.support.django_one_commit_worker contended DATABASE_JSON CALLBACK_JSON

In `crash` and `retry`, the `task_completed` receiver saves an order row (a `Group` named after
the task and the command). `crash` exits with `CRASHED` at once after the delivery's `done`
mark is written, before anything commits. `retry` is the sender's next try once the lease has
ended (it ends it first, as time would): it prints what the inbox and the orders held before
it, its answer, and what they hold after. In `contended` (a SQLite file) the receiver only
reads, and meanwhile another connection takes the write lock and commits a moment later, as a
second worker process would: it prints the answer and the delivery's status and error.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import Any

from .django_worker import configure

CRASHED = 17
OTHER_WRITER_HOLDS = 0.3
"""How long, in seconds, the other connection of `contended` holds the write lock."""


def _order_saver(label: str) -> Callable[..., None]:
    def save_order(sender: Any, event: Any, **kwargs: Any) -> None:
        from django.contrib.auth.models import Group

        Group.objects.create(name=f"{event.task_id}-{label}")

    return save_order


def _reader_beside_a_writer(path: str) -> Callable[..., None]:
    def read_orders(sender: Any, event: Any, **kwargs: Any) -> None:
        from django.contrib.auth.models import Group

        Group.objects.filter(name__startswith=f"{event.task_id}-").count()
        other = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO auth_group (name) VALUES (?)", (f"{event.task_id}-other",))
        threading.Timer(OTHER_WRITER_HOLDS, other.execute, ("COMMIT",)).start()

    return read_orders


def _die_after_the_done_mark(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
) -> Any:
    result = execute(sql, params, many, context)
    if sql.startswith('UPDATE "suno_hooks_delivery"') and "done" in params:
        os._exit(CRASHED)
    return result


def _state(task_id: str) -> dict[str, Any]:
    from django.contrib.auth.models import Group

    from suno_hooks.contrib.django.models import Delivery

    row = Delivery.objects.filter(task_id=task_id).first()
    orders = Group.objects.filter(name__startswith=f"{task_id}-")
    return {
        "delivery": None if row is None else [row.status, row.attempts, row.error],
        "orders": sorted(orders.values_list("name", flat=True)),
    }


def main(argv: list[str]) -> None:
    command, database, callback = argv[0], json.loads(argv[1]), json.loads(argv[2])
    configure(database)
    import time

    from django.db import connection

    from suno_hooks.contrib.django.conf import get_receiver
    from suno_hooks.contrib.django.models import Delivery
    from suno_hooks.contrib.django.signals import task_completed
    from suno_hooks.inbound import InboundRequest

    task_id = callback["task_id"]
    request = InboundRequest(
        "POST", callback["body"].encode(), callback["headers"], peer="127.0.0.1"
    )
    if command == "contended":
        task_completed.connect(_reader_beside_a_writer(database["NAME"]), weak=False)
        outcome = get_receiver().handle(request)
        print(json.dumps({"answer": outcome.body, "after": _state(task_id)}))
        return
    task_completed.connect(_order_saver(command), weak=False)
    if command == "crash":
        with connection.execute_wrapper(_die_after_the_done_mark):
            outcome = get_receiver().handle(request)
        print(json.dumps({"survived": outcome.body}))
        return
    before = _state(task_id)
    Delivery.objects.filter(task_id=task_id).update(lease_expires=time.time() - 1)
    outcome = get_receiver().handle(request)
    print(json.dumps({"before": before, "answer": outcome.body, "after": _state(task_id)}))


if __name__ == "__main__":
    main(sys.argv[1:])
