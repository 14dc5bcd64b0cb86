"""The claim's inserts as `INSERT ... ON CONFLICT (key) DO NOTHING` on SQLite and PostgreSQL:
a row already there shows in the row count instead of raising `IntegrityError`, so no savepoint
has to guard the insert of a new delivery."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from .models import TerminalTask

__all__ = ["Statement", "column", "db_value", "ignores_conflicts", "insert_row"]

_VENDORS = ("sqlite", "postgresql")

Statement = tuple[str, tuple["models.Field[Any, Any]", ...]]
"""A cached statement and the fields its parameters are for, in order."""
_statements: dict[tuple[type[models.Model], str, bool], Statement] = {}
# Fields of these exact classes store a value of this exact type (or None) as it is: their
# `get_db_prep_save` would only convert it to the type it already has. (Integers are not among
# them: on psycopg 3 Django sends them typed, `Int4` or `Int8`.)
_STORED_AS_IS: dict[type[models.Field[Any, Any]], type] = {
    models.CharField: str,
    models.TextField: str,
    models.FloatField: float,
}


def ignores_conflicts(connection: BaseDatabaseWrapper) -> bool:
    """Whether the claim inserts its rows with `insert_row` on `connection` (SQLite and
    PostgreSQL); other databases keep the ORM's insert, guarded by a savepoint."""
    return connection.vendor in _VENDORS


def column(field: models.Field[Any, Any]) -> str:
    """A concrete field's column name."""
    assert field.column is not None
    return field.column


def db_value(field: models.Field[Any, Any], value: Any, connection: BaseDatabaseWrapper) -> Any:
    """`value` as `field` stores it on `connection`: `field.get_db_prep_save`, skipped for a
    plain text or number the field would store unchanged."""
    plain = _STORED_AS_IS.get(type(field))
    if plain is not None and (value is None or type(value) is plain):
        return value
    return field.get_db_prep_save(value, connection)


def _statement(
    connection: BaseDatabaseWrapper, model: type[models.Model], guarded: bool
) -> Statement:
    """The INSERT of one `model` row and the fields its parameters are for, in that order."""
    found = _statements.get((model, connection.vendor, guarded))
    if found is not None:
        return found
    quote = connection.ops.quote_name
    meta = model._meta
    fields = tuple(field for field in meta.local_concrete_fields if field is not meta.auto_field)
    columns = ", ".join(quote(column(field)) for field in fields)
    # The claim's key: the primary key, or the one unique field beside an automatic id. Any
    # other conflict (an id already taken) still raises.
    key = quote(column(next(field for field in fields if field.unique)))
    values = ", ".join(["%s"] * len(fields))
    source = f"VALUES ({values})"
    if guarded:
        ended = TerminalTask._meta
        task_id = quote(column(ended.pk))
        source = (
            f"SELECT {values} WHERE NOT EXISTS "
            f"(SELECT 1 FROM {quote(ended.db_table)} WHERE {task_id} = %s)"
        )
    table = quote(meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) {source} ON CONFLICT ({key}) DO NOTHING"
    _statements[model, connection.vendor, guarded] = (sql, fields)
    return sql, fields


def insert_row(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    values: dict[str, Any],
    *,
    unless_ended: str | None = None,
) -> bool:
    """Insert one `model` row of `values` (a field's default where none is given), stored as the
    ORM stores them; True when inserted, False when a row with the same unique key is there or,
    with `unless_ended` (a task id), that task has a `TerminalTask` row."""
    sql, fields = _statement(connection, model, unless_ended is not None)
    params = [
        db_value(
            field, values[field.name] if field.name in values else field.get_default(), connection
        )
        for field in fields
    ]
    if unless_ended is not None:
        params.append(unless_ended)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.rowcount == 1)
