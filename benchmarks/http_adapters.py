"""Requests/s and p99 of each suno-hooks adapter against a hand-written endpoint in the same
framework, under real servers: uvicorn (1 worker, uvloop + httptools; one h11 row for reference)
for ASGI, gunicorn (1 sync worker) for WSGI;
the ASGI app on `sqlite://`, `redis://` and `postgresql://` against raw ASGI endpoints doing one
unbatched write (the table's last column: the group-commit batch sizes the store saw); and
Django's sync view on `django://` (a SQLite file) with a receiver inserting one row through the
ORM, against a hand-written Django view doing verify + JSON + the same `INSERT`
(`benchmarks/http_django.py`; its tables are created before each run).

    pip install -e ".[bench]" && apt-get install wrk
    python benchmarks/http_adapters.py [--duration 10] [--connections 8] [--rounds 2]
    python benchmarks/http_adapters.py --quick      # every row once, 2 s each: a smoke run

The server runs on core 0, `wrk` on core 1 (`taskset`); every request is a new, signed
two-track callback (the Lua script reads a file of fresh task ids and their signatures, made
for each run). Starts its own redis-server (no persistence) for the Redis row and PostgreSQL (the
test suite's server, `fsync=off`; a new database per run) for the PostgreSQL row. Needs `wrk`
(apt-get install wrk), `taskset`, `redis-server` and PostgreSQL.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import http_runs  # noqa: E402
from benchmarks.baseline import KEY  # noqa: E402
from benchmarks.django_settings import migrate_project  # noqa: E402
from tests.support.postgres import PostgresServer, running_postgres  # noqa: E402
from tests.support.services import RedisServer  # noqa: E402

# (label, server, app) pairs: each adapter followed by its baseline.
PAIRS = [
    ("raw ASGI", "uvicorn", "suno_asgi", "baseline_asgi"),
    # Reference: the same app on a store that keeps only the keys (what MemoryStore's inbox,
    # replay guard, stale check and lease cost is the difference from the row above).
    ("raw ASGI, keys only", "uvicorn", "suno_asgi_keys_only", "baseline_asgi"),
    # The pure-Python loop and parser, for reference: users run uvicorn[standard].
    ("raw ASGI, h11", "uvicorn-h11", "suno_asgi", "baseline_asgi"),
    ("Starlette", "uvicorn", "suno_starlette", "baseline_starlette"),
    ("Flask", "gunicorn", "suno_flask", "baseline_flask"),
    ("raw WSGI", "gunicorn", "suno_wsgi", "baseline_wsgi"),
    ("ASGI sqlite://", "uvicorn", "suno_asgi_sqlite", "baseline_asgi_sqlite"),
    ("ASGI redis://", "uvicorn", "suno_asgi_redis", "baseline_asgi_redis"),
    ("ASGI postgresql://", "uvicorn", "suno_asgi_postgres", "baseline_asgi_postgres"),
    ("Django sync view, django:// (SQLite file)", "gunicorn", "suno_django", "baseline_django"),
]
# The Django row's apps: `benchmarks/http_django.py` serving the view SUNO_BENCH_DJANGO_VIEW
# names. The other apps are attributes of `benchmarks/http_apps.py`.
DJANGO = "benchmarks.http_django"
DJANGO_VIEWS = {"suno_django": "suno", "baseline_django": "hand"}


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    batches: str = ""


def fresh_database(server: PostgresServer, name: str) -> str:
    """The URL of a new, empty database `name` on `server`."""
    admin = f"postgresql://{server.user}@{server.host}:{server.port}/{server.name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://{server.user}@{server.host}:{server.port}/{name}"


def batch_sizes(directory: Path) -> str:
    """The group-commit batches a run's server wrote (`batches.json`), as "claims: mean size
    (largest); finishes: ..." or "" when it wrote none (warm-up included)."""
    path = directory / "batches.json"
    if not path.exists():
        return ""
    found = json.loads(path.read_text())
    parts = []
    for kind in ("claims", "finishes"):
        sizes = {int(size): count for size, count in found[kind].items()}
        if sizes:
            mean = sum(size * count for size, count in sizes.items()) / sum(sizes.values())
            parts.append(f"{kind} {mean:.1f} (max {max(sizes)})")
    return ", ".join(parts)


