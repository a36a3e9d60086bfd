"""The annotation page in a real Chromium, driven by Playwright, against a real server."""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recipe_runner import recipe
from tests.conftest import NEWS
from tests.test_server_api import count_mark, endless_mark, news_mark
from tests.webserver import LiveServer, live_server

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's 'chromium' package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open the page of a server (with a session); page errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(server: LiveServer, session: str | None = None) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(server.url + (f"/?session={session}" if session else "/"))
        page.wait_for_selector("#content .task-text, #content .task-html, #content .empty")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == []


def wait_for_rows(server: LiveServer, n: int, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = server.answers()
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def shown_text(page: Any) -> str:
    return str(page.inner_text("#content")).strip()


def press(page: Any, keys: str) -> None:
    """Answer like an annotator: each key once a task is on screen (a key pressed while the
    page waits for tasks answers nothing)."""
    for key in keys:
        page.wait_for_selector("#content .task-text, #content .task-html")
        page.keyboard.press("Space" if key == " " else key)


def news_texts(n: int) -> list[str]:
    with NEWS.open(encoding="utf-8") as lines:
        return [json.loads(next(lines))["text"] for _ in range(n)]


KEYS = {"a": "accept", "x": "reject", " ": "ignore"}


def test_annotate_twelve_headlines_undo_and_close(open_page: Any) -> None:
    texts = news_texts(13)
    pattern = ["a", "x", " ", "a", "a", "x", "a", " ", "a", "x", "a", "a"]
    with live_server(news_mark) as server:
        page = open_page(server, "kb")
        assert page.inner_text("#info-recipe") == "news.mark"
        assert page.inner_text("#info-dataset") == "news"
        assert page.inner_text("#info-session") == "news-kb"
        assert "The New York Times" in page.inner_text("#meta")
        for i, key in enumerate(pattern):
            assert shown_text(page) == texts[i]
            page.keyboard.press("Space" if key == " " else key)
        assert shown_text(page) == texts[12]
        # The first batch of ten went out by itself; two answers wait for the next batch.
        assert len(wait_for_rows(server, 10)) == 10
        page.keyboard.press("Backspace")
        assert shown_text(page) == texts[11]
        page.keyboard.press("Backspace")
        assert shown_text(page) == texts[10]
        page.keyboard.press("x")  # changed: was accept
        assert shown_text(page) == texts[11]
        assert "2" not in page.inner_text("#save-state") and "1" in page.inner_text("#save-state")
        page.close(run_before_unload=True)
        rows = wait_for_rows(server, 11)
        time.sleep(0.3)
        rows = server.answers()
    expected = {texts[i]: KEYS[k] for i, k in enumerate(pattern[:10])}
    expected[texts[10]] = "reject"
    assert {r["text"]: r["answer"] for r in rows} == expected
    assert len(rows) == 11
    assert {r["_session_id"] for r in rows} == {"news-kb"}


def test_a_reload_shows_the_unanswered_task_again(open_page: Any) -> None:
    texts = news_texts(5)
    with live_server(news_mark) as server:
        page = open_page(server, "re")
        press(page, "aax")
        assert shown_text(page) == texts[3]
        page.reload()
        page.wait_for_selector("#content .task-text")
        # The three answers went out as the page went away; the fourth task comes back first.
        assert shown_text(page) == texts[3]
        rows = wait_for_rows(server, 3)
        assert [r["answer"] for r in sorted(rows, key=lambda r: texts.index(r["text"]))] == [
            "accept",
            "accept",
            "reject",
        ]


def wait_for_progress(page: Any, text: str) -> None:
    page.wait_for_function(f"document.getElementById('progress-text').textContent === '{text}'")


def test_progress_bar_shows_percent_and_reaches_100(open_page: Any) -> None:
    with live_server(count_mark, {"n": 22, "batch_size": 5, "history_size": 3}) as server:
        page = open_page(server, "p")
        assert page.inner_text("#progress-text") == "0%"
        press(page, "aaaaa")
        wait_for_progress(page, "22%")  # 5 of 22, never rounded up
        assert page.get_attribute("#progress-bar", "aria-valuenow") == "22"
        assert page.locator("#history-list li").count() == 3  # history_size
        press(page, "x" * 17)
        # The last two answers (under a batch) go out when no tasks are left.
        wait_for_progress(page, "100%")
        assert shown_text(page).splitlines()[0] == "No tasks available."
        assert len(server.answers()) == 22


def test_instant_submit_updates_progress_after_every_answer(open_page: Any) -> None:
    with live_server(count_mark, {"n": 4, "instant_submit": True}) as server:
        page = open_page(server)
        press(page, "a")
        wait_for_progress(page, "25%")
        assert len(server.answers()) == 1
        press(page, "x")
        wait_for_progress(page, "50%")
        page.keyboard.press("Backspace")
        assert "already saved" in page.inner_text("#message")
        assert shown_text(page) == "task 2"


def test_progress_of_an_endless_stream_is_infinity(open_page: Any) -> None:
    with live_server(endless_mark) as server:
        page = open_page(server)
        assert page.inner_text("#progress-text") == "∞"
        page.keyboard.press("Control+s")
        press(page, "aaa")
        page.keyboard.press("Control+s")
        wait_for_rows(server, 3)
        page.wait_for_function("document.getElementById('save-state').textContent.includes('All')")
        assert page.inner_text("#progress-text") == "∞"


@recipe("learning")
def learning() -> dict[str, Any]:
    """A recipe whose update reports a loss falling as answers come, as a model's does."""
    seen = [0]

    def update(answers: list[dict[str, Any]]) -> float:
        seen[0] += len(answers)
        return 0.05 + 0.5 * math.exp(-seen[0] / 60)

    return {
        "dataset": "learning",
        "stream": [{"text": f"text {i}"} for i in range(300)],
        "view_id": "text",
        "update": update,
        "config": {"batch_size": 10},
    }


def test_the_forecast_of_answers_still_needed_is_shown_by_the_progress_bar(
    open_page: Any,
) -> None:
    with live_server(learning) as server:
        page = open_page(server)
        assert page.is_hidden("#progress-forecast")  # no losses yet, no forecast
        press(page, "a" * 80)
        page.wait_for_function(
            "!document.getElementById('progress-forecast').hidden", timeout=10_000
        )
        said = page.inner_text("#progress-forecast")
        assert re.fullmatch(r"about \d+ more answers( \(\d+–\d+\))?", said), said
        assert int(said.split()[1]) > 0


@recipe("scored")
def scored(instructions: str | None = None) -> dict[str, Any]:
    return {
        "dataset": "scored",
        "stream": [
            {"text": "Apple buys a start-up", "label": "TECH", "score": 0.3456},
            {"text": "No score here", "label": "TECH"},
        ],
        "view_id": "classification",
        "config": {"instructions": instructions},
    }


def test_score_under_the_text_and_help_with_instructions(open_page: Any, tmp_path: Path) -> None:
    guide = tmp_path / "guide.md"
    guide.write_text("# Guide\n\nAccept **tech** news.\n\n- one\n- <two>\n", encoding="utf-8")
    with live_server(scored, {"instructions": str(guide)}) as server:
        page = open_page(server)
        assert page.inner_text("#score") == "Score: 0.35"
        assert page.inner_text("#content .task-label") == "TECH"
        page.keyboard.press("h")
        assert page.is_visible("#help")
        assert page.inner_text("#instructions strong") == "tech"
        assert page.inner_text("#instructions li:last-child") == "<two>"
        page.keyboard.press("Escape")
        assert not page.is_visible("#help")
        page.keyboard.press("a")
        assert shown_text(page).endswith("No score here")
        assert not page.is_visible("#score")


def test_stats_count_the_session_and_the_dataset(open_page: Any) -> None:
    with live_server(count_mark, {"n": 20, "batch_size": 5, "show_stats": True}) as server:
        others = httpx.get(server.url + "/api/questions", params={"session": "other"}).json()
        answers = [{**t, "answer": "ignore"} for t in others["tasks"][:3]]
        httpx.post(server.url + "/api/answers", json={"session": "other", "answers": answers})
        page = open_page(server, "me")
        page.wait_for_function(
            "document.querySelector('#stats-dataset [data-k=total]').textContent === '3'"
        )
        press(page, "aaxa ")
        page.wait_for_function(
            "document.querySelector('#stats-session [data-k=total]').textContent === '5'"
        )

        def row(which: str) -> list[str]:
            return [page.inner_text(f"#stats-{which} [data-k={k}]") for k in KEYS.values()]

        assert row("session") == ["3", "1", "1"]
        assert row("dataset") == ["3", "1", "4"]
        assert page.inner_text("#stats-dataset [data-k=total]") == "8"


def test_a_ner_manual_span_made_with_the_mouse_is_saved_with_its_offsets(
    open_page: Any, tmp_path: Path
) -> None:
    from rr_core_recipes import ner_manual

    text = "How Silicon Valley Pushed Coding Into American Classrooms"
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps({"text": text}) + "\n", encoding="utf-8")
    kwargs = {"dataset": "ents", "spacy_model": "blank:en", "source": str(source)}
    with live_server(ner_manual, {**kwargs, "label": ["ORG", "PERSON"]}) as server:
        page = open_page(server)

        def centre(i: int) -> tuple[float, float]:
            box = page.locator(f".token[data-i='{i}']").bounding_box()
            return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

        page.mouse.move(*centre(1))
        page.mouse.down()
        page.mouse.move(*centre(2), steps=5)
        page.mouse.up()
        assert page.inner_text("#content mark").startswith("Silicon Valley")
        page.click(".token[data-i='4']")  # one token: Coding
        assert page.locator("#content mark").count() == 2
        page.click(".token[data-i='4']")  # a click on a span removes it
        assert page.locator("#content mark").count() == 1
        page.keyboard.press("2")
        assert "active" in (page.get_attribute(".label-button:nth-child(2)", "class") or "")
        page.click(".token[data-i='6']")
        page.click(".token[data-i='7']", modifiers=["Shift"])
        assert page.locator("#content mark").count() == 2
        page.keyboard.press("a")
        page.keyboard.press("Control+s")
        rows = wait_for_rows(server, 1)
    spans = [
        (s["start"], s["end"], s["label"], s["token_start"], s["token_end"])
        for s in rows[0]["spans"]
    ]
    assert spans == [
        (text.index("Silicon"), text.index(" Pushed"), "ORG", 1, 2),
        (text.index("American"), len(text), "PERSON", 6, 7),
    ]
    assert rows[0]["answer"] == "accept"


