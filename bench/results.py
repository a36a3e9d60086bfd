"""Write one benchmark's figures into its own section of bench/RESULTS.md, keeping the others."""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = """# Benchmark results

Each section is rewritten by its script (`python bench/NAME.py`); each runs its baseline in the
same run and reports the ratio. The machine's 2 cores may be shared with other work while they run,
so compare figures within a section, not across runs.

| section | script |
|---|---|
| Headless throughput, Headless memory | `headless_throughput.py` |
| CLI start-up | `cli_startup.py` |
| Web view load (SQLite) | `load.py` |
| Web view instructions per batch | `load_instructions.py` |
| Web page: keypress to next task | `page_latency.py` |
| active_learning | `active_learning.py` |
| active_learning_vectors | `word_vectors.py`, then `active_learning.py --model` |
| teach_latency | `teach_latency.py` |
| preannotate | `preannotate.py` |
| resume | `resume.py` |
| Web view load (PostgreSQL, 2 processes) | `load_pg.py` |
| Team routing | `team_routing.py` |
"""


def machine() -> str:
    import os

    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section `name` of RESULTS.md with `body` (Markdown)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    stamp = time.strftime("%Y-%m-%d")
    section = (
        f"<!-- bench:{name} -->\n## {name}\n\n_Run on {stamp}, {machine()}._\n\n"
        f"{body.strip()}\n<!-- /bench:{name} -->\n"
    )
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n", re.S
    )
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    RESULTS.write_text(text, encoding="utf-8")
