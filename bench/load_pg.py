"""Load on the web view scaled out: 2 `rr run` processes on PostgreSQL next to 1 on SQLite.

Run: python bench/load_pg.py [--seconds 20] [--annotators 32] [--think 0.5] [--url URL]

The same annotators (httpx, async, one client process) drive, in the same run, first one
`rr run mark` server on SQLite (WAL), then two on one PostgreSQL database (feed_overlap false:
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
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
SMS = REPO / "data" / "textcat" / "sms_spam" / "SMSSpamCollection"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def write_source(path: Path, n: int) -> None:
    """`n` distinct tasks from the SMS Spam Collection's texts, numbered once they repeat."""
    with SMS.open(encoding="utf-8") as f:
        texts = list(dict.fromkeys(line.split("\t", 1)[1].strip() for line in f if "\t" in line))
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            text = texts[i % len(texts)]
            if i >= len(texts):
                text = f"{text} (#{i // len(texts)})"
            out.write(json.dumps({"text": text, "meta": {"line": i}}) + "\n")


@dataclass
class Tally:
    questions_ms: list[float] = field(default_factory=list)
    answers_ms: list[float] = field(default_factory=list)
    saved: int = 0
    served: dict[int, str] = field(default_factory=dict)  # task hash -> session
    twice: int = 0  # tasks served to two sessions
    errors: list[str] = field(default_factory=list)


async def annotator(client: Any, name: str, until: float, think: float, tally: Tally) -> None:
    rng = random.Random(name)
    verdicts = ("accept", "accept", "reject", "ignore")
    while time.monotonic() < until:
        start = time.perf_counter()
        reply = await client.get("/api/questions", params={"session": name})
        tally.questions_ms.append((time.perf_counter() - start) * 1000)
        if reply.status_code != 200:
            tally.errors.append(f"questions {reply.status_code}: {reply.text[:200]}")
            return
        tasks = reply.json()["tasks"]
        if not tasks:
            return
        for task in tasks:
            if tally.served.setdefault(task["_task_hash"], name) != name:
                tally.twice += 1
        answers = [{**t, "answer": rng.choice(verdicts)} for t in tasks]
        start = time.perf_counter()
        reply = await client.post("/api/answers", json={"session": name, "answers": answers})
        tally.answers_ms.append((time.perf_counter() - start) * 1000)
        if reply.status_code != 200:
            tally.errors.append(f"answers {reply.status_code}: {reply.text[:200]}")
            return
        tally.saved += reply.json()["saved"]
        await asyncio.sleep(rng.uniform(0, think))


async def drive(
    urls: list[str], annotators: int, seconds: float, think: float, tally: Tally
) -> float:
    import httpx

    per = annotators // len(urls) + 1
    limits = httpx.Limits(max_connections=per + 4, max_keepalive_connections=per)
    clients = [httpx.AsyncClient(base_url=u, limits=limits, timeout=60) for u in urls]
    try:
        # One request per annotator first, so connections are open before the clock starts.
        await asyncio.gather(
            *(clients[i % len(urls)].get("/api/project") for i in range(annotators))
        )
        start = time.monotonic()
        until = start + seconds
        await asyncio.gather(
            *(
                annotator(clients[i % len(urls)], f"a{i}", until, think, tally)
                for i in range(annotators)
            )
        )
        return time.monotonic() - start
    finally:
        for client in clients:
            await client.aclose()


def start_server(home: Path, source: Path, env_extra: dict[str, str]) -> tuple[Any, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RR_")}
    env.update({"RR_HOME": str(home), **env_extra})
    command = [sys.executable, "-m", "recipe_runner", "run", "--port", "0", "mark", "load"]
    process = subprocess.Popen(
        [*command, str(source)],
        env=env,
        cwd=home,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        if "http://" in line:
            return process, line[line.index("http://") :].split()[0].rstrip("/")
    process.kill()
    raise SystemExit(f"the server did not start: {process.stderr.read()}")


def check_database(url: str, tally: Tally) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM answers")).scalar() or 0
            duplicates = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT task_hash FROM answers GROUP BY dataset_id,"
                    " session_id, task_hash HAVING count(*) > 1) d"
                )
            ).scalar()
            shared = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT task_hash FROM answers GROUP BY task_hash"
                    " HAVING count(DISTINCT session_id) > 1) s"
                )
            ).scalar()
    finally:
        engine.dispose()
    return {
        "stored": int(stored),
        "lost": max(tally.saved - int(stored), 0),
        "extra": max(int(stored) - tally.saved, 0),
        "duplicates": int(duplicates or 0),
        "shared": int(shared or 0) + tally.twice,
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_setup(
    label: str, processes: int, db: dict[str, str], check_url: str, opts: argparse.Namespace
) -> dict[str, Any]:
    import psutil

    home = Path(tempfile.mkdtemp(prefix="rr-load-pg-"))
    source = home / "tasks.jsonl"
    write_source(source, int(opts.annotators * opts.seconds * 60) + 2000)
    started = [start_server(home, source, db) for _ in range(processes)]
    tally = Tally()
    try:
        procs = [psutil.Process(p.pid) for p, _ in started]
        before = [p.cpu_times() for p in procs]
        elapsed = asyncio.run(
            drive([u for _, u in started], opts.annotators, opts.seconds, opts.think, tally)
        )
        after = [p.cpu_times() for p in procs]
    finally:
        codes = []
        for process, _ in started:
            process.send_signal(signal.SIGTERM)
            codes.append(process.wait(60))
            assert process.stderr is not None
            process.stderr.close()
    cpu = sum((a.user - b.user) + (a.system - b.system) for a, b in zip(after, before, strict=True))
    if tally.errors or any(codes):
        print(f"{label}: errors {tally.errors[:3]}, exit codes {codes}", file=sys.stderr)
    return {
        "label": label,
        "answers": tally.saved,
        "rate": tally.saved / elapsed,
        "q50": pct(tally.questions_ms, 0.5),
        "q99": pct(tally.questions_ms, 0.99),
        "a50": pct(tally.answers_ms, 0.5),
        "a99": pct(tally.answers_ms, 0.99),
        "cpu_ms": cpu * 1000 / max(tally.saved, 1),
        "errors": len(tally.errors),
        **check_database(check_url, tally),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--think", type=float, default=0.5, help="max think time, seconds")
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
            f"{row['a99']:.1f} ms; server CPU {row['cpu_ms']:.3f} ms/answer; lost {row['lost']}, "
            f"extra {row['extra']}, duplicated {row['duplicates']}, tasks in two sessions "
            f"{row['shared']}, errors {row['errors']}",
            file=sys.stderr,
        )
    if not opts.no_write:
        write(rows, opts)


def write(rows: list[dict[str, Any]], opts: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
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
        "client (httpx, async, one process), servers and PostgreSQL on the same 2-core machine "
        "and loopback. Both setups in the same run.\n\n"
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
