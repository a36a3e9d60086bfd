"""Keypress to next task in the web page, against the least a page can do, in the same browser.

Run: python bench/page_latency.py [--answers 50] [--rate 30]

Chromium (Debian's, headless) opens the annotation page of a real server over the news headlines
and answers `--answers` tasks with the keyboard at `--rate` keys a second. For each key: the time
from the keydown event to the new task's text in the DOM, and to the next animation frame (when
it can be on screen). The baseline is a page that only swaps a text node on keydown, timed the same
way in the same browser. The same is timed on a `blocks` card (spans_manual, choice and text_input
blocks: the label bar, tokens with their span lanes, options with their keys and a text field
drawn for each task). Target: p95 keydown -> next frame <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TARGET_MS = 50.0
PROBE = """
window.__lat = {dom: [], frame: []};
document.addEventListener('keydown', (e) => { window.__t0 = e.timeStamp; }, true);
new MutationObserver(() => {
  const t0 = window.__t0;
  if (t0 === undefined) return;
  window.__t0 = undefined;
  window.__lat.dom.push(performance.now() - t0);
  requestAnimationFrame(() => window.__lat.frame.push(performance.now() - t0));
}).observe(document.getElementById('content'),
           {childList: true, subtree: true, characterData: true});
"""
BASELINE = """<!doctype html><div id="content">task 0</div><script>
let n = 0;
document.addEventListener('keydown', () => {
  document.getElementById('content').textContent = `task ${++n}`;
});
</script>"""


def measure(page: Any, answers: int, rate: float) -> dict[str, list[float]]:
    page.evaluate(PROBE)
    for i in range(answers):
        page.keyboard.press("a" if i % 3 else "x")
        page.wait_for_timeout(1000 / rate)
    page.wait_for_function(f"window.__lat.frame.length >= {answers}")
    return dict(page.evaluate("window.__lat"))


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument("--rate", type=float, default=30, help="keys per second")
    parser.add_argument("--no-write", action="store_true")
    opts = parser.parse_args()
    home = tempfile.mkdtemp(prefix="rr-page-")
    for name in [n for n in os.environ if n.startswith("RR_")]:
        del os.environ[name]
    os.environ["RR_HOME"] = home
    os.chdir(home)
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
    from tests.test_server_api import news_mark
    from tests.view_recipes import news_blocks
    from tests.webserver import live_server

    def annotate(browser: Any, server: Any) -> tuple[dict[str, list[float]], int]:
        page = browser.new_page()
        page.goto(f"{server.url}/?session=bench")
        page.wait_for_selector("#content .task-text")
        lat = measure(page, opts.answers, opts.rate)
        page.keyboard.press("Control+s")
        page.wait_for_function("document.getElementById('save-state').textContent.includes('All')")
        return lat, len(server.answers())

    # Both servers start before the browser, so that neither start-up falls in a measurement.
    with (
        sync_playwright() as playwright,
        live_server(news_mark) as server,
        live_server(news_blocks, {"n": opts.answers + 10}) as blocks_server,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        base_page = browser.new_page()
        base_page.set_content(BASELINE)
        base = measure(base_page, opts.answers, opts.rate)
        ours, saved = annotate(browser, server)
        blocks, blocks_saved = annotate(browser, blocks_server)
        browser.close()
    rows = []
    pages = (
        ("baseline page (swap a text node)", base),
        ("annotation page (text view)", ours),
        ("annotation page (blocks: spans_manual + choice + text_input)", blocks),
    )
    for name, lat in pages:
        rows.append(
            f"| {name} | {p(lat['dom'], 50):.1f} / {p(lat['dom'], 95):.1f} "
            f"| {p(lat['frame'], 50):.1f} / {p(lat['frame'], 95):.1f} |"
        )
    ratio = p(ours["frame"], 95) / p(base["frame"], 95)
    blocks_ratio = p(blocks["frame"], 95) / p(base["frame"], 95)
    summary = (
        f"p95 keydown -> next frame {p(ours['frame'], 95):.1f} ms ({ratio:.2f}x the baseline "
        f"page), {p(blocks['frame'], 95):.1f} ms on a blocks card ({blocks_ratio:.2f}x); "
        f"target {TARGET_MS:g} ms; {saved} and {blocks_saved} answers saved by the end"
    )
    print(summary, file=sys.stderr)
    if opts.no_write:
        return
    from bench.results import write_section

    write_section(
        "Web page: keypress to next task",
        f"`python bench/page_latency.py`: headless Chromium, {opts.answers} answers with the "
        f"keyboard at {opts.rate:g} keys/s on the news headlines (batches of 10, the next "
        "batch fetched ahead), in the text view and on a blocks card (spans_manual + choice + "
        "text_input), against a page that only swaps a text node on keydown, in the "
        "same browser and run. Times from the keydown event.\n\n"
        "| page | keydown -> new text in DOM p50 / p95 ms | keydown -> next frame p50 / p95 ms |\n"
        "|---|---:|---:|\n" + "\n".join(rows) + f"\n\n**{summary}.**\n",
    )


if __name__ == "__main__":
    main()
