"""PostgreSQL faults for the group-commit tests: a trigger that refuses one task's rows (as a
constraint would, before or after writing, or at the commit), a claim held open by another
session, and the store's sessions found waiting on a lock or terminated."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from suno_hooks.stores.postgres._statements import CLAIM, claim_params

from .group_commit import delivery

__all__ = [
    "claim_held_open",
    "lock_waiters",
    "observer",
    "refuse_rows_of",
    "run_sql",
    "terminate",
    "token_of",
    "until_waiting",
]


def observer(url: str) -> psycopg.Connection[Any]:
    """A connection to `url` (in its schema) named `observer`, apart from the store's sessions."""
    return psycopg.connect(url, autocommit=True, application_name="observer")


def run_sql(url: str, *statements: str) -> None:
    """Run `statements` in autocommit on a connection to `url`."""
    with observer(url) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def refuse_rows_of(url: str, task_id: str, when: str = "BEFORE INSERT") -> None:
    """A trigger that raises a check violation, `refused <task_id>`, for the deliveries of
    `task_id`: `when` is `BEFORE INSERT`, `AFTER INSERT`, `BEFORE UPDATE` or `AT COMMIT` (a
    deferred constraint trigger after an insert, which fails the transaction's commit)."""
    name = f"refuse_{task_id}_{when.replace(' ', '_').lower()}"
    timing = (
        "CONSTRAINT TRIGGER {name} AFTER INSERT ON suno_hooks_deliveries "
        "DEFERRABLE INITIALLY DEFERRED"
        if when == "AT COMMIT"
        else "TRIGGER {name} " + when + " ON suno_hooks_deliveries"
    ).format(name=name)
    run_sql(
        url,
        """CREATE OR REPLACE FUNCTION refuse_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'refused %', NEW.task_id USING ERRCODE = 'check_violation';
        END $$""",
        f"CREATE {timing} FOR EACH ROW WHEN (NEW.task_id = '{task_id}') "
        "EXECUTE FUNCTION refuse_delivery()",
    )


@contextmanager
def claim_held_open(url: str, task_id: str) -> Iterator[psycopg.Connection[Any]]:
    """Another session claims `task_id` and keeps its transaction open until the block ends
    (then rolls it back), so a claim of the same key waits for it."""
    conn = psycopg.connect(url, autocommit=True, application_name="holder")
    try:
        conn.execute("BEGIN")
        conn.execute(CLAIM, claim_params(delivery(task_id), 60, None))
        yield conn
    finally:
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")
        conn.close()


def lock_waiters(url: str, application_name: str) -> int:
    """How many sessions of `application_name` are waiting on a lock."""
    with observer(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND wait_event_type = 'Lock'",
            (application_name,),
        ).fetchone()
    return int(row[0]) if row else 0


async def until_waiting(url: str, application_name: str) -> None:
    """Until a session of `application_name` waits on a lock (the event loop runs meanwhile)."""
    for _ in range(2000):
        if await asyncio.to_thread(lock_waiters, url, application_name):
            return
        await asyncio.sleep(0.005)
    pytest.fail(f"no session of {application_name} ever waited on a lock")


def terminate(url: str, application_name: str, *, waiting: bool = False) -> int:
    """Terminate the sessions of `application_name` (only those waiting on a lock when
    `waiting`); how many there were."""
    only_waiting = " AND wait_event_type = 'Lock'" if waiting else ""
    with observer(url) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE application_name = %s AND pid <> pg_backend_pid(){only_waiting}",
            (application_name,),
        ).fetchone()
    return int(row[0]) if row else 0


def token_of(url: str, key: str) -> tuple[str, str] | None:
    """The status and lease token a delivery has in the database, or None when not kept."""
    with observer(url) as conn:
        row = conn.execute(
            "SELECT status, token FROM suno_hooks_deliveries WHERE key = %s", (key,)
        ).fetchone()
    return (str(row[0]), str(row[1])) if row else None
