"""The example apps' own data: replace-section requests and the tracks their callbacks delivered,
in a SQLite database of the app (stdlib `sqlite3`, nothing to do with suno-hooks' inbox)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suno_hooks import Event

TEMPLATES = Path(__file__).parent / "templates"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replace_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL UNIQUE,
    prompt TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
);
CREATE TABLE IF NOT EXISTS tracks (
    row_id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id INTEGER,
    task_id TEXT NOT NULL,
    track_id TEXT,
    title TEXT,
    image_url TEXT,
    audio_url TEXT,
    duration REAL
);
"""


@dataclass(frozen=True)
class ReplaceRequest:
    """A replace-section task this app submitted, and the callBackUrl it passed."""

    id: int
    task_id: str
    prompt: str
    callback_url: str
    status: str


class TrackLibrary:
    """Requests and finished tracks, one SQLite file shared by the app's threads."""

    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def submit_replace_section(self, prompt: str, mint_url: Any) -> ReplaceRequest:
        """Record a (simulated) replace-section submission; `mint_url(context)` gives the
        signed callBackUrl carrying this request's id."""
        task_id = uuid.uuid4().hex
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO replace_requests (task_id, prompt, callback_url) VALUES (?, ?, '')",
                (task_id, prompt),
            )
            request_id = int(cursor.lastrowid or 0)
            url = str(mint_url({"request": request_id}))
            self._db.execute(
                "UPDATE replace_requests SET callback_url = ? WHERE id = ?", (url, request_id)
            )
        return ReplaceRequest(request_id, task_id, prompt, url, "pending")

    def record(self, event: Event) -> None:
        """Keep the tracks of a finished task (or mark its request failed)."""
        request_id = (event.context or {}).get("request")
        with self._lock:
            self._db.execute(
                "UPDATE replace_requests SET status = ? WHERE task_id = ?",
                (event.status, event.task_id),
            )
            self._db.executemany(
                "INSERT INTO tracks (request_id, task_id, track_id, title, image_url, audio_url,"
                " duration) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (request_id, event.task_id, t.id, t.title, t.image_url, t.audio_url, t.duration)
                    for t in event.tracks
                ],
            )

    def tracks(self) -> list[dict[str, Any]]:
        """Every kept track, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM tracks ORDER BY row_id DESC").fetchall()
        return [dict(row) for row in rows]

    def requests(self) -> list[ReplaceRequest]:
        """Every submitted request, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM replace_requests ORDER BY id DESC").fetchall()
        return [ReplaceRequest(**dict(row)) for row in rows]
