"""Instructions per batch of the web view's server, counted by valgrind, against the bare app.

Run: python bench/load_instructions.py [--batches 10] [--annotators 32]

The CPU time of the same work on this shared machine drifts by tens of percent from one minute
to the next (see load.py), which hides changes of that size. The number of instructions a
process runs is the same from one run to the next, whatever else the machine is doing. So a real
`rr run mark` server, then bench/bare_server.py (uvicorn with canned replies: the floor), each run
under `valgrind --tool=callgrind`, answer the same fixed work: `--annotators` sessions, each
GET /api/questions -> POST /api/answers for `--batches` batches of 10, after 2 batches each that
are not counted. Counting is switched on (callgrind_control) only around the counted batches, so
start-up and imports are left out. Reported: instructions per batch (two requests, ten answers)
of each and their ratio. Instructions are not time (a cache miss costs more than an add), and
the kernel's work (sockets, SQLite's writes) is not counted: load.py measures that.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load_client import start_server, write_source

WARM_UP_BATCHES = 2


async def annotate(url: str, annotators: int, batches: int) -> int:
    """Every annotator answers `batches` batches; the answers saved."""
    import httpx

    async def one(client: Any, name: str) -> int:
        saved = 0
        for _ in range(batches):
            reply = await client.get("/api/questions", params={"session": name})
            reply.raise_for_status()
            answers = [{**task, "answer": "accept"} for task in reply.json()["tasks"]]
            reply = await client.post("/api/answers", json={"session": name, "answers": answers})
            reply.raise_for_status()
            saved += reply.json()["saved"]
        return saved

    limits = httpx.Limits(max_connections=annotators, max_keepalive_connections=annotators)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        counts = await asyncio.gather(*(one(client, f"a{i}") for i in range(annotators)))
    return sum(counts)


def count(bare: bool, opts: argparse.Namespace) -> int:
    """Instructions the server ran for the counted batches."""
    home = Path(tempfile.mkdtemp(prefix="rr-instructions-"))
    source = None
    if not bare:
        source = home / "tasks.jsonl"
        write_source(source, opts.annotators * (opts.batches + WARM_UP_BATCHES) * 10 + 1000)
    out = home / "callgrind.out"
    prefix = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    # A fixed hash seed: with a random one, dict look-ups probe differently from run to run and
    # the same work counts a few percent more or fewer instructions.
    env = {"PYTHONHASHSEED": "0"}
    process, url = start_server(home, source, env, prefix=prefix, timeout=300)
    try:
        asyncio.run(annotate(url, opts.annotators, WARM_UP_BATCHES))
        control = ["callgrind_control", "--instr=on", str(process.pid)]
        subprocess.run(control, check=True, capture_output=True)
        saved = asyncio.run(annotate(url, opts.annotators, opts.batches))
        control[1] = "--instr=off"
        subprocess.run(control, check=True, capture_output=True)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        log = process.stderr.read()
        process.wait(300)
    if not bare and saved != opts.annotators * opts.batches * 10:
        raise SystemExit(f"expected every answer saved, got {saved}")
    collected = [line for line in log.splitlines() if "Collected :" in line]
    if not collected:
        raise SystemExit(f"valgrind reported no count: {log[-2000:]}")
    return int(collected[-1].split(":")[-1].replace(",", "").strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10, help="counted batches per annotator")
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--no-write", action="store_true", help="print only")
    opts = parser.parse_args()
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    batches = opts.annotators * opts.batches
    rr = count(False, opts) / batches
    bare = count(True, opts) / batches
    print(
        f"rr run mark: {rr:,.0f} instructions per batch of 10 answers; bare app: {bare:,.0f}; "
        f"ratio {rr / bare:.2f}",
        file=sys.stderr,
    )
    if opts.no_write:
        return
    from bench.results import write_section

    body = (
        f"`python bench/load_instructions.py --batches {opts.batches} --annotators "
        f"{opts.annotators}`: instructions the server process runs, counted by valgrind "
        "(callgrind), for the same fixed work: each annotator GET /api/questions -> POST "
        f"/api/answers for {opts.batches} batches of 10 (after {WARM_UP_BATCHES} not counted), "
        "all at once, no think time. Unlike CPU time, the count is the same from run to run "
        "whatever else the machine does; it leaves out the kernel's work (sockets, SQLite's "
        "writes), which `load.py` measures.\n\n"
        "| server | instructions per batch (2 requests, 10 answers) | per answer |\n"
        "|---|---:|---:|\n"
        f"| `rr run mark` on SQLite | {rr:,.0f} | {rr / 10:,.0f} |\n"
        f"| bare app (floor) | {bare:,.0f} | {bare / 10:,.0f} |\n\n"
        f"**`rr run mark` / bare app: {rr / bare:.2f}x.**\n"
    )
    write_section("Web view instructions per batch", body)


if __name__ == "__main__":
    main()
