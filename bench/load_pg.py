"""Load on the web view scaled out: 2 `rr run` processes on PostgreSQL next to 1 on SQLite.

Run: python bench/load_pg.py [--seconds 20] [--annotators 32] [--think 0.5] [--clients 4]
     [--url URL]

The same annotators (httpx, async, spread over `--clients` client processes as in bench/load.py;
see load_client.py) drive, in the same run, first one `rr run mark` server on SQLite (WAL), then
two on one PostgreSQL database (feed_overlap false:
the processes share their claims through the database), the annotators spread evenly over the
two. Each annotator loops GET /api/questions -> POST /api/answers for `--seconds`, thinking 0 to
`--think` seconds between batches of 10. Reported: p50 / p99 latency of both endpoints, answers
per second, the servers' CPU time per answer (psutil), and the database check: every answer
acknowledged is stored, none twice, and no task went to two sessions. The PostgreSQL server is
`--url`, else RR_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test; the run uses
a schema of its own and drops it at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load_client import measure, start_server, write_source

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def run_setup(
    label: str, processes: int, db: dict[str, str], check_url: str, opts: argparse.Namespace
) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="rr-load-pg-"))
    source = home / "tasks.jsonl"
    write_source(source, int(opts.annotators * opts.seconds * 60) + 2000)
    started = [start_server(home, source, db) for _ in range(processes)]
    clients = min(opts.annotators, opts.clients)
    servers, urls = [p for p, _ in started], [u for _, u in started]
    row = measure(servers, urls, check_url, opts.annotators, opts.seconds, opts.think, clients)
    return {"label": label, **row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--think", type=float, default=0.5, help="max think time, seconds")
    parser.add_argument("--clients", type=int, default=4, help="client processes at most")
    parser.add_argument("--url", default=os.environ.get("RR_TEST_POSTGRES_URL") or DEFAULT_PG)
    parser.add_argument("--no-write", action="store_true", help="print only")
    opts = parser.parse_args()
    from sqlalchemy import create_engine, text

    sqlite_dir = Path(tempfile.mkdtemp(prefix="rr-load-sqlite-"))
    sqlite_db = sqlite_dir / "rr.db"
    sqlite_env = {"RR_CONFIG_OVERRIDES": json.dumps({"db_settings": {"path": str(sqlite_db)}})}
    rows = [run_setup("SQLite, 1 process", 1, sqlite_env, f"sqlite:///{sqlite_db}", opts)]

    schema = f"rr_bench_{uuid.uuid4().hex[:12]}"
    base = opts.url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in opts.url else "?"
        pg_url = f"{opts.url}{sep}options={quote(f'-csearch_path={schema}', safe='')}"
        check_url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        rows.append(run_setup("PostgreSQL, 2 processes", 2, {"RR_DB_URL": pg_url}, check_url, opts))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    for row in rows:
        print(
            f"{row['label']}: {row['answers']} answers, {row['rate']:.0f}/s; questions p50 "
            f"{row['q50']:.1f} p99 {row['q99']:.1f} ms; answers p50 {row['a50']:.1f} p99 "
            f"{row['a99']:.1f} ms; client loop lag p99 {row['lag99']:.1f} ms; server CPU "
            f"{row['cpu_ms']:.3f} ms/answer; lost {row['lost']}, "
            f"extra {row['extra']}, duplicated {row['duplicates']}, tasks in two sessions "
            f"{row['shared']}, errors {row['errors']}",
            file=sys.stderr,
        )
    if not opts.no_write:
        write(rows, opts)


def write(rows: list[dict[str, Any]], opts: argparse.Namespace) -> None:
    from bench.results import write_section

    head = (
        "| setup | answers | answers/s | questions p50 / p99 ms | answers p50 / p99 ms "
        "| server CPU ms/answer | lost | duplicated | task in 2 sessions | errors |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {r['label']} | {r['answers']} | {r['rate']:.0f} | {r['q50']:.1f} / {r['q99']:.1f}"
        f" | {r['a50']:.1f} / {r['a99']:.1f} | {r['cpu_ms']:.3f} | {r['lost']}"
        f" | {r['duplicates']} | {r['shared']} | {r['errors']} |"
        for r in rows
    ]
    sqlite, pg = rows
    worst = {r["label"]: max(r["q99"], r["a99"]) for r in rows}
    body = (
        f"`python bench/load_pg.py --seconds {opts.seconds:g}`: {opts.annotators} annotators, "
        f"{opts.seconds:g} s per setup, think time 0 to {opts.think:g} s between batches of 10; "
        f"client (httpx, async, {min(opts.annotators, opts.clients)} processes), servers and "
        "PostgreSQL on the same 2-core machine and loopback. Both setups in the same run.\n\n"
        + head
        + "\n".join(lines)
        + f"\n\n**PostgreSQL with 2 processes / SQLite with 1: answers/s "
        f"{pg['rate'] / sqlite['rate']:.2f}x, worst p99 "
        f"{worst[pg['label']] / worst[sqlite['label']]:.2f}x.** Lost, duplicated and "
        "tasks-in-two-sessions must all be 0: the two processes share one stream through the "
        "claims table. Server CPU is the sum over the server processes (PostgreSQL's own "
        "processes not included).\n"
    )
    write_section("Web view load (PostgreSQL, 2 processes)", body)


if __name__ == "__main__":
    main()