def test_choice_options_by_number_keys(open_page: Any, tmp_path: Path) -> None:
    from rr_core_recipes import textcat_manual

    source = tmp_path / "three.jsonl"
    source.write_text("".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(3)))
    kwargs = {"dataset": "cats", "source": str(source), "label": ["A", "B", "C"]}
    with live_server(textcat_manual, kwargs) as server:
        page = open_page(server)
        for keys in ("13a", "223a"):
            for key in keys:
                page.keyboard.press(key)
        page.keyboard.press("Control+s")
        rows = wait_for_rows(server, 2)
    assert {r["text"]: r["accept"] for r in rows} == {"t0": ["A", "C"], "t1": ["C"]}


def test_single_choice_keeps_one_option(open_page: Any, tmp_path: Path) -> None:
    from rr_core_recipes import textcat_manual

    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps({"text": "only"}) + "\n")
    kwargs = {"dataset": "one", "source": str(source), "label": ["A", "B"], "exclusive": True}
    with live_server(textcat_manual, kwargs) as server:
        page = open_page(server)
        page.keyboard.press("1")
        page.click(".option:nth-child(2)")
        assert page.locator(".option.selected").count() == 1
        page.keyboard.press("a")
        page.keyboard.press("Control+s")
        rows = wait_for_rows(server, 1)
    assert rows[0]["accept"] == ["B"]


