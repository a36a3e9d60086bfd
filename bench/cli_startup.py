"""Start-up time of `rr --help` against `python -c "import typer"`, measured in the same run.

Run: python bench/cli_startup.py [--repeats 15]

Both commands run as fresh processes, alternating, `--repeats` times each after one warm-up; the
median wall times are compared. Target: `rr --help` <= 1.5x `import typer`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    opts = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="rr-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RR_")}
    env["RR_HOME"] = str(home)
    # The console script next to this interpreter: a `rr` found first on PATH may be a wrapper
    # (a version manager's shim) whose own start-up is not recipe-runner's.
    script = Path(sys.executable).with_name("rr")
    rr = str(script) if script.is_file() else shutil.which("rr")
    commands = {
        "import typer": [sys.executable, "-c", "import typer"],
        "rr --help": [rr, "--help"] if rr else [sys.executable, "-m", "recipe_runner", "--help"],
        "python -m recipe_runner --help": [sys.executable, "-m", "recipe_runner", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    try:
        for cmd in commands.values():
            wall(cmd, env)  # warm the file cache
        for _ in range(opts.repeats):
            for name, cmd in commands.items():
                times[name].append(wall(cmd, env))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    base = medians["import typer"]
    ratio = medians["rr --help"] / base
    for name, value in medians.items():
        print(f"{name}: {value * 1000:.0f} ms ({value / base:.2f}x)")

    rows = [
        "| command | median wall time | vs `import typer` |",
        "|---|---:|---:|",
        *(
            f"| `{name}` | {value * 1000:.0f} ms | {value / base:.2f}x |"
            for name, value in medians.items()
        ),
    ]
    body = "\n".join(
        [
            f"Fresh processes, alternating, {opts.repeats} runs each after a warm-up; medians.",
            "",
            *rows,
            "",
            f'**`rr --help` / `python -c "import typer"`: {ratio:.2f}x** (target <= 1.5x). '
            "The test suite checks that `rr --help` imports no spaCy, FastAPI or SQLAlchemy and "
            "loads no plugin (tests/test_cli.py).",
        ]
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from results import write_section

    write_section("CLI start-up", body)


if __name__ == "__main__":
    main()
