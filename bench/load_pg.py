"""Load on the web view scaled out: `rr run` processes on PostgreSQL next to 1 on SQLite.

Run: python bench/load_pg.py [--seconds 20] [--annotators 32] [--processes 2] [--think 0.5]
     [--rounds 3] [--clients 4] [--url URL] [--before DIR]

The same annotators (httpx, async, spread over `--clients` client processes as in bench/load.py;
see load_client.py) drive, in the same run, one `rr run mark` server on SQLite (WAL), then
`--processes` servers on one PostgreSQL database (feed_overlap false: the processes share their
claims through the database), the annotators spread evenly over them; `--rounds` times, the two
setups alternating, and the median of each figure reported (the machine is shared: a round can
be slowed by work that is not ours, so single runs are not compared). Each annotator loops
GET /api/questions -> POST /api/answers for `--seconds`, thinking 0 to `--think` seconds between
batches of 10. Reported: p50 / p99 latency of both endpoints, answers per second, the servers'
CPU time per answer and PostgreSQL's (its backends serving the servers, read with psutil), the
transactions PostgreSQL committed per batch (pg_stat_database), and the database check: every
answer acknowledged is stored, none twice, and no task went to two sessions. The PostgreSQL
server is `--url`, else RR_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test;
each setup gets a database of its own (so that its statistics are its own), dropped after.
`--before DIR` adds a third setup to every round: the PostgreSQL servers run from the source tree
DIR (an earlier version, e.g. `git archive COMMIT | tar -x -C DIR`), so that a change is measured
against what it replaces in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load_client import measure, start_server, write_source

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
FIGURES = ("answers", "rate", "q50", "q99", "a50", "a99", "cpu_ms", "db_cpu_ms", "xacts")
CHECKS = ("lost", "duplicates", "shared", "errors")


def run_setup(
    label: str,
    processes: int,
    db: dict[str, str],
    check_url: str,
    opts: argparse.Namespace,
    backends: Callable[[], dict[int, float]] | None = None,
) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="rr-load-pg-"))
    source = home / "tasks.jsonl"
    write_source(source, int(opts.annotators * opts.seconds * 60) + 2000)
    started = [start_server(home, source, db) for _ in range(processes)]
    clients = min(opts.annotators, opts.clients)
    servers, urls = [p for p, _ in started], [u for _, u in started]
    row = measure(
        servers, urls, check_url, opts.annotators, opts.seconds, opts.think, clients, backends
    )
    return {"label": label, **row}


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def postgres_setup(
    processes: int, opts: argparse.Namespace, before: str | None = None
) -> dict[str, Any]:
    """`processes` servers on a new database of their own; the figures, with PostgreSQL's CPU
    per answer and its transactions per batch."""
    import psutil
    from sqlalchemy import create_engine, text

    name = f"rr_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(opts.url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    pg_url = with_database(opts.url, name)
    check_url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)

    def stat(sql: str) -> list[Any]:
        with admin.connect() as conn:
            return list(conn.execute(text(sql), {"name": name}).all())

    def backends() -> dict[int, float]:
        found = {}
        for (pid,) in stat("SELECT pid FROM pg_stat_activity WHERE datname = :name"):
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            found[pid] = times.user + times.system
        return found

    xact = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :name"
    proxy = None
    try:
        xacts_before = stat(xact)[0][0]
        env = {"RR_DB_URL": pg_url}
        if opts.db_latency:
            proxy, port = start_proxy(opts.url, opts.db_latency)
            env["RR_DB_URL"] = urlunsplit(
                urlsplit(pg_url)._replace(netloc=f"postgres@127.0.0.1:{port}")
            )
        label = f"PostgreSQL, {processes} processes"
        if before is not None:
            env["PYTHONPATH"] = before
            label += ", before"
        row = run_setup(label, processes, env, check_url, opts, backends)
        time.sleep(1.5)  # backends report their counts as they exit, at most a second late
        row["xacts"] = (stat(xact)[0][0] - xacts_before) / max(row["answers"] / 10, 1)
    finally:
        if proxy is not None:
            proxy.kill()
            proxy.wait()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return row


def start_proxy(url: str, delay_ms: float) -> tuple[subprocess.Popen[str], int]:
    """bench/latency_proxy.py in front of the PostgreSQL server of `url`: (process, its port)."""
    parts = urlsplit(url)
    script = Path(__file__).resolve().parent / "latency_proxy.py"
    args = [parts.hostname or "127.0.0.1", str(parts.port or 5432), str(delay_ms)]
    proxy = subprocess.Popen(
        [sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True
    )
    assert proxy.stdout is not None
    return proxy, int(proxy.stdout.readline())


def sqlite_setup(opts: argparse.Namespace) -> dict[str, Any]:
    sqlite_dir = Path(tempfile.mkdtemp(prefix="rr-load-sqlite-"))
    sqlite_db = sqlite_dir / "rr.db"
    env = {"RR_CONFIG_OVERRIDES": json.dumps({"db_settings": {"path": str(sqlite_db)}})}
    row = run_setup("SQLite, 1 process", 1, env, f"sqlite:///{sqlite_db}", opts)
    row["xacts"] = float("nan")
    row["db_cpu_ms"] = float("nan")
    return row


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"label": rows[0]["label"], "rounds": len(rows)}
    for key in FIGURES:
        out[key] = statistics.median(r[key] for r in rows)
    for key in CHECKS:
        out[key] = sum(r.get(key, 0) for r in rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--processes", type=int, default=2, help="PostgreSQL server processes")
    parser.add_argument("--think", type=float, default=0.5, help="max think time, seconds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4, help="client processes at most")
    parser.add_argument("--url", default=os.environ.get("RR_TEST_POSTGRES_URL") or DEFAULT_PG)
    parser.add_argument("--label", default="", help="a name for this run's section")
    parser.add_argument("--before", help="a source tree of an earlier version to compare")
    parser.add_argument(
        "--db-latency",
        type=float,
        default=0,
        help="ms added each way between the servers and PostgreSQL (bench/latency_proxy.py): "
        "a database on another machine",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    opts = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"sqlite": [], "pg": [], "before": []}
    for _ in range(opts.rounds):
        runs["sqlite"].append(sqlite_setup(opts))
        runs["pg"].append(postgres_setup(opts.processes, opts))
        if opts.before:
            runs["before"].append(postgres_setup(opts.processes, opts, opts.before))
        for kind in runs.values():
            if kind:
                print(line(kind[-1]), file=sys.stderr)
    rows = [median_row(found) for found in runs.values() if found]
    for row in rows:
        print("median " + line(row), file=sys.stderr)
    if not opts.no_write:
        write(rows, opts)


def line(row: dict[str, Any]) -> str:
    return (
        f"{row['label']}: {row['answers']} answers, {row['rate']:.0f}/s; questions p50 "
        f"{row['q50']:.1f} p99 {row['q99']:.1f} ms; answers p50 {row['a50']:.1f} p99 "
        f"{row['a99']:.1f} ms; server CPU {row['cpu_ms']:.3f} ms/answer, PostgreSQL's "
        f"{row['db_cpu_ms']:.3f}; transactions per batch {row['xacts']:.1f}; lost {row['lost']}, "
        f"duplicated {row['duplicates']}, tasks in two sessions {row['shared']}, "
        f"errors {row['errors']}"
    )


def targets(pg: dict[str, Any], sqlite: dict[str, Any], worst: float) -> str:
    """The issue's targets for PostgreSQL, each against this run's figures."""

    def mark(ok: bool) -> str:
        return "met" if ok else "missed"

    return (
        f"Targets: worst p99 at most 15 ms: {worst:.1f} ms ({mark(worst <= 15)}); server CPU "
        f"at most 0.2 ms per answer: {pg['cpu_ms']:.3f} ({mark(pg['cpu_ms'] <= 0.2)}); "
        f"answers/s at least SQLite's: {pg['rate']:.0f} against {sqlite['rate']:.0f} "
        f"({mark(pg['rate'] >= sqlite['rate'])}); nothing lost, duplicated or served twice "
        f"({mark(pg['lost'] + pg['duplicates'] + pg['shared'] == 0)})."
    )


def write(rows: list[dict[str, Any]], opts: argparse.Namespace) -> None:
    from bench.results import write_section

    head = (
        "| setup | answers | answers/s | questions p50 / p99 ms | answers p50 / p99 ms "
        "| server CPU ms/answer | PostgreSQL CPU ms/answer | transactions per batch "
        "| lost | duplicated | task in 2 sessions | errors |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {r['label']} | {r['answers']:.0f} | {r['rate']:.0f} | {r['q50']:.1f} / {r['q99']:.1f}"
        f" | {r['a50']:.1f} / {r['a99']:.1f} | {r['cpu_ms']:.3f} | {r['db_cpu_ms']:.3f}"
        f" | {r['xacts']:.1f} | {r['lost']} | {r['duplicates']} | {r['shared']} | {r['errors']} |"
        for r in rows
    ]
    sqlite, pg = rows[:2]
    worst = {r["label"]: max(r["q99"], r["a99"]) for r in rows}
    against = ""
    if len(rows) == 3:
        old = rows[2]
        against = (
            f" Against the version before, in the same run: answers/s "
            f"{pg['rate'] / old['rate']:.2f}x, worst p99 "
            f"{worst[pg['label']] / worst[old['label']]:.2f}x, server CPU per answer "
            f"{pg['cpu_ms'] / old['cpu_ms']:.2f}x, PostgreSQL's CPU per answer "
            f"{pg['db_cpu_ms'] / old['db_cpu_ms']:.2f}x, transactions per batch "
            f"{old['xacts']:.1f} -> {pg['xacts']:.1f}."
        )
    latency = f" --db-latency {opts.db_latency:g}" if opts.db_latency else ""
    proxied = (
        f" (the servers reach PostgreSQL through bench/latency_proxy.py, {opts.db_latency:g} ms "
        "added each way, as for a database on another machine)"
        if opts.db_latency
        else ""
    )
    body = (
        f"`python bench/load_pg.py --seconds {opts.seconds:g} --annotators {opts.annotators} "
        f"--processes {opts.processes} --rounds {opts.rounds}{latency}`: {opts.annotators} "
        "annotators, "
        f"{opts.seconds:g} s per setup, think time 0 to {opts.think:g} s between batches of 10; "
        f"client (httpx, async, {min(opts.annotators, opts.clients)} processes), servers and "
        f"PostgreSQL on the same 2-core machine (shared with other work) and loopback{proxied}. "
        f"The two setups alternate, {opts.rounds} rounds; each figure is the median over the "
        "rounds (the checks are summed).\n\n"
        + head
        + "\n".join(lines)
        + f"\n\n**PostgreSQL with {opts.processes} processes / SQLite with 1: answers/s "
        f"{pg['rate'] / sqlite['rate']:.2f}x, worst p99 "
        f"{worst[pg['label']] / worst[sqlite['label']]:.2f}x, server CPU per answer "
        f"{pg['cpu_ms'] / sqlite['cpu_ms']:.2f}x.**{against}\n\n"
        + (
            targets(pg, sqlite, worst[pg["label"]]) + "\n\n"
            if (opts.processes, opts.annotators, opts.think) == (2, 32, 0.5)
            else ""  # the targets are for its layout only
        )
        + "Lost, duplicated and "
        "tasks-in-two-sessions must all be 0: the processes share one stream through the "
        "claims table. Server CPU is the sum over the server processes; PostgreSQL's is that "
        "of its backends serving them.\n"
    )
    section = "Web view load (PostgreSQL, 2 processes)"
    if opts.label:
        section = f"Web view load (PostgreSQL, {opts.label})"
    write_section(section, body)


if __name__ == "__main__":
    main()
