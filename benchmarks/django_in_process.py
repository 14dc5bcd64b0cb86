"""CPU µs per request of the two Django views of `http_adapters.py`'s Django row, called in
process as WSGI apps: no server and no socket, so a change to the Django path shows in seconds
and a profiler sees only the view's own work.

    .venv-bench/bin/python benchmarks/django_in_process.py [--n 3000] [--repeat 3]
        [--profile suno|hand]

Each view runs in a process of its own (the project picks its view when it is imported,
`benchmarks/http_django.py`) on a fresh SQLite file in WAL mode, as under gunicorn: the
hand-written view (verify, parse, one `INSERT` through the ORM) and suno-hooks' sync view on
`django://` with a receiver inserting the same row. Each request is a new signed two-track
callback with the headers wrk sends. The figure is process CPU time, the best of `--repeat`
runs after a warm-up; `--profile VIEW` prints that view's cProfile (internal time, top 40).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.asgi_in_process import requests  # noqa: E402
from benchmarks.django_settings import migrate_project  # noqa: E402

VIEWS = {"hand": "hand-written Django view", "suno": "suno-hooks sync view, django://"}


def environ_of(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The WSGI environ of a request of `asgi_in_process.requests`, as gunicorn would build it."""
    headers = [(name.decode(), value.decode()) for name, value in scope["headers"]]
    builder = EnvironBuilder(path=scope["path"], method="POST", headers=headers, data=body)
    return builder.get_environ()


def measure_view(n: int, repeat: int, profile: bool) -> None:
    """In the child: answer `n` new callbacks `repeat` times and print the best CPU µs per
    request (or the profile)."""
    from benchmarks import http_django  # configures Django for the view the environment names

    statuses: set[str] = set()

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.add(status)

    def run(count: int) -> float:
        batch = [environ_of(scope, body) for scope, body in requests(count)]
        started = time.process_time()
        for environ in batch:
            for _ in http_django.application(environ, start_response):
                pass
        return (time.process_time() - started) / count * 1e6

    run(min(n, 500))  # warm up: connection, caches, prepared SQL
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(n)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
    else:
        print(f"{min(run(n) for _ in range(repeat)):.1f}")
    if statuses != {"200 OK"}:
        raise SystemExit(f"answers other than 200: {statuses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=sorted(VIEWS))
    parser.add_argument("--child", choices=sorted(VIEWS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure_view(args.n, args.repeat, args.profile == args.child)
        return
    results: dict[str, float] = {}
    for view, label in VIEWS.items():
        if args.profile and args.profile != view:
            continue
        with tempfile.TemporaryDirectory() as directory:
            environ = {
                **os.environ,
                "SUNO_BENCH_SQLITE_DIR": directory,
                "SUNO_BENCH_DJANGO_VIEW": view,
            }
            migrate_project("benchmarks.http_django", environ)
            command = [sys.executable, __file__, "--child", view, "--n", str(args.n)]
            command += ["--repeat", str(args.repeat)]
            if args.profile:
                command += ["--profile", args.profile]
            out = subprocess.run(command, env=environ, check=True, capture_output=True, text=True)
        if args.profile:
            print(out.stdout)
            return
        results[label] = float(out.stdout.strip().splitlines()[-1])
    floor = results[VIEWS["hand"]]
    print(f"{'view':<36} {'CPU µs/request':>15} {'×':>6}")
    for label, value in results.items():
        print(f"{label:<36} {value:>15.1f} {value / floor:>6.2f}")


if __name__ == "__main__":
    main()
