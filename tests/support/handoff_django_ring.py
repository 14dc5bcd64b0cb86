"""Ring the Django tasks hand-off from a process of its own, as a view would:
`python -m tests.support.handoff_django_ring [--rollback] KEY...`.

The keys are rung inside one transaction; the script prints, as JSON, how many tasks the
database held inside the transaction and after it (committed, or rolled back with
`--rollback`)."""

from __future__ import annotations

import json
import sys

import django


class Rollback(Exception):
    """Raised to roll the transaction back."""


def main(argv: list[str]) -> None:
    django.setup()
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from suno_hooks.contrib.django.conf import get_receiver
    from suno_hooks.contrib.django.handoff import DjangoTasksHandoff

    rollback = "--rollback" in argv
    keys = [arg for arg in argv if arg != "--rollback"]
    handoff = DjangoTasksHandoff()
    handoff.bind(get_receiver())  # what Receiver(..., handoff=handoff) will do
    before = DBTaskResult.objects.count()
    inside = -1
    try:
        with transaction.atomic():
            for key in keys:
                handoff.ring(key)
            inside = DBTaskResult.objects.count() - before
            if rollback:
                raise Rollback
    except Rollback:
        pass
    print(json.dumps({"inside": inside, "after": DBTaskResult.objects.count() - before}))


if __name__ == "__main__":
    main(sys.argv[1:])
