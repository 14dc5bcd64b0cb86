"""`suno-hooks send` and `suno-hooks check` against real endpoints: exit status and warnings."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .cli_helpers import run_cli, serving
from .services import free_port

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
    assert "2 of 2 answered with a non-2xx status" in result.stderr


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