def measure(
    server: str, app: str, script: Path, args: argparse.Namespace, environ: dict[str, str]
) -> Result:
    target = f"benchmarks.http_apps:{app}"
    if app in DJANGO_VIEWS:
        target = f"{DJANGO}:application"
        environ = {**environ, "SUNO_BENCH_DJANGO_VIEW": DJANGO_VIEWS[app]}
        migrate_project(DJANGO, environ)
    run = http_runs.measure(
        server,
        target,
        script,
        KEY,
        connections=args.connections,
        duration=args.duration,
        environ=environ,
    )
    if run.problems:
        print(f"  warning: {app}: {'; '.join(run.problems)}", file=sys.stderr)
    return Result(run.rps, run.p50_ms, run.p99_ms)


def best(results: list[Result]) -> Result:
    return max(results, key=lambda r: r.rps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs; best is kept")
    parser.add_argument("--only", nargs="*", help="labels to run, e.g. Flask")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="2 s per run, one round (smoke)")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds = 2, 1
    http_runs.check_tools("redis-server")
    http_runs.check_uvicorn_standard()
    print(
        f"{args.duration}s x best of {args.rounds}, {args.connections} connections, "
        "server on core 0 (uvicorn: uvloop + httptools, uvicorn-h11: asyncio + h11; "
        "gunicorn sync), wrk on core 1",
        flush=True,
    )
    rows = []
    pairs = [pair for pair in PAIRS if not args.only or pair[0] in args.only]
    with tempfile.TemporaryDirectory() as tmp:
        script = http_runs.lua_script(Path(tmp))
        with contextlib.ExitStack() as services:
            redis_server = postgres = None
            if any("redis" in pair[2] for pair in pairs):
                redis_server = RedisServer(Path(tmp) / "redis", persistent=False).start()
                services.callback(redis_server.stop)
            if any("postgres" in pair[2] for pair in pairs):
                postgres = services.enter_context(running_postgres())
            for row, (label, server, ours, baseline) in enumerate(pairs):
                runs: dict[str, list[Result]] = {ours: [], baseline: []}
                for round_number in range(args.rounds):
                    for app in (baseline, ours):
                        environ = dict(os.environ)
                        sqlite_dir = Path(tmp) / f"{row}-{app}-{round_number}"
                        sqlite_dir.mkdir()
                        environ["SUNO_BENCH_SQLITE_DIR"] = str(sqlite_dir)
                        if redis_server is not None:
                            environ["SUNO_BENCH_REDIS_URL"] = redis_server.url
                        if postgres is not None:
                            database = f"bench_{row}_{round_number}_{app}"
                            environ["SUNO_BENCH_POSTGRES_URL"] = fresh_database(postgres, database)
                        result = measure(server, app, script, args, environ)
                        result.batches = batch_sizes(sqlite_dir)
                        runs[app].append(result)
                mine, base = best(runs[ours]), best(runs[baseline])
                rows.append((label, server, base, mine))
                print(
                    f"  {label}: baseline {base.rps:,.0f} req/s, suno-hooks {mine.rps:,.0f} req/s"
                    f"{'; batches ' + mine.batches if mine.batches else ''}",
                    flush=True,
                )
    print()
    print(
        "| adapter | server | baseline req/s | suno-hooks req/s | ratio | "
        "baseline p50 / p99 ms | suno-hooks p50 / p99 ms | p99 ratio | batch sizes |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for label, server, base, mine in rows:
        print(
            f"| {label} | {server} | {base.rps:,.0f} | {mine.rps:,.0f} | "
            f"{mine.rps / base.rps:.2f} | {base.p50_ms:.2f} / {base.p99_ms:.2f} | "
            f"{mine.p50_ms:.2f} / {mine.p99_ms:.2f} | {mine.p99_ms / base.p99_ms:.2f} | "
            f"{mine.batches or '-'} |"
        )
    if args.json:
        print(
            json.dumps(
                [{"adapter": r[0], "baseline": vars(r[2]), "ours": vars(r[3])} for r in rows]
            )
        )


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
