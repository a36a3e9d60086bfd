"""The composable views in a real Chromium against a real server: blocks, text_input,
spans_manual, html_template, the recipe's own JS / CSS / theme / keys and its event hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from recipe_runner import recipe
from tests.test_browser import browser, wait_for_rows  # noqa: F401 (a fixture)
from tests.view_recipes import (
    HOSTILE,
    news,
    news_blocks,
    news_custom,
    news_free_text,
    news_spans,
    news_template,
)
from tests.webserver import LiveServer, live_server

pytestmark = pytest.mark.browser

SHOWN = "#content > :not(.empty)"


@pytest.fixture
def open_view(browser: Any) -> Iterator[Callable[..., Any]]:  # noqa: F811
    """Open a server's page once its first card is drawn; page errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(server: LiveServer, session: str = "v") -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(f"{server.url}/?session={session}")
        page.wait_for_selector(SHOWN)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == []


def drag(page: Any, first: int, last: int) -> None:
    """Drag the mouse from token `first` to token `last` of the card's span view."""

    def centre(i: int) -> tuple[float, float]:
        box = page.locator(f"#content .token[data-i='{i}']").bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    page.mouse.move(*centre(first))
    page.mouse.down()
    page.mouse.move(*centre(last), steps=4)
    page.mouse.up()


def text_of(page: Any) -> str:
    return str(page.evaluate("window.rr.task.text"))


def tags(page: Any) -> list[str]:
    return [str(t) for t in page.locator("#content .span-tag").all_inner_texts()]


def uncovered(page: Any, selector: str) -> bool:
    """Whether every element of `selector` is visible and on top at its own centre."""
    return bool(
        page.evaluate(
            """(selector) => [...document.querySelectorAll(selector)].every((node) => {
                const box = node.getBoundingClientRect();
                if (!box.width || !box.height) return false;
                const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
                const top = document.elementFromPoint(x, y);
                return top === node || node.contains(top);
            })""",
            selector,
        )
    )


# blocks ---------------------------------------------------------------------------------------
def test_a_blocks_card_annotated_to_the_end_stores_every_field(open_view: Any) -> None:
    texts = [t["text"] for t in news(3)]
    typed = ["ax h?1 2 ok", "second: a,x", ""]
    with live_server(news_blocks, {"dataset": "fb", "n": 3}) as server:
        page = open_view(server)
        # Labels take keys 1-3 in the label bar, the choice block's options 4-6.
        assert page.locator("#label-bar kbd").all_inner_texts() == ["1", "2", "3"]
        assert page.locator(".block-choice .option kbd").all_inner_texts() == ["4", "5", "6"]
        assert page.locator(".block-choice .task-text").count() == 0  # its text is null
        assert page.inner_text(".field-label") == "Comment"

        # Task 1: two overlapping spans, an option, a comment full of shortcut keys.
        assert text_of(page) == texts[0]
        drag(page, 0, 2)
        page.keyboard.press("2")
        drag(page, 2, 3)
        assert tags(page) == ["PERSON ×", "ORG ×"]
        assert uncovered(page, "#content .span-tag")
        page.keyboard.press("5")
        page.click(".field")
        page.keyboard.type(typed[0])
        assert text_of(page) == texts[0]  # nothing answered, no option toggled, no help
        assert page.locator(".option.selected").count() == 1
        assert page.is_hidden("#help")
        page.keyboard.press("Escape")  # leaves the field: keys are keys again
        page.keyboard.press("a")
        assert text_of(page) == texts[1]

        # Undo brings task 1 back as it was answered.
        page.keyboard.press("Backspace")
        assert text_of(page) == texts[0]
        assert page.input_value(".field") == typed[0]
        assert tags(page) == ["PERSON ×", "ORG ×"]
        assert page.inner_text(".option.selected").endswith("Business")
        page.keyboard.press("a")

        # Task 2: one span made by click and shift-click, two options, rejected.
        assert text_of(page) == texts[1]
        page.keyboard.press("3")
        page.click("#content .token[data-i='1']")
        page.click("#content .token[data-i='3']", modifiers=["Shift"])
        page.keyboard.press("4")
        page.keyboard.press("6")
        page.fill(".field", typed[1])
        page.click("#card", position={"x": 4, "y": 4})  # out of the field by the mouse
        page.keyboard.press("x")

        # Task 3: ignored untouched.
        assert text_of(page) == texts[2]
        page.keyboard.press(" ")
        page.wait_for_selector("#content .empty")
        rows = wait_for_rows(server, 3)

    by_text = {r["text"]: r for r in rows}
    assert len(rows) == 3

    def spans(row: dict[str, Any]) -> list[tuple[int, int, str]]:
        return [(s["token_start"], s["token_end"], s["label"]) for s in row["spans"]]

    first, second, third = (by_text[t] for t in texts)
    assert (first["answer"], second["answer"], third["answer"]) == ("accept", "reject", "ignore")
    assert spans(first) == [(0, 2, "PERSON"), (2, 3, "ORG")]
    tokens = first["tokens"]
    offsets = [(s["start"], s["end"]) for s in first["spans"]]
    assert offsets == [
        (tokens[0]["start"], tokens[2]["end"]),
        (tokens[2]["start"], tokens[3]["end"]),
    ]
    assert spans(second) == [(1, 3, "TOPIC")]
    assert spans(third) == []
    assert (first["accept"], second["accept"], third["accept"]) == (
        ["business"],
        ["politics", "tech"],
        [],
    )
    assert [first["comment"], second["comment"], third["comment"]] == typed
    assert {r["_view_id"] for r in rows} == {"blocks"}


