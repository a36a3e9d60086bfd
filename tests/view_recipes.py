"""Recipes of the composable views (blocks, text_input, spans_manual, html_template, custom code
and keys), shared by the API, headless and browser tests and by the benchmarks."""

from __future__ import annotations

import json
from typing import Any

from recipe_runner import recipe
from tests.conftest import NEWS

LABELS = ["PERSON", "ORG", "TOPIC"]
OPTIONS = [
    {"id": "politics", "text": "Politics"},
    {"id": "business", "text": "Business"},
    {"id": "tech", "text": "Technology"},
]
BLOCKS = [
    {"view_id": "spans_manual"},
    {"view_id": "choice", "text": None, "options": OPTIONS},
    {"view_id": "text_input", "field_id": "comment", "field_label": "Comment"},
]
HOSTILE = [
    "<script>window.__pwned = 1</script>",
    '<img src="x" onerror="window.__pwned = 2">',
]


def news(n: int) -> list[dict[str, Any]]:
    with NEWS.open(encoding="utf-8") as lines:
        return [json.loads(next(lines)) for _ in range(n)]


@recipe("news.blocks")
def news_blocks(dataset: str = "feedback", n: int = 3, **config: Any) -> dict[str, Any]:
    """Spans, a topic and a comment for each headline, in one card."""
    tasks = [{"text": t["text"], "meta": t["meta"]} for t in news(n)]
    return {
        "dataset": dataset,
        "stream": tasks,
        "view_id": "blocks",
        "config": {"blocks": BLOCKS, "labels": LABELS, "batch_size": 10, **config},
    }


@recipe("news.spans")
def news_spans(n: int = 2, **config: Any) -> dict[str, Any]:
    """Overlapping spans over headlines."""
    return {
        "dataset": "spans",
        "stream": [{"text": t["text"]} for t in news(n)],
        "view_id": "spans_manual",
        "config": {"labels": LABELS, **config},
    }


@recipe("news.free_text")
def news_free_text(n: int = 2, **config: Any) -> dict[str, Any]:
    """A free-text answer per task (the text_input view alone)."""
    return {
        "dataset": "free",
        "stream": [{"text": f"Question {i}"} for i in range(n)],
        "view_id": "text_input",
        "config": {"field_id": "answer_text", "field_label": "Your answer", **config},
    }


TEMPLATE = (
    '<article class="tpl"><h2 class="tpl-title">{{text}}</h2>'
    '<a class="tpl-link" href="{{meta.url}}">{{meta.source}}</a>'
    '{{#meta.tags}}<span class="tpl-tag">{{.}}</span>{{/meta.tags}}'
    '{{^meta.tags}}<em class="tpl-none">no tags</em>{{/meta.tags}}</article>'
)


@recipe("news.template")
def news_template(**config: Any) -> dict[str, Any]:
    """The html view over html_template, with hostile texts."""
    stream = [
        {
            "text": HOSTILE[0],
            "meta": {"source": HOSTILE[1], "url": "https://example.org/a?x=1&y=2"},
        },
        {"text": "Tags", "meta": {"source": "s", "url": "/b", "tags": ["one", "<two>"]}},
        {"text": "javascript link", "meta": {"source": "s", "url": "javascript:window.__pwned=3"}},
    ]
    return {
        "dataset": "template",
        "stream": stream,
        "view_id": "html",
        "config": {"html_template": TEMPLATE, **config},
    }


def suggest_topic(controller: Any, text: str = "") -> dict[str, Any]:
    """An event hook: a topic for the text, and which recipe answered."""
    if not text:
        raise ValueError("no text to look at")
    topic = "tech" if "Silicon" in text or "Coding" in text else "politics"
    return {"accept": [topic], "recipe": controller.recipe}


PAGE_JS = """
document.addEventListener('rrmount', () => { window.__mounted = (window.__mounted || 0) + 1; });
document.addEventListener('rrtask', (event) => {
  const button = document.createElement('button');
  button.id = 'suggest';
  button.textContent = 'Suggest';
  button.addEventListener('click', async () => {
    const reply = await window.rr.event('suggest_topic', {text: window.rr.task.text});
    window.rr.update({accept: reply.accept, suggested_by: reply.recipe});
  });
  document.getElementById('content').prepend(button);
});
"""


@recipe("news.custom")
def news_custom(**config: Any) -> dict[str, Any]:
    """Custom JS, CSS, theme, keys and an event hook over a choice view."""
    tasks = [{"text": t["text"], "options": OPTIONS} for t in news(3)]
    return {
        "dataset": "custom",
        "stream": tasks,
        "view_id": "choice",
        "event_hooks": {"suggest_topic": suggest_topic},
        "config": {
            "javascript": PAGE_JS,
            "global_css": ".option.selected { outline: 3px solid rgb(255, 0, 0); }",
            "card_css": {"background": "rgb(250, 240, 200)"},
            "custom_theme": {"largeText": 30, "colorAccept": "rgb(0, 128, 0)"},
            "keymap": {"accept": ["enter"], "reject": "r", "ignore": ["i"]},
            "keymap_by_label": {"tech": "t"},
            **config,
        },
    }
