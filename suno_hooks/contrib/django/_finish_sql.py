"""The updates at the end of a delivery (its `done` or `failed` mark under the lease token, its
expected task's settle) as one parameterised `UPDATE` each on SQLite and PostgreSQL: the ORM's
`update()` would compile the same statement again on every request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from ._claim_sql import Statement, column, db_value, ignores_conflicts

__all__ = ["update_rows", "updates_directly"]

_statements: dict[tuple[type[models.Model], str, tuple[str, ...], tuple[str, ...]], Statement] = {}


def updates_directly(connection: BaseDatabaseWrapper) -> bool:
    """Whether `update_rows` replaces the ORM's `update()` on `connection`: where the claim
    inserts with `insert_row` (SQLite and PostgreSQL)."""
    return ignores_conflicts(connection)


def _concrete(field: Any) -> models.Field[Any, Any]:
    assert isinstance(field, models.Field) and field.column is not None  # never a relation
    return field


def _statement(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    changed: tuple[str, ...],
    matched: tuple[str, ...],
) -> Statement:
    """The UPDATE setting the fields named `changed` of the `model` rows whose fields named
    `matched` equal its other parameters, and the fields its parameters are for, in order."""
    cache_key = (model, connection.vendor, changed, matched)
    found = _statements.get(cache_key)
    if found is not None:
        return found
    quote = connection.ops.quote_name
    meta = model._meta
    fields = tuple(_concrete(meta.get_field(name)) for name in (*changed, *matched))
    columns = [quote(column(field)) for field in fields]
    assignments = ", ".join(f"{name} = %s" for name in columns[: len(changed)])
    conditions = " AND ".join(f"{name} = %s" for name in columns[len(changed) :])
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {conditions}"
    _statements[cache_key] = (sql, fields)
    return sql, fields


def update_rows(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    values: Mapping[str, Any],
    where: Mapping[str, Any],
) -> int:
    """Set the fields of `values` on the `model` rows whose fields equal `where`'s values (never
    None), each value stored as the ORM's `update()` stores it; how many rows matched."""
    sql, fields = _statement(connection, model, tuple(values), tuple(where))
    given = (*values.values(), *where.values())
    params = [
        db_value(field, value, connection) for field, value in zip(fields, given, strict=True)
    ]
    with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
