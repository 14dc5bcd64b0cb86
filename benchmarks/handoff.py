"""How long the answer to a callback takes over HTTP with a hand-off and a slow handler, against
the inline path with a no-op handler on the same server and store (the target: p99 within 1.5×).

    pip install -e ".[bench,celery,rq,django-tasks]" && apt-get install wrk redis-server
    python benchmarks/handoff.py [--duration 10] [--connections 32] [--rounds 2] [--handler 2.0]
    python benchmarks/handoff.py --quick      # every row once, 2 s each: a smoke run

Each row is a real server on core 0 driven by `wrk --latency` on core 1 (`benchmarks/http_runs.py`;
every request a new, signed callback), at 1 connection and at `--connections`; it prints p50
and p99 of the answer in milliseconds, their ratios to the group's first row (the inline path
with a no-op handler, same server, same store, same connections), requests/s, and the rings
that failed. Three groups, each on a store of its own per run:

- `asgi`: raw `asgi_app` under uvicorn (1 worker; httptools and uvloop with `uvicorn[standard]`)
  on `sqlite://`, async handlers. `handoff="thread"` runs each queued delivery as a task on the
  serving loop (`ThreadHandoff`, `--thread-workers` at once): the handlers' sleeps do not hold
  the loop, but each delivery's claim and finish run on it, beside the answers.
- `wsgi`: raw `wsgi_app` under gunicorn (1 sync worker) on `sqlite://`, sync handlers. The
  thread hand-off is the bounded pool: `--thread-workers` threads in the worker process.
- `django`: suno-hooks' Django view under gunicorn (1 sync worker) on `django://` (SQLite, WAL),
  inline, against `"HANDOFF": "django"` (`DjangoTasksHandoff`, `django-tasks-db`'s backend: the
  ring is an INSERT of the task, enqueued when the delivery's transaction commits).

Celery and RQ ring a redis-server (no persistence) started here; Django's tasks ring the
database. Their workers are not started: the answer never waits for one (the ring only sends
the delivery's key), and the queued work is dropped with the run. The hand-off rows' handler
sleeps `--handler` seconds; it only ever runs in the thread hand-off.

A ring that fails still answers 200 `{"status": "queued"}` (the delivery is already stored) and
logs a WARNING; the sweeper would ring it later. The thread hand-off refuses a ring when
`workers + queue_size` keys wait, and a refusal is a cheaper path than a ring (no task, no
later claim), so a row with refusals does not measure the hand-off. `--thread-queue` is
therefore sized by default to hold every callback a run sends (the handlers, at
`--thread-workers` / `--handler` per second, fall far behind the answers), and the table's
`failed rings` column counts the refusals (and any broker failure) of the kept run: with
`--thread-queue 100` (the library's default) most of a run's rings are refused, and the
column says how many.

Each measurement starts a fresh server, warms it up for 2 s (1 s with `--quick`), then runs
`--duration` seconds; rounds alternate the rows of a group, and each row keeps the round with
the lowest p99. Needs `wrk`, `taskset` and `redis-server`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import http_runs  # noqa: E402
from benchmarks.django_settings import migrate_project  # noqa: E402
from benchmarks.handoff_apps import KEY, count_failed_rings  # noqa: E402
from tests.support.services import RedisServer  # noqa: E402


@dataclass(frozen=True)
class Row:
    label: str
    server: str
    target: str
    environ: tuple[tuple[str, str], ...] = ()


APPS = "benchmarks.handoff_apps"
DJANGO_PROJECT = "benchmarks.handoff_django"
DJANGO = f"{DJANGO_PROJECT}:application"
# Each group's first row is its baseline: the inline path with a no-op handler.
GROUPS: dict[str, list[Row]] = {
    "asgi": [
        Row("inline, no-op handler", "uvicorn", f"{APPS}:inline_asgi"),
        Row("thread hand-off (loop tasks)", "uvicorn", f"{APPS}:thread_asgi"),
        Row("CeleryHandoff (redis)", "uvicorn", f"{APPS}:celery_asgi"),
        Row("RQHandoff (redis)", "uvicorn", f"{APPS}:rq_asgi"),
    ],
    "wsgi": [
        Row("inline, no-op handler", "gunicorn", f"{APPS}:inline_wsgi"),
        Row("thread hand-off (pool)", "gunicorn", f"{APPS}:thread_wsgi"),
        Row("CeleryHandoff (redis)", "gunicorn", f"{APPS}:celery_wsgi"),
        Row("RQHandoff (redis)", "gunicorn", f"{APPS}:rq_wsgi"),
    ],
    "django": [
        Row("Django view, inline, no-op", "gunicorn", DJANGO),
        Row(
            "Django view, tasks hand-off", "gunicorn", DJANGO, (("SUNO_BENCH_DJANGO_HANDOFF", "1"),)
        ),
    ],
}
STORES = {"asgi": "sqlite://", "wsgi": "sqlite://", "django": "django:// (SQLite)"}


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    failed_rings: int


def measure(
    row: Row,
    connections: int,
    directory: Path,
    script: Path,
    args: argparse.Namespace,
    redis_url: str,
) -> Result:
    """One run of `row` on a store of its own in `directory`."""
    directory.mkdir(parents=True)
    environ = dict(os.environ)
    environ.update(
        SUNO_BENCH_SQLITE_DIR=str(directory),
        SUNO_BENCH_REDIS_URL=redis_url,
        SUNO_BENCH_HANDLER=str(args.handler),
        SUNO_BENCH_THREAD_WORKERS=str(args.thread_workers),
        SUNO_BENCH_THREAD_QUEUE=str(args.thread_queue),
    )
    environ.update(row.environ)
    if row.target == DJANGO:
        migrate_project(DJANGO_PROJECT, environ)
    run = http_runs.measure(
        row.server,
        row.target,
        script,
        KEY,
        connections=connections,
        duration=args.duration,
        environ=environ,
        warm=args.warm,
    )
    if run.problems:
        print(f"  warning: {row.label}: {'; '.join(run.problems)}", file=sys.stderr)
    return Result(run.rps, run.p50_ms, run.p99_ms, count_failed_rings(directory))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, help="seconds per measurement (10; 2 --quick)")
    parser.add_argument("--connections", type=int, default=32, help="besides 1 connection")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs; lowest p99 kept")
    parser.add_argument("--handler", type=float, default=2.0, help="seconds the handler sleeps")
    parser.add_argument("--thread-workers", type=int, default=4, help="ThreadHandoff workers")
    parser.add_argument(
        "--thread-queue", type=int, help="ThreadHandoff queue_size (default: a run's callbacks)"
    )
    parser.add_argument("--only", nargs="*", choices=list(GROUPS), help="groups to run")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="2 s per run, one round (smoke)")
    args = parser.parse_args()
    args.warm = 2
    if args.quick:
        args.rounds, args.warm = 1, 1
        args.duration = args.duration or 2
    args.duration = args.duration or 10
    if args.thread_queue is None:  # room for every callback a run can send: no refusals
        args.thread_queue = (args.duration + args.warm) * http_runs.MAX_RPS
    http_runs.check_tools("redis-server")
    http_runs.check_uvicorn_standard()
    print(
        f"{args.duration}s x best of {args.rounds}, at 1 and {args.connections} connections; "
        "server on core 0 (uvicorn: uvloop + httptools; gunicorn sync), wrk on "
        f"core 1; handler {args.handler:g} s; ThreadHandoff(workers={args.thread_workers}, "
        f"queue_size={args.thread_queue})",
        flush=True,
    )
    groups = [name for name in GROUPS if not args.only or name in args.only]
    counts = sorted({1, args.connections})
    table: list[tuple[str, Row, int, Result, Result]] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = http_runs.lua_script(Path(tmp))
        redis_server = RedisServer(Path(tmp) / "redis", persistent=False).start()
        try:
            number = 0
            for group in groups:
                for connections in counts:
                    kept: dict[Row, Result] = {}
                    for _ in range(args.rounds):
                        for row in GROUPS[group]:
                            number += 1
                            directory = Path(tmp) / f"run-{number}"
                            result = measure(
                                row, connections, directory, script, args, redis_server.url
                            )
                            if row not in kept or result.p99_ms < kept[row].p99_ms:
                                kept[row] = result
                    base = kept[GROUPS[group][0]]
                    for row in GROUPS[group]:
                        table.append((group, row, connections, base, kept[row]))
                        mine = kept[row]
                        print(
                            f"  {group} {row.label} @{connections}: p50 {mine.p50_ms:.2f} ms, "
                            f"p99 {mine.p99_ms:.2f} ms, {mine.rps:,.0f} req/s",
                            flush=True,
                        )
        finally:
            redis_server.stop()
    print()
    print(
        "| server | store | answer | conns | p50 ms | p99 ms | p50 × | p99 × | req/s "
        "| failed rings |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for group, row, connections, base, mine in table:
        print(
            f"| {row.server} | {STORES[group]} | {row.label} | {connections} | "
            f"{mine.p50_ms:.2f} | {mine.p99_ms:.2f} | {mine.p50_ms / base.p50_ms:.2f} | "
            f"{mine.p99_ms / base.p99_ms:.2f} | {mine.rps:,.0f} | {mine.failed_rings} |"
        )
    print(
        f"(target: each hand-off row's p99 × at most 1.5; the handler sleeps "
        f"{args.handler:g} s; no Celery, RQ or Django task worker runs)"
    )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "group": group,
                        "answer": row.label,
                        "server": row.server,
                        "connections": connections,
                        "baseline": asdict(base),
                        "result": asdict(mine),
                    }
                    for group, row, connections, base, mine in table
                ]
            )
        )


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