@recipe("hostile")
def hostile() -> dict[str, Any]:
    return {
        "dataset": "hostile",
        "stream": [
            {"text": "<script>window.__pwned = 1</script><b>bold?</b>"},
            {"html": "<b>bold</b> from html"},
        ],
        "view_id": "text",
    }


def test_task_text_with_script_is_shown_as_text(open_page: Any) -> None:
    with live_server(hostile) as server:
        page = open_page(server)
        assert shown_text(page) == "<script>window.__pwned = 1</script><b>bold?</b>"
        assert page.locator("#content b").count() == 0
        assert page.evaluate("window.__pwned") is None
        page.keyboard.press("a")
        assert page.inner_text("#content b") == "bold"


@recipe("picky")
def picky() -> dict[str, Any]:
    def validate(answer: dict[str, Any]) -> None:
        if answer["answer"] == "accept":
            raise ValueError("Accepting is not allowed here: reject or ignore.")

    components = news_mark(dataset="picky", instant_submit=True)
    return {**components, "validate_answer": validate}


def test_validate_answer_message_is_shown_and_the_task_stays(open_page: Any) -> None:
    texts = news_texts(2)
    with live_server(picky) as server:
        page = open_page(server)
        page.keyboard.press("a")
        page.wait_for_selector("#message.invalid")
        assert "Accepting is not allowed" in page.inner_text("#message")
        assert shown_text(page) == texts[0]
        page.keyboard.press("x")
        assert shown_text(page) == texts[1]
        assert page.is_hidden("#message")
        rows = wait_for_rows(server, 1)
    assert [(r["text"], r["answer"]) for r in rows] == [(texts[0], "reject")]


