"""Load on the web view: simulated annotators against one `rr run` server on SQLite.

Run: python bench/load.py [--seconds 20] [--annotators 1,8,32] [--think 0.5]

For each number of annotators, a fresh `rr run mark` server (a real subprocess, its own SQLite
database) on a free loopback port, and that many annotators (httpx, async, one process) each
looping GET /api/questions -> POST /api/answers for `--seconds`, thinking 0 to `--think` seconds
between batches. Reported: p50 / p99 latency of both endpoints, answers per second, the server's
CPU time per answer (psutil), and a check of the database: every answer acknowledged is stored
once, and no task went to two sessions. Targets (32 annotators): p99 <= 15 ms, server CPU <= 0.1
ms per answer, nothing lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
TARGET_P99_MS = 15.0
TARGET_CPU_MS = 0.1


def real_texts() -> list[str]:
    """Texts of the repo's public datasets: SMS messages and review sentences."""
    texts: list[str] = []
    with (DATA / "textcat" / "sms_spam" / "SMSSpamCollection").open(encoding="utf-8") as f:
        texts += [line.split("\t", 1)[1].strip() for line in f if "\t" in line]
    for path in sorted((DATA / "textcat" / "sentiment_labelled_sentences").glob("*_labelled.txt")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if "\t" in line:
                texts.append(line.rsplit("\t", 1)[0].strip())
    return list(dict.fromkeys(t for t in texts if t))


def write_source(path: Path, n: int) -> None:
    """`n` distinct tasks: the real texts, numbered once they start to repeat."""
    texts = real_texts()
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
    # What the server's Server-Timing header says each took inside the endpoint.
    questions_server_ms: list[float] = field(default_factory=list)
    answers_server_ms: list[float] = field(default_factory=list)
    saved: int = 0
    sent: int = 0
    served: dict[int, str] = field(default_factory=dict)  # task hash -> session
    twice: int = 0  # tasks served to two sessions
    errors: list[str] = field(default_factory=list)


def server_ms(reply: object) -> float:
    header = getattr(reply, "headers", {}).get("server-timing", "")
    return float(header.split("dur=")[1]) if "dur=" in header else float("nan")


async def annotator(
    client: object, name: str, until: float, think: float, tally: Tally, rng: random.Random
) -> None:
    import httpx

    assert isinstance(client, httpx.AsyncClient)
    verdicts = ("accept", "accept", "reject", "ignore")
    while time.monotonic() < until:
        start = time.perf_counter()
        reply = await client.get("/api/questions", params={"session": name})
        tally.questions_ms.append((time.perf_counter() - start) * 1000)
        tally.questions_server_ms.append(server_ms(reply))
        if reply.status_code != 200:
            tally.errors.append(f"questions {reply.status_code}: {reply.text[:200]}")
            return
        tasks = reply.json()["tasks"]
        if not tasks:
            return
        for task in tasks:
            owner = tally.served.setdefault(task["_task_hash"], name)
            if owner != name:
                tally.twice += 1
        answers = [{**t, "answer": rng.choice(verdicts)} for t in tasks]
        start = time.perf_counter()
        reply = await client.post("/api/answers", json={"session": name, "answers": answers})
        tally.answers_ms.append((time.perf_counter() - start) * 1000)
        tally.answers_server_ms.append(server_ms(reply))
        if reply.status_code != 200:
            tally.errors.append(f"answers {reply.status_code}: {reply.text[:200]}")
            return
        tally.sent += len(answers)
        tally.saved += reply.json()["saved"]
        await asyncio.sleep(rng.uniform(0, think))


async def drive(url: str, annotators: int, seconds: float, think: float, tally: Tally) -> float:
    import httpx

    limits = httpx.Limits(max_connections=annotators + 4, max_keepalive_connections=annotators)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        # One request each first, so connections are open before the clock starts.
        await asyncio.gather(*(client.get("/api/project") for _ in range(annotators)))
        start = time.monotonic()
        until = start + seconds
        await asyncio.gather(
            *(
                annotator(client, f"a{i}", until, think, tally, random.Random(i))
                for i in range(annotators)
            )
        )
        return time.monotonic() - start


def run_async(coro: Any) -> float:
    """Run the client on uvloop where there is one: the less the client spends, the less it
    measures itself (it shares the machine's cores with the server)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return float(uvloop.run(coro))


def start_server(home: Path, source: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RR_")}
    env["RR_HOME"] = str(home)
    command = [sys.executable, "-m", "recipe_runner", "run", "--port", "0", "mark"]
    command += ["load", str(source)]
    process = subprocess.Popen(
        command, env=env, cwd=home, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
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


def check_database(db: Path, tally: Tally) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        duplicates = conn.execute(
            "SELECT COUNT(*) FROM (SELECT task_hash FROM answers GROUP BY dataset_id, session_id,"
            " task_hash HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        shared = conn.execute(
            "SELECT COUNT(*) FROM (SELECT task_hash FROM answers GROUP BY task_hash"
            " HAVING COUNT(DISTINCT session_id) > 1)"
        ).fetchone()[0]
    return {
        "stored": stored,
        "lost": tally.saved - stored if tally.saved > stored else 0,
        "extra": stored - tally.saved if stored > tally.saved else 0,
        "duplicates": duplicates,
        "shared": shared + tally.twice,
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_level(annotators: int, seconds: float, think: float) -> dict[str, float]:
    import psutil

    home = Path(tempfile.mkdtemp(prefix="rr-load-"))
    source = home / "tasks.jsonl"
    write_source(source, int(annotators * seconds * 60) + 2000)
    process, url = start_server(home, source)
    tally = Tally()
    try:
        server = psutil.Process(process.pid)
        before = server.cpu_times()
        client_before = time.process_time()
        elapsed = run_async(drive(url, annotators, seconds, think, tally))
        client_cpu = time.process_time() - client_before
        after = server.cpu_times()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(60)
        assert process.stderr is not None
        process.stderr.close()
    cpu = (after.user - before.user) + (after.system - before.system)
    check = check_database(home / "rr.db", tally)
    if tally.errors or code != 0:
        print(f"errors: {tally.errors[:3]} exit code {code}", file=sys.stderr)
    return {
        "annotators": annotators,
        "seconds": elapsed,
        "answers": tally.saved,
        "rate": tally.saved / elapsed,
        "q50": pct(tally.questions_ms, 0.5),
        "q99": pct(tally.questions_ms, 0.99),
        "a50": pct(tally.answers_ms, 0.5),
        "a99": pct(tally.answers_ms, 0.99),
        "sq50": pct(tally.questions_server_ms, 0.5),
        "sq99": pct(tally.questions_server_ms, 0.99),
        "sa50": pct(tally.answers_server_ms, 0.5),
        "sa99": pct(tally.answers_server_ms, 0.99),
        "cpu_ms": cpu * 1000 / max(tally.saved, 1),
        "cpu_share": cpu / elapsed,
        "client_share": client_cpu / elapsed,
        "load": os.getloadavg()[0],
        "errors": len(tally.errors),
        **check,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--annotators", default="1,8,32")
    parser.add_argument("--think", type=float, default=0.5, help="max think time, seconds")
    parser.add_argument("--no-write", action="store_true", help="print only")
    opts = parser.parse_args()
    rows = []
    for n in (int(x) for x in opts.annotators.split(",")):
        row = run_level(n, opts.seconds, opts.think)
        rows.append(row)
        print(
            f"{n:>3} annotators: {row['answers']} answers, {row['rate']:.0f}/s; questions p50 "
            f"{row['q50']:.1f} p99 {row['q99']:.1f} ms; answers p50 {row['a50']:.1f} p99 "
            f"{row['a99']:.1f} ms (in the server: {row['sq50']:.1f}/{row['sq99']:.1f} and "
            f"{row['sa50']:.1f}/{row['sa99']:.1f}); server CPU {row['cpu_ms']:.3f} ms/answer "
            f"({row['cpu_share']:.0%} of a core; client {row['client_share']:.0%}, load average "
            f"{row['load']:.1f}); lost {row['lost']}, duplicated "
            f"{row['duplicates']}, tasks in two sessions {row['shared']}",
            file=sys.stderr,
        )
    if not opts.no_write:
        write(rows, opts)


def write(rows: list[dict[str, float]], opts: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))
    from bench.results import write_section

    head = (
        "| annotators | answers | answers/s | questions p50 / p99 ms (in server) "
        "| answers p50 / p99 ms (in server) | server CPU ms/answer | server / client CPU "
        "| load avg | lost | duplicated | task in 2 sessions |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {r['annotators']} | {r['answers']} | {r['rate']:.0f} "
        f"| {r['q50']:.1f} / {r['q99']:.1f} ({r['sq50']:.1f} / {r['sq99']:.1f}) "
        f"| {r['a50']:.1f} / {r['a99']:.1f} ({r['sa50']:.1f} / {r['sa99']:.1f}) "
        f"| {r['cpu_ms']:.3f} | {r['cpu_share']:.0%} / {r['client_share']:.0%} | {r['load']:.1f} "
        f"| {r['lost']} | {r['duplicates']} | {r['shared']} |"
        for r in rows
    ]
    top = rows[-1]
    worst = max(top["q99"], top["a99"])
    inside = max(top["sq99"], top["sa99"])
    body = (
        f"`python bench/load.py --seconds {opts.seconds:g}`: a real `rr run mark` server on "
        f"SQLite (WAL) per level, {opts.seconds:g} s, think time 0 to {opts.think:g} s between "
        "batches of 10; the client (httpx, async, one process) and the server share the machine "
        "and its loopback. Latency as the client sees it, and in brackets as the server's "
        "Server-Timing header reports it (inside the endpoint). CPU as a share of one core; "
        "load avg is the machine's 1-minute load average at the end of the level (other work "
        "on the machine competes for its cores).\n\n"
        + head
        + "\n".join(lines)
        + f"\n\nAt {top['annotators']} annotators: worst p99 {worst:.1f} ms as the client sees "
        f"it, {inside:.1f} ms inside the server ({worst / TARGET_P99_MS:.2f}x and "
        f"{inside / TARGET_P99_MS:.2f}x the {TARGET_P99_MS:g} ms target); server CPU "
        f"{top['cpu_ms']:.3f} ms per answer ({top['cpu_ms'] / TARGET_CPU_MS:.2f}x the "
        f"{TARGET_CPU_MS:g} ms target).\n"
    )
    write_section("Web view load (SQLite)", body)


if __name__ == "__main__":
    main()
