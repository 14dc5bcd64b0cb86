"""The media kept for a delivery as the stores keep it: merged by file name, in name order, and
written as one JSON array that reads back without ever raising."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..media.kept import KeptFile

__all__ = ["kept_from_json", "kept_json", "merge_kept"]


def merge_kept(existing: Iterable[KeptFile], files: Iterable[KeptFile]) -> tuple[KeptFile, ...]:
    """`existing` with `files` added, a file of the same name replaced; ordered by name."""
    merged = {record.name: record for record in existing}
    merged.update((record.name, record) for record in files)
    return tuple(merged[name] for name in sorted(merged))


def kept_json(files: Iterable[KeptFile]) -> str:
    """The records as a JSON array of `KeptFile.to_dict()` objects."""
    return json.dumps([record.to_dict() for record in files], ensure_ascii=False)


def kept_from_json(data: str | bytes | None) -> tuple[KeptFile, ...]:
    """The records `kept_json` wrote; nothing for None, text that is not JSON, or an entry that
    is not a record (skipped), so a damaged column never hides its delivery."""
    if not data:
        return ()
    try:
        items = json.loads(data)
    except ValueError:
        return ()
    return records_from(items if isinstance(items, list) else [])


def records_from(items: Iterable[object]) -> tuple[KeptFile, ...]:
    """The `KeptFile` records among `items` (dicts as `to_dict` writes them), merged by name."""
    found = (KeptFile.from_dict(item) for item in items)
    return merge_kept((), (record for record in found if record is not None))