def test_every_view_as_a_block(open_view: Any) -> None:
    blocks = [
        {"view_id": "classification", "label": "TOPIC"},
        {"view_id": "ner", "spans": [{"start": 0, "end": 3, "label": "ORG"}]},
        {"view_id": "ner_manual"},
        {"view_id": "html", "html_template": "<p class='tpl'>{{meta.source}}</p>"},
        {"view_id": "text", "text": "A block's own text"},
        {
            "view_id": "choice",
            "text": None,
            "options": [{"id": 1, "text": "one"}, {"id": 2, "text": "two"}],
            "choice_style": "single",
        },
        {"view_id": "text_input"},
    ]
    with live_server(news_blocks, {"dataset": "all", "n": 1, "blocks": blocks}) as server:
        page = open_view(server)
        sections = page.eval_on_selector_all("#content .block", "n => n.map(b => b.className)")
        assert sections == [f"block block-{b['view_id']}" for b in blocks]
        assert page.inner_text(".block-classification .task-label") == "TOPIC"
        assert page.inner_text(".block-ner mark").startswith(text_of(page)[:3])
        assert page.inner_text(".block-html .tpl") == "The New York Times"
        assert page.inner_text(".block-text") == "A block's own text"
        page.click(".block-ner_manual .token[data-i='0']")  # PERSON, the active label
        page.keyboard.press("5")  # labels take 1-3, the options 4 and 5
        page.keyboard.press("4")  # single choice, as the block says: 4 replaces 5
        page.fill(".field", "all there")
        page.keyboard.press("Escape")
        page.keyboard.press("a")
        rows = wait_for_rows(server, 1)
    row = rows[0]
    assert [(s["token_start"], s["label"]) for s in row["spans"]] == [(0, "PERSON")]
    assert (row["accept"], row["user_input"], row["answer"]) == ([1], "all there", "accept")
    assert "label" not in row  # the classification block's label is the block's, not the task's


