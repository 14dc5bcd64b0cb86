"""Issue 12, case 1, under gunicorn: the SQLite file goes read-only for a spell and comes back.

The workers run as `nobody` (root writes through any file mode), in a directory that user owns.
The spell starts before the workers open a connection, so each connection they open is opened
read-only; it ends once every callback has been refused, and Kie's retries must all land."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from suno_hooks.stores import DeliveryStatus, SQLiteStore

from ..support.faults import (
    FaultServer,
    KieSender,
    Sent,
    Try,
    answers,
    callbacks,
    dumps,
    fault_env,
    fault_server,
    tally,
)

NOBODY = pwd.getpwnam("nobody")
CALLBACKS = 12


class Spell:
    """Makes the store's files and directory read-only, and writable again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _files(self) -> list[Path]:
        return [p for p in self.directory.iterdir() if p.name.startswith("inbox.db")]

    def begin(self) -> None:
        for path in self._files():
            os.chmod(path, 0o444)
        os.chmod(self.directory, 0o555)

    def end(self) -> None:
        os.chmod(self.directory, 0o755)
        for path in self._files():
            os.chmod(path, 0o644)


def own(path: Path) -> None:
    """Give `path` to nobody."""
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[FaultServer, Path]]:
    """The receiver on a SQLite file under gunicorn, its workers running as nobody; no worker
    has touched the store yet (the app is preloaded by the root master)."""
    directory = Path(tempfile.mkdtemp(prefix="suno-readonly-"))
    own(directory)
    env = fault_env(directory, f"sqlite:///{directory / 'inbox.db'}")
    options = ["--user", "nobody", "--group", "nogroup", "--preload"]
    try:
        with fault_server(
            "gunicorn", "tests.support.fault_app:wsgi", env, options=options
        ) as server:
            server.log.path.touch()
            for path in directory.iterdir():
                own(path)
            yield server, directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_a_read_only_spell_is_answered_503_and_every_callback_lands_once_after(
    site: tuple[FaultServer, Path],
):
    server, directory = site
    spell = Spell(directory)
    refused = threading.Barrier(CALLBACKS, action=spell.end, timeout=60)

    def end_the_spell_once_all_were_refused(sent: Sent, attempt: Try) -> None:
        if len(sent.tries) == 1:
            refused.wait()

    bodies = callbacks("spell", CALLBACKS)
    spell.begin()
    try:
        with KieSender(server.url, after_try=end_the_spell_once_all_were_refused) as sender:
            sent = sender.send_all(bodies, concurrency=CALLBACKS)
    finally:
        spell.end()

    first = [s.tries[0] for s in sent]
    assert [(t.status, t.answer["error"]) for t in first] == [(503, "store_unavailable")] * len(
        first
    ), dumps(sent)
    assert all(t.retry_after for t in first)
    assert [s.statuses for s in sent] == [[503, 200]] * CALLBACKS, dumps(sent)
    assert answers(sent) == {"503 store_unavailable": CALLBACKS, "200 received": CALLBACKS}

    # The cause has passed: later callbacks land on the first try.
    with KieSender(server.url) as sender:
        later = sender.send_all(callbacks("after", 4))
    assert [s.statuses for s in later] == [[200]] * 4

    keys = [s.key for s in sent + later]
    counts = tally(server.log, keys).counts()
    assert counts == {"dispatched": CALLBACKS + 4, "lost": 0, "doubled": 0}
    store = SQLiteStore(directory / "inbox.db")
    try:
        kept = [store.get(key) for key in keys]
        assert {d.status if d else None for d in kept} == {DeliveryStatus.DONE}
    finally:
        store.close()
