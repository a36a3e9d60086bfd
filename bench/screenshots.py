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
    def make(view: str, tasks: list[dict[str, Any]], name: str = "", **config: Any) -> Any:
        def recipe_func() -> dict[str, Any]:
            return {
                "dataset": f"shots_{name or view}",
                "stream": tasks,
                "view_id": view,
                "config": {"show_stats": True, **config},
            }

        recipe_func.__name__ = f"demo.{name or view}"
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
        "html_template": make(
            "html",
            [fresh(t) for t in news],
            name="html_template",
            html_template=TEMPLATE,
            global_css=TEMPLATE_CSS,
        ),
        "spans_manual": make("spans_manual", [fresh(t) for t in news], labels=SPAN_LABELS),
        "text_input": make(
            "text_input",
            [{"text": t["text"]} for t in news],
            field_id="summary",
            field_label="Rewrite the headline in plain words",
            field_placeholder="Type here; keys typed in the field are text, escape leaves it",
            field_rows=3,
        ),
        "blocks": make(
            "blocks",
            [fresh(t) for t in news],
            labels=SPAN_LABELS,
            blocks=[
                {"view_id": "spans_manual"},
                {"view_id": "choice", "text": None, "options": options},
                {"view_id": "text_input", "field_id": "comment", "field_label": "Comment"},
            ],
        ),
    }


TEMPLATE = (
    "<h2 class='headline'>{{text}}</h2>"
    "<p class='byline'>from <strong>{{meta.source}}</strong>"
    "{{#meta.section}} · section {{meta.section}}{{/meta.section}}</p>"
)
TEMPLATE_CSS = ".headline { margin: 0 0 8px; } .byline { color: #6b6b7b; margin: 0; }"
SPAN_LABELS = ["PERSON", "ORG", "TOPIC"]


def drag(page: Any, first: int, last: int) -> None:
    def centre(i: int) -> tuple[float, float]:
        box = page.locator(f"#content .token[data-i='{i}']").bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    page.mouse.move(*centre(first))
    page.mouse.down()
    page.mouse.move(*centre(last), steps=3)
    page.mouse.up()


def mark_spans(page: Any) -> None:
    """Overlapping and nested spans over the headline on screen."""
    drag(page, 0, 3)
    page.keyboard.press("2")
    drag(page, 1, 2)
    page.keyboard.press("3")
    drag(page, 3, 6)


def interact(view: str, page: Any) -> None:
    """What an annotator does on the card before the shot."""
    if view == "choice":
        page.keyboard.press("2")
    if view == "ner_manual":
        page.click(".token[data-i='0']")
    if view == "spans_manual":
        mark_spans(page)
    if view == "text_input":
        page.fill(".field", "Online start-ups look for new ways to grow")
    if view == "review":
        page.locator(".review-version").nth(1).click()
    if view == "blocks":
        mark_spans(page)
        page.keyboard.press("5")
        page.fill(".field", "The company is named in the headline.")


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
                height = 760 if view == "blocks" else 640
                page = browser.new_page(viewport={"width": 1200, "height": height})
                page.goto(f"{server.url}/?session=ann")
                page.wait_for_selector("#content > :not(.empty)")
                for key in "axa":
                    page.keyboard.press(key)
                interact(view, page)
                page.mouse.move(1, 1)  # no hover highlight in the shot
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