# spans_manual ---------------------------------------------------------------------------------
def test_spans_manual_overlapping_and_nested_spans_each_visible_and_removable(
    open_view: Any,
) -> None:
    with live_server(news_spans, {"n": 1}) as server:
        page = open_view(server)
        drag(page, 0, 4)  # PERSON over 0-4
        page.keyboard.press("2")
        drag(page, 1, 2)  # ORG nested inside it
        page.keyboard.press("3")
        drag(page, 4, 6)  # TOPIC crossing its end
        page.keyboard.press("1")
        page.click("#content .token[data-i='1']")  # PERSON on one token, nested twice
        assert sorted(tags(page)) == ["ORG ×", "PERSON ×", "PERSON ×", "TOPIC ×"]
        assert uncovered(page, "#content .span-tag")
        # Four spans need three lanes under token 1 (it is in three of them).
        assert page.locator("#content .token[data-i='1'] + .lanes .bar").count() == 3
        # Removing the nested ORG (by its label) keeps the others.
        page.click("#content .span-tag:text('ORG ×')")
        assert sorted(tags(page)) == ["PERSON ×", "PERSON ×", "TOPIC ×"]
        # A span's bar removes it too.
        page.click("#content .token[data-i='6'] + .lanes .bar")
        assert sorted(tags(page)) == ["PERSON ×", "PERSON ×"]
        page.keyboard.press("a")
        page.wait_for_selector("#content .empty")
        rows = wait_for_rows(server, 1)
    spans = [(s["token_start"], s["token_end"], s["label"]) for s in rows[0]["spans"]]
    assert spans == [(0, 4, "PERSON"), (1, 1, "PERSON")]
    text = rows[0]["text"]
    assert all(text[s["start"] : s["end"]] for s in rows[0]["spans"])


def test_labels_take_the_colours_of_the_theme(open_view: Any) -> None:
    theme = {"labels": {"ORG": "#123456", "TOPIC": "rgb(10, 200, 30)"}}
    with live_server(news_spans, {"n": 1, "custom_theme": theme}) as server:
        page = open_view(server)
        drag(page, 0, 1)
        page.keyboard.press("2")  # ORG
        drag(page, 3, 4)
        page.keyboard.press("1")  # PERSON: no colour of its own
        colour = "(node) => getComputedStyle(node).backgroundColor"
        bars = page.locator("#content .lanes .bar")
        found = {bars.nth(i).evaluate(colour) for i in range(bars.count())}
        assert found == {"rgb(18, 52, 86)", "rgb(255, 224, 138)"}  # ORG's, and the first class's
        buttons = page.locator(".label-button")
        assert [buttons.nth(i).evaluate(colour) for i in range(3)] == [
            "rgb(255, 224, 138)",
            "rgb(18, 52, 86)",
            "rgb(10, 200, 30)",
        ]


@recipe("accents.spans")
def accents_spans() -> dict[str, Any]:
    return {
        "dataset": "accents",
        "stream": [{"text": "Grüße aus Zürich, naïve café"}],
        "view_id": "spans_manual",
        "config": {"labels": ["PLACE"]},
    }


def test_words_of_any_script_are_one_token(open_view: Any) -> None:
    with live_server(accents_spans) as server:
        page = open_view(server)
        tokens = page.locator("#content .token").all_inner_texts()
        assert tokens == ["Grüße", "aus", "Zürich", ",", "naïve", "café"]
        page.click("#content .token[data-i='2']")
        page.keyboard.press("a")
        rows = wait_for_rows(server, 1)
    span = rows[0]["spans"][0]
    assert rows[0]["text"][span["start"] : span["end"]] == "Zürich"


# text_input -----------------------------------------------------------------------------------
def test_typing_in_text_input_never_triggers_a_shortcut(open_view: Any) -> None:
    config = {"field_autofocus": True, "field_rows": 3, "field_placeholder": "Type here"}
    typed = "a x  h ? 1 9\nnew line"
    with live_server(news_free_text, {"n": 2, **config}) as server:
        page = open_view(server)
        assert page.get_attribute("textarea.field", "placeholder") == "Type here"
        page.wait_for_function("document.activeElement.classList.contains('field')")
        page.keyboard.type(typed)
        page.keyboard.press("Backspace")  # deletes a character, undoes nothing
        page.keyboard.press("Control+s")  # ctrl combinations still act: save
        assert page.input_value(".field") == typed[:-1]
        assert page.evaluate("window.rr.task.answer_text") == typed[:-1]
        assert page.is_hidden("#help")
        assert server.answers() == []
        page.keyboard.press("Escape")
        page.keyboard.press("a")
        # The next task's field has the focus again, empty.
        page.wait_for_function("window.rr.task.text === 'Question 1'")
        page.wait_for_function("document.activeElement.classList.contains('field')")
        assert page.input_value(".field") == ""
        page.keyboard.press("Escape")
        page.keyboard.press("x")
        rows = wait_for_rows(server, 2)
    assert {r["text"]: (r["answer"], r["answer_text"]) for r in rows} == {
        "Question 0": ("accept", typed[:-1]),
        "Question 1": ("reject", ""),
    }


