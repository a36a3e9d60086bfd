"""Screenshots of each view of the web page, for the docs: docs/screenshots/VIEW.png.

Run: python bench/screenshots.py [--out docs/screenshots] [--only review,text]

Each view is served by a real server on a free loopback port, over the repo's public data, and
shot in Chromium (Debian's, at /usr/bin/chromium) after a few answers, with show_stats on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "data" / "prodigy_examples"
NEWS = EXAMPLES / "news_headlines.jsonl"
NER = EXAMPLES / "annotated_news_headlines-ORG-PERSON-LOCATION-ner.jsonl"
ISSUES = EXAMPLES / "annotated_github-issues-DOCUMENTATION-textcat.jsonl"
LABELS = ["ORG", "PERSON", "LOCATION"]


def read(path: Path, n: int) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(next(lines)) for _ in range(n)]


def fresh(task: dict[str, Any]) -> dict[str, Any]:
    """A task as a source gives it: without a previous answer or its hashes."""
    keep = ("text", "html", "meta", "label", "spans", "tokens", "options")
    return {k: v for k, v in task.items() if k in keep}


def recipes() -> dict[str, Any]:
    def make(view: str, tasks: list[dict[str, Any]], **config: Any) -> Any:
        def recipe_func() -> dict[str, Any]:
            return {
                "dataset": f"shots_{view}",
                "stream": tasks,
                "view_id": view,
                "config": {"show_stats": True, **config},
            }

        recipe_func.__name__ = f"demo.{view}"
        return recipe_func

    news = read(NEWS, 12)
    issues = [
        {**fresh(t), "score": t["meta"].get("score")} for t in read(ISSUES, 12) if t.get("meta")
    ]
    options = [{"id": label, "text": label.title()} for label in [*LABELS, "OTHER"]]
    html = [
        {
            "html": f"<h2>{t['text']}</h2><p><em>{t['meta']['source']}</em> · headline {i + 1}</p>",
            "meta": t["meta"],
        }
        for i, t in enumerate(news)
    ]
    reviewed = []
    for t in read(NER, 40):
        spans = t.get("spans") or []
        if len(spans) < 2:
            continue
        task = {k: v for k, v in fresh(t).items() if k != "spans"}
        versions = [
            {**task, "spans": spans, "answer": "accept", "sessions": ["news-ann", "news-bob"]},
            {**task, "spans": spans[1:], "answer": "accept", "sessions": ["news-cat"]},
        ]
        reviewed.append(
            {**task, "spans": spans, "versions": versions, "review_view_id": "ner_manual"}
        )
    return {
        "review": make("review", reviewed[:12], labels=LABELS),
        "text": make("text", [fresh(t) for t in news]),
        "classification": make("classification", issues, labels=["DOCUMENTATION"]),
        "choice": make("choice", [{**fresh(t), "options": options} for t in news]),
        "ner_manual": make("ner_manual", [fresh(t) for t in read(NER, 12)], labels=LABELS),
        "ner": make("ner", [fresh(t) for t in read(NER, 40) if t.get("spans")], labels=LABELS),
        "html": make("html", html),
    }


def shoot(out: Path, only: list[str] | None = None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(REPO))
    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
    from tests.webserver import live_server

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for view, func in recipes().items():
            if only and view not in only:
                continue
            with live_server(func) as server:
                page = browser.new_page(viewport={"width": 1200, "height": 640})
                page.goto(f"{server.url}/?session=ann")
                page.wait_for_selector("#content .task-text, #content .task-html")
                for key in "axa":
                    page.keyboard.press(key)
                if view == "choice":
                    page.keyboard.press("2")
                if view == "ner_manual":
                    page.click(".token[data-i='0']")
                if view == "review":
                    page.locator(".review-version").nth(1).click()
                page.keyboard.press("Control+s")
                page.wait_for_function(
                    "document.getElementById('save-state').textContent.includes('All')"
                )
                path = out / f"{view}.png"
                page.screenshot(path=str(path))
                written.append(path)
                page.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--only", default=None, help="Only these views, comma-separated.")
    opts = parser.parse_args()
    home = tempfile.mkdtemp(prefix="rr-shots-")
    for name in [n for n in os.environ if n.startswith("RR_")]:
        del os.environ[name]
    os.environ["RR_HOME"] = home
    os.chdir(home)
    only = opts.only.split(",") if opts.only else None
    for path in shoot(opts.out.resolve(), only):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    main()