# How soon each keypress shows the next task, told without a clock (the figures are
# bench/page_latency.py's): a keydown marks itself pending and queues a task that counts it as
# deferred if it still is then. The page's MutationObserver callback runs at the microtask
# checkpoint right after the keydown's handlers, before any queued task: a page that swaps in
# the next task within the handler clears the mark in time; one that waits for a fetch, a
# timer or a "Loading…" placeholder does not.
NEXT_TASK_PROBE = """
window.__keys = {pressed: 0, shown: 0, deferred: 0, loading: 0};
document.addEventListener('keydown', () => {
  window.__keys.pressed++;
  window.__pending = true;
  setTimeout(() => { if (window.__pending) window.__keys.deferred++; window.__pending = false; });
}, true);
new MutationObserver(() => {
  if (!window.__pending) return;
  window.__pending = false;
  window.__keys.shown++;
  if (document.getElementById('content').textContent.includes('Loading')) window.__keys.loading++;
}).observe(document.getElementById('content'),
           {childList: true, subtree: true, characterData: true});
"""


def test_each_keypress_shows_the_next_task_before_anything_else_runs(open_page: Any) -> None:
    with live_server(news_mark) as server:
        page = open_page(server, "fast")
        page.evaluate(NEXT_TASK_PROBE)
        texts = []
        for i in range(50):
            texts.append(shown_text(page))
            page.keyboard.press("a" if i % 3 else "x")
            page.wait_for_timeout(30)  # an annotator at 30 answers a second, still inhumanly fast
        page.wait_for_function("window.__keys.shown + window.__keys.deferred === 50")
        keys = page.evaluate("window.__keys")
        page.keyboard.press("Control+s")
        rows = wait_for_rows(server, 50)
    # Every keypress showed a new task within its own handler: never deferred, never a
    # "Loading…" placeholder, even while batches were being fetched and saved.
    assert keys == {"pressed": 50, "shown": 50, "deferred": 0, "loading": 0}
    assert len(set(texts)) == 50
    assert len(rows) == 50


def test_a_session_that_found_nothing_asks_again_and_gets_tasks_others_left(
    open_page: Any,
) -> None:
    # Session a holds all three tasks and goes quiet; once its claims expire, the page of
    # session b, which found nothing, finds them on its own, without a reload.
    timeout = 6  # long enough for b's page to load and find nothing on a loaded machine
    config = {"n": 3, "batch_size": 10, "claim_timeout": timeout}
    with live_server(count_mark, config) as server:
        first = open_page(server, "a")
        claimed = time.monotonic()
        assert shown_text(first) == "task 0"  # a holds all three
        second = open_page(server, "b")
        asked: list[str] = []
        second.on("request", lambda r: asked.append(r.url) if "api/questions" in r.url else None)
        second.clock.install()
        second.reload()
        second.wait_for_selector("#content .empty")
        assert time.monotonic() - claimed < timeout, "b's page loaded after a's claims expired"
        assert shown_text(second).splitlines() == [
            "No tasks available.",
            "Checking for more every 30 s.",
        ]
        # An installed fake clock still follows real time: stop it while a's claims expire, so
        # that the seconds spent waiting do not count towards b's 30 s.
        second.clock.pause_at(second.evaluate("Date.now()") + 50)
        time.sleep(max(0.0, claimed + timeout + 0.2 - time.monotonic()))  # a's claims expire
        asked_before = len(asked)
        second.clock.run_for(28_000)
        second.wait_for_timeout(500)  # real time: a request the timer sent would show by now
        assert len(asked) == asked_before  # not before 30 s
        assert second.locator("#content .task-text").count() == 0
        second.clock.run_for(3_000)
        second.wait_for_selector("#content .task-text")
        assert shown_text(second) in {"task 0", "task 1", "task 2"}