def test_text_input_suggestions_and_label(open_view: Any) -> None:
    with live_server(news_free_text, {"n": 1, "field_suggestions": ["yes", "no"]}) as server:
        page = open_view(server)
        assert page.inner_text("label.field-label") == "Your answer"
        list_id = page.get_attribute("input.field", "list")
        values = page.eval_on_selector_all(f"#{list_id} option", "nodes => nodes.map(n => n.value)")
        assert values == ["yes", "no"]


# html_template --------------------------------------------------------------------------------
def test_html_template_escapes_what_it_inserts(open_view: Any) -> None:
    with live_server(news_template) as server:
        page = open_view(server)
        assert page.inner_text(".tpl-title") == HOSTILE[0]
        assert page.inner_text(".tpl-link") == HOSTILE[1]
        assert page.get_attribute(".tpl-link", "href") == "https://example.org/a?x=1&y=2"
        assert page.locator("#content script, #content img").count() == 0
        assert page.inner_text(".tpl-none") == "no tags"
        page.keyboard.press("a")
        page.wait_for_selector(".tpl-tag")
        assert page.locator(".tpl-tag").all_inner_texts() == ["one", "<two>"]
        assert page.locator(".tpl-none").count() == 0
        page.keyboard.press("a")
        page.wait_for_function("window.rr.task.text === 'javascript link'")
        # A javascript: URL put in by a value is dropped; clicking the link runs nothing.
        assert page.get_attribute(".tpl-link", "href") is None
        page.click(".tpl-link")
        assert page.evaluate("window.__pwned") is None
        page.keyboard.press("a")
        rows = wait_for_rows(server, 3)
    assert len(rows) == 3


def test_html_template_in_a_block_beside_a_text_input(open_view: Any) -> None:
    blocks = [
        {"view_id": "html", "html_template": "<p class='tpl'>{{text}} · {{meta.source}}</p>"},
        {"view_id": "text_input", "field_id": "note"},
    ]
    with live_server(news_blocks, {"dataset": "b2", "n": 1, "blocks": blocks}) as server:
        page = open_view(server)
        first = news(1)[0]
        assert page.inner_text(".tpl") == f"{first['text']} · {first['meta']['source']}"
        assert page.is_hidden("#label-bar")  # no span block: no label bar
        page.fill(".field", "fine")
        page.keyboard.press("Escape")
        page.keyboard.press("a")
        rows = wait_for_rows(server, 1)
    assert rows[0]["note"] == "fine"


