"""The simulated annotators of bench/load.py and bench/load_pg.py, and what both report.

Each annotator (httpx, async) loops GET /api/questions -> POST /api/answers, thinking 0 to `think`
seconds between batches. The annotators run in one client process, or spread over several
(`processes`): a one-process Python client at 32 annotators spends a third of a core and its
event loop falls behind in bursts, so the latency it reports is partly its own. Each client
process runs an event-loop lag probe, so that the report says how far behind its loop ran.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
BARE_SERVER = Path(__file__).resolve().parent / "bare_server.py"
LAG_PROBE_S = 0.005  # how often the lag probe asks the event loop to wake it


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
    lag_ms: list[float] = field(default_factory=list)  # how late the client's loop woke up
    saved: int = 0
    served: dict[int, str] = field(default_factory=dict)  # task hash -> session
    twice: int = 0  # tasks served to two sessions
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu: float = 0.0  # CPU seconds of the client process(es) while they ran

    def merge(self, other: Tally) -> None:
        self.questions_ms += other.questions_ms
        self.answers_ms += other.answers_ms
        self.questions_server_ms += other.questions_server_ms
        self.answers_server_ms += other.answers_server_ms
        self.lag_ms += other.lag_ms
        self.saved += other.saved
        self.twice += other.twice
        for task_hash, name in other.served.items():
            if self.served.setdefault(task_hash, name) != name:
                self.twice += 1
        self.errors += other.errors
        self.seconds = max(self.seconds, other.seconds)
        self.client_cpu += other.client_cpu


def server_ms(reply: Any) -> float:
    header = reply.headers.get("server-timing", "")
    return float(header.split("dur=")[1]) if "dur=" in header else float("nan")


async def annotator(client: Any, name: str, until: float, think: float, tally: Tally) -> None:
    rng = random.Random(name)
    verdicts = ("accept", "accept", "reject", "ignore")
    # Start as one thinking: annotators that all ask at the same instant queue behind each
    # other once, and that single burst alone would be the p99 of a 20 s run.
    await asyncio.sleep(rng.uniform(0, think))
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
            if tally.served.setdefault(task["_task_hash"], name) != name:
                tally.twice += 1
        answers = [{**t, "answer": rng.choice(verdicts)} for t in tasks]
        start = time.perf_counter()
        reply = await client.post("/api/answers", json={"session": name, "answers": answers})
        tally.answers_ms.append((time.perf_counter() - start) * 1000)
        tally.answers_server_ms.append(server_ms(reply))
        if reply.status_code != 200:
            tally.errors.append(f"answers {reply.status_code}: {reply.text[:200]}")
            return
        tally.saved += reply.json()["saved"]
        await asyncio.sleep(rng.uniform(0, think))


async def lag_probe(until: float, tally: Tally) -> None:
    """How late the event loop wakes a sleeper: time a request's reply waited for the client."""
    while time.monotonic() < until:
        start = time.perf_counter()
        await asyncio.sleep(LAG_PROBE_S)
        tally.lag_ms.append((time.perf_counter() - start - LAG_PROBE_S) * 1000)


@dataclass
class Share:
    """One client process's part: annotators `names`, annotator i on server `urls[i]`."""

    urls: list[str]
    names: list[str]
    server_of: list[int]
    seconds: float
    think: float


async def drive(share: Share, on_ready: Callable[[], object] | None = None) -> Tally:
    """Run `share`'s annotators; `on_ready` is called once their connections are open, just
    before the clock starts (it may block: nothing else runs on the loop yet)."""
    import httpx

    tally = Tally()
    per_server = [share.server_of.count(i) for i in range(len(share.urls))]
    clients = [
        httpx.AsyncClient(
            base_url=url,
            limits=httpx.Limits(max_connections=n + 4, max_keepalive_connections=n + 4),
            timeout=60,
        )
        for url, n in zip(share.urls, per_server, strict=True)
    ]
    try:
        # One request per annotator first, so connections are open before the clock starts.
        await asyncio.gather(*(clients[s].get("/api/project") for s in share.server_of))
        if on_ready is not None:
            on_ready()
        cpu = time.process_time()
        start = time.monotonic()
        until = start + share.seconds
        await asyncio.gather(
            lag_probe(until, tally),
            *(
                annotator(clients[s], name, until, share.think, tally)
                for name, s in zip(share.names, share.server_of, strict=True)
            ),
        )
        tally.seconds = time.monotonic() - start
        tally.client_cpu = time.process_time() - cpu
        return tally
    finally:
        for client in clients:
            await client.aclose()


