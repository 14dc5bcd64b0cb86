"""The `suno-hooks` command's first steps, run for real: `send` and `check` against real
endpoints (exit status, warnings), `events` on missing and long inboxes, `serve` on a port in use,
the core install without the cli extra, and output piped to a reader that stops early."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from suno_hooks.inbound import InboundRequest
from suno_hooks.stores import SQLiteStore
from suno_hooks.stores.delivery_json import delivery_document
from suno_hooks.testing import encode, make_callback

from ..conftest import unverified_receiver
from ..support.cli_helpers import ROOT, run_cli, serving
from ..support.services import free_port

KEY = "whk_cli_send_key"


class _NotFound(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        payload = b'{"detail":"Not Found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def answering_404() -> Iterator[str]:
    """A real HTTP server on a free port that answers every POST with 404."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/suno/callback"
    finally:
        server.shutdown()
        server.server_close()


def test_send_exits_non_zero_on_a_404_with_the_answer_printed():
    with answering_404() as url:
        result = run_cli("send", url, "--hmac-key", KEY, "--repeat", "2")
    assert result.returncode == 1
    assert result.stdout.splitlines() == ['404 {"detail":"Not Found"}'] * 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: 2 of 2 answered with a non-2xx status; 404: is the path right? Nothing answers "
        "POST at /suno/callback on this host."
    )


def test_send_exits_non_zero_when_the_port_is_closed():
    url = f"http://127.0.0.1:{free_port()}/suno/callback"
    result = run_cli("send", url, "--hmac-key", KEY)
    assert result.returncode == 1
    assert "cannot reach" in result.stderr
    assert "Traceback" not in result.stderr


def test_send_exits_zero_on_a_2xx_answer():
    with serving("--store", "memory://", env={"SUNO_HOOKS_HMAC_KEYS": KEY}) as (url, _):
        result = run_cli("send", url, "--hmac-key", KEY)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.split(" ", 1)[1]) == {"status": "received"}


def test_send_without_a_key_warns_that_it_sends_unsigned():
    with serving("--store", "memory://", env={"SUNO_HOOKS_HMAC_KEYS": KEY}) as (url, _):
        result = run_cli("send", url, env={"SUNO_HOOKS_HMAC_KEYS": ""})
        signed = run_cli("send", url, "--hmac-key", KEY)
    assert "no HMAC key (--hmac-key or $SUNO_HOOKS_HMAC_KEYS): sending unsigned" in result.stderr
    assert result.returncode == 1 and result.stdout.startswith("401 ")
    assert "unsigned" not in signed.stderr and signed.returncode == 0


def test_check_without_a_key_still_tests_the_unsigned_sample():
    with serving("--store", "memory://", env={"SUNO_HOOKS_HMAC_KEYS": KEY}) as (url, _):
        guarded = run_cli("check", url, env={"SUNO_HOOKS_HMAC_KEYS": ""})
    assert guarded.returncode == 0, guarded.stdout
    assert "ok    unsigned sample refused with 401" in guarded.stdout
    assert "cannot send a valid signed sample" in guarded.stdout
    with serving("--store", "memory://", env={"SUNO_HOOKS_HMAC_KEYS": ""}) as (url, _):
        open_door = run_cli("check", url, env={"SUNO_HOOKS_HMAC_KEYS": ""})
    assert open_door.returncode == 1
    assert "FAIL  unsigned sample was not refused: 200" in open_door.stdout


def test_check_says_the_valid_sample_is_a_real_delivery_and_can_skip_it(tmp_path):
    store = f"sqlite:///{tmp_path / 'inbox.db'}"
    with serving("--store", store, env={"SUNO_HOOKS_HMAC_KEYS": KEY}) as (url, _):
        skipped = run_cli("check", url, "--hmac-key", KEY, "--no-delivery")
        assert skipped.returncode == 0, skipped.stdout
        assert "skip  valid signed sample (--no-delivery)" in skipped.stdout
        assert run_cli("events", "--store", store).stdout.strip() == "no deliveries"
        checked = run_cli("check", url, "--hmac-key", KEY)
    assert checked.returncode == 0, checked.stdout
    lines = checked.stdout.splitlines()
    note = next(i for i, line in enumerate(lines) if "a real delivery" in line)
    answered = next(i for i, line in enumerate(lines) if "valid sample answered 200" in line)
    assert note < answered and "runs the endpoint's handlers" in lines[note + 1]
    [kept] = run_cli("events", "--store", store, "--json").stdout.splitlines()
    assert json.loads(kept)["task_id"].startswith("check")


def fill(path, count: int) -> SQLiteStore:
    """An SQLite inbox holding `count` accepted deliveries."""
    store = SQLiteStore(path)
    receiver = unverified_receiver(store=store)
    for number in range(count):
        body = encode(make_callback(task_id=f"task{number:04d}"))
        assert receiver.handle(InboundRequest("POST", body)).status == 200
    return store


def test_events_refuses_a_store_that_does_not_exist_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo.db"
    result = run_cli("events", "--store", f"sqlite:///{missing}")
    assert result.returncode == 2 and "unable to open database file" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_events_reads_without_writing_and_says_what_it_left_out(tmp_path):
    path = tmp_path / "inbox.db"
    fill(path, 51).close()
    before = path.read_bytes()
    table = run_cli("events", "--store", f"sqlite:///{path}")
    assert table.returncode == 0, table.stderr
    assert table.stdout.rstrip().endswith("showing 50 of 51 (--limit N for more)")
    assert len(table.stdout.splitlines()) == 1 + 50 + 1
    everything = run_cli("events", "--store", f"sqlite:///{path}", "--limit", "51")
    assert "showing" not in everything.stdout
    as_json = run_cli("events", "--store", f"sqlite:///{path}", "--json")
    assert len(as_json.stdout.splitlines()) == 50
    assert "showing 50 of 51" in as_json.stderr
    assert path.read_bytes() == before


def test_events_json_is_the_listing_document(tmp_path):
    path = tmp_path / "inbox.db"
    store = fill(path, 2)
    printed = run_cli("events", "--store", f"sqlite:///{path}", "--json").stdout.splitlines()
    expected = [json.loads(json.dumps(delivery_document(d))) for d in store.deliveries()]
    assert [json.loads(line) for line in printed] == expected
    first = json.loads(printed[0])
    assert first["received_at"].endswith("Z") and "T" in first["received_at"]
    assert first["body"]["data"]["task_id"] == "task0001"


def test_events_piped_to_a_reader_that_stops_early_exits_quietly(tmp_path):
    path = tmp_path / "inbox.db"
    fill(path, 60).close()
    command = [sys.executable, "-m", "suno_hooks.cli", "events", "--store", f"sqlite:///{path}"]
    with subprocess.Popen(
        [*command, "--json", "--limit", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        bufsize=0,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.read(10)
        process.stdout.close()
        errors = process.stderr.read().decode()
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors


def test_serve_reports_a_port_in_use_before_receiving():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--store", "memory://", timeout=30)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "receiving" not in result.stdout + result.stderr


def test_the_core_install_without_the_cli_extra_prints_the_install_hint():
    # Importing a module set to None in sys.modules raises ModuleNotFoundError, as it does when
    # the package is not installed.
    code = "import sys; sys.modules['click'] = None; from suno_hooks.console import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "events"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 1
    assert 'pip install "suno-hooks[cli]"' in result.stderr
    assert "click is not installed" in result.stderr and "Traceback" not in result.stderr