# the recipe's own code, style and keys --------------------------------------------------------
def test_custom_code_style_theme_keys_and_an_event_hook(open_view: Any) -> None:
    texts = [t["text"] for t in news(3)]
    with live_server(news_custom) as server:
        page = open_view(server)
        assert page.evaluate("window.__mounted") == 1
        style = "([selector, prop]) => getComputedStyle(document.querySelector(selector))[prop]"
        assert page.evaluate(style, ["#card", "backgroundColor"]) == "rgb(250, 240, 200)"
        assert page.evaluate(style, ["#content .task-text", "fontSize"]) == "30px"
        assert page.evaluate(style, ["#buttons .accept", "backgroundColor"]) == "rgb(0, 128, 0)"
        # Keys from keymap and keymap_by_label, on the buttons, the options and in the help.
        assert page.locator(".option kbd").all_inner_texts() == ["1", "2", "t"]
        assert page.inner_text("#buttons .accept kbd") == "enter"
        page.keyboard.press("h")
        help_text = page.inner_text("#help-keys")
        assert "enter\taccept" in help_text and "t\tchoose tech" in help_text
        assert "a\taccept" not in help_text
        page.keyboard.press("Escape")
        page.keyboard.press("a")  # no longer a key
        assert text_of(page) == texts[0]
        page.keyboard.press("t")
        assert page.evaluate(style, [".option.selected", "outlineColor"]) == "rgb(255, 0, 0)"
        page.keyboard.press("Enter")
        assert text_of(page) == texts[1]
        # The page's code asks the recipe's event hook and updates the task with its reply.
        page.click("#suggest")
        page.wait_for_selector(".option.selected")
        assert page.evaluate("window.rr.task.suggested_by") == "news.custom"
        page.keyboard.press("r")
        page.keyboard.press("i")
        page.wait_for_selector("#content .empty")
        rows = wait_for_rows(server, 3)
    by_text = {r["text"]: r for r in rows}
    assert (by_text[texts[0]]["answer"], by_text[texts[0]]["accept"]) == ("accept", ["tech"])
    assert by_text[texts[1]]["answer"] == "reject"
    assert by_text[texts[1]]["suggested_by"] == "news.custom"
    expected = "tech" if "Silicon" in texts[1] or "Coding" in texts[1] else "politics"
    assert by_text[texts[1]]["accept"] == [expected]
    assert by_text[texts[2]]["answer"] == "ignore"


@recipe("news.spans_and_topic_keys")
def news_spans_and_topic_keys(**config: Any) -> dict[str, Any]:
    """The shape of a Prodigy blocks recipe: spans and a multiple choice per headline, the
    options added to each task by the stream, and `keymap_by_label` handing out digits."""

    def with_options(tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for task in tasks:
            yield {**task, "options": [{"id": o, "text": o.title()} for o in TOPICS]}

    return {
        "dataset": "keyed",
        "stream": with_options([{"text": t["text"]} for t in news(2)]),
        "view_id": "blocks",
        "config": {
            "labels": ["PERSON", "ORG", "PLACE"],
            "blocks": [{"view_id": "spans_manual"}, {"view_id": "choice", "text": None}],
            "choice_style": "multiple",
            # The page shows politics, business, tech; their keys run the other way.
            "keymap_by_label": {"tech": "1", "politics": "2", "business": "3"}
            | {"PERSON": "q", "PLACE": "5"},
            **config,
        },
    }


TOPICS = ["politics", "business", "tech"]


def test_digits_given_by_keymap_by_label_choose_their_own_items(open_view: Any) -> None:
    texts = [t["text"] for t in news(2)]
    with live_server(news_spans_and_topic_keys) as server:
        page = open_view(server)
        # Each item's own key on its badge; ORG, without one, takes the first digit left (4).
        assert page.locator("#label-bar kbd").all_inner_texts() == ["q", "4", "5"]
        assert page.locator(".option kbd").all_inner_texts() == ["2", "3", "1"]
        page.keyboard.press("h")
        help_text = page.inner_text("#help-keys")
        assert "1\tchoose tech" in help_text and "q\tchoose PERSON" in help_text
        assert "4 6 7 8 9\tchoose an option / a label in turn" in help_text
        page.keyboard.press("Escape")

        def chosen() -> list[str]:
            return [str(t).split()[-1] for t in page.locator(".option.selected").all_inner_texts()]

        page.keyboard.press("1")
        assert chosen() == ["Tech"]
        page.keyboard.press("3")
        assert chosen() == ["Business", "Tech"]
        page.keyboard.press("4")  # ORG, not an option
        assert page.inner_text("#label-bar .active").endswith("ORG")
        drag(page, 0, 1)
        assert tags(page) == ["ORG ×"]
        page.keyboard.press("a")
        assert text_of(page) == texts[1]
        page.keyboard.press("2")
        assert chosen() == ["Politics"]
        page.keyboard.press("a")
        page.wait_for_selector("#content .empty")
        rows = wait_for_rows(server, 2)
    by_text = {r["text"]: r for r in rows}
    assert sorted(by_text[texts[0]]["accept"]) == ["business", "tech"]
    assert [s["label"] for s in by_text[texts[0]]["spans"]] == ["ORG"]
    assert by_text[texts[1]]["accept"] == ["politics"]