def run_async(coro: Any) -> Any:
    """Run the client on uvloop where there is one: the less the client spends, the less it
    measures itself (it shares the machine's cores with the server)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _child(share: Share, ready: Any, go: Any, out: Any) -> None:
    def wait_for_go() -> None:
        ready.set()
        go.wait()

    out.put(run_async(drive(share, wait_for_go)))


def run_clients(
    urls: list[str],
    annotators: int,
    seconds: float,
    think: float,
    processes: int,
    on_start: Callable[[], object] | None = None,
) -> Tally:
    """`annotators` annotators (a0, a1, ...; annotator i on server i mod len(urls)) spread
    over `processes` client processes (1: this one). `on_start` is called once every
    connection is open, just before the clock starts; its result is ignored."""
    names = [f"a{i}" for i in range(annotators)]
    shares = [
        Share(
            urls=urls,
            names=names[p::processes],
            server_of=[i % len(urls) for i in range(p, annotators, processes)],
            seconds=seconds,
            think=think,
        )
        for p in range(processes)
    ]
    if processes == 1:
        return run_async(drive(shares[0], on_start))
    context = multiprocessing.get_context("spawn")  # no inherited event loop or sockets
    out = context.Queue()
    go = context.Event()
    readies = [context.Event() for _ in shares]
    children = [
        context.Process(target=_child, args=(share, ready, go, out), daemon=True)
        for share, ready in zip(shares, readies, strict=True)
    ]
    for child in children:
        child.start()
    try:
        for ready in readies:
            if not ready.wait(120):
                raise SystemExit("a client process did not get ready")
        if on_start is not None:
            on_start()
        go.set()
        tally = Tally()
        for _ in children:
            tally.merge(out.get(timeout=seconds + 120))
        return tally
    finally:
        for child in children:
            child.join(30)
            if child.is_alive():
                child.kill()


def start_server(
    home: Path,
    source: Path | None,
    env_extra: dict[str, str] | None = None,
    prefix: list[str] | None = None,
    timeout: float = 60,
) -> tuple[subprocess.Popen[str], str]:
    """A real `rr run mark load SOURCE` process on a free loopback port, and its URL; without
    a source, bench/bare_server.py instead. `prefix` runs it under another program (valgrind)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RR_")}
    env.update({"RR_HOME": str(home), **(env_extra or {})})
    command = [sys.executable, "-m", "recipe_runner", "run", "--port", "0", "mark", "load"]
    command = [*command, str(source)] if source else [sys.executable, str(BARE_SERVER)]
    command = [*(prefix or []), *command]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=home,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        if "http://" in line:
            return process, line[line.index("http://") :].split()[0].rstrip("/")
    process.kill()
    raise SystemExit(f"the server did not start: {process.stderr.read()}")


def stop_servers(processes: list[subprocess.Popen[str]]) -> list[int]:
    """SIGTERM each server and wait for it; their exit codes."""
    codes = []
    for process in processes:
        process.send_signal(signal.SIGTERM)
        codes.append(process.wait(60))
        assert process.stderr is not None
        process.stderr.close()
    return codes


def check_database(url: str, tally: Tally) -> dict[str, int]:
    """Every answer acknowledged stored once, and no task answered in two sessions."""
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


def measure(
    servers: list[subprocess.Popen[str]],
    urls: list[str],
    check_url: str | None,
    annotators: int,
    seconds: float,
    think: float,
    processes: int,
    also_watch: Callable[[], dict[int, float]] | None = None,
) -> dict[str, Any]:
    """Drive the servers, stop them, check the database (at `check_url`; none for the bare
    server): the figures of one setup. `also_watch` gives the CPU seconds of other processes
    by pid (the database's), read at the start and at the end: their CPU per answer is
    reported as `db_cpu_ms` (a process started meanwhile counts from zero)."""
    import psutil

    watched = [psutil.Process(s.pid) for s in servers]
    before: list[Any] = []
    others: dict[int, float] = {}

    def started() -> None:
        before.extend(p.cpu_times() for p in watched)
        others.update(also_watch() if also_watch else {})

    try:
        tally = run_clients(urls, annotators, seconds, think, processes, on_start=started)
        after = [p.cpu_times() for p in watched]
        others_after = also_watch() if also_watch else {}
    finally:
        codes = stop_servers(servers)
    db_cpu = sum(cpu - others.get(pid, 0.0) for pid, cpu in others_after.items())
    pairs = list(zip(after, before, strict=True))
    kernel = sum(a.system - b.system for a, b in pairs)
    cpu = sum(a.user - b.user for a, b in pairs) + kernel
    if tally.errors or any(codes):
        print(f"errors: {tally.errors[:3]}, exit codes {codes}", file=sys.stderr)
    elapsed = tally.seconds
    return {
        "annotators": annotators,
        "processes": processes,
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
        "lag99": pct(tally.lag_ms, 0.99),
        "cpu_ms": cpu * 1000 / max(tally.saved, 1),
        "db_cpu_ms": db_cpu * 1000 / max(tally.saved, 1),
        "cpu_share": cpu / elapsed,
        "kernel_share": kernel / max(cpu, 1e-9),  # of the server's CPU, the kernel's part
        "client_share": tally.client_cpu / elapsed,
        "load": os.getloadavg()[0],
        "errors": len(tally.errors),
        **(check_database(check_url, tally) if check_url else {}),
    }
