"""The composable views without a browser: config checks, keymaps, themes, what headless runs
store for each view, the recipe's own JS/CSS resources and event hooks over the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from recipe_runner import recipe, run_headless
from recipe_runner.components import check_components
from recipe_runner.config import load_config
from recipe_runner.db import connect
from recipe_runner.errors import ConfigError, RecipeError, SourceError
from recipe_runner.keymap import resolve_keys
from recipe_runner.theme import recipe_css
from tests.view_recipes import (
    BLOCKS,
    PAGE_JS,
    news_blocks,
    news_custom,
    news_free_text,
    news_template,
)
from tests.webserver import live_server


def stored(dataset: str) -> list[dict[str, Any]]:
    db = connect(load_config())
    try:
        return list(db.iter_answers(dataset))
    finally:
        db.close()


# views and blocks -----------------------------------------------------------------------------
@pytest.mark.parametrize("view", ["blocks", "text_input", "spans_manual"])
def test_the_new_views_are_known(view: str) -> None:
    assert check_components("r", {"stream": [], "view_id": view}).view_id == view


def test_blocks_without_config_blocks_is_an_error_naming_the_key() -> None:
    @recipe("bare.blocks")
    def bare() -> dict[str, Any]:
        return {"dataset": None, "stream": [{"text": "t"}], "view_id": "blocks"}

    with pytest.raises(RecipeError, match=r"'bare.blocks'.*needs config 'blocks'"):
        run_headless(bare, show_progress=False)


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        (
            [{"view_id": "spans_manul"}],
            r"item 1 has view_id 'spans_manul'. Did you mean 'spans_manual'",
        ),
        ([{"view_id": "text"}, {"view_id": "blocks"}], r"item 2 has view_id 'blocks'"),
        (["text"], r"item 1 must be a dict"),
    ],
)
def test_a_bad_block_is_an_error_naming_it(blocks: list[Any], message: str) -> None:
    with pytest.raises(RecipeError, match=message):
        run_headless(news_blocks, dataset="x", blocks=blocks, show_progress=False)


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"blocks": [{"view_id": "text_input", "field_id": "text"}]}, "'blocks' item 1 'field_id'"),
        ({"field_id": "_task_hash"}, "config 'field_id' is '_task_hash'"),
        ({"field_id": "answer"}, "config 'field_id' is 'answer'"),
    ],
)
def test_a_field_id_that_would_overwrite_a_task_key_is_an_error(
    config: dict[str, Any], where: str
) -> None:
    with pytest.raises(RecipeError, match=f"{where}.*would overwrite a task key"):
        run_headless(news_blocks, dataset="x", show_progress=False, **config)


def test_headless_blocks_store_every_field_the_page_would() -> None:
    summary = run_headless(news_blocks, dataset="fb", n=3, show_progress=False)
    assert summary.counts["accept"] == 3
    rows = stored("fb")
    assert len(rows) == 3
    for row in rows:
        assert row["comment"] == ""  # the text_input block's field, empty as the page leaves it
        assert row["accept"] == []  # the choice block's list
        assert row["spans"] == []  # the span block's list: no spans marked
        assert row["_view_id"] == "blocks"
        assert "options" not in row  # the block's own options are config, not task keys


def test_headless_text_input_keeps_a_policys_text(tmp_path: Any) -> None:
    policy = tmp_path / "pol.py"
    policy.write_text(
        "def typed(task):\n"
        "    assert task['answer_text'] == ''\n"
        "    task['answer_text'] = 'typed: ' + task['text']\n"
        "    return {**task, 'answer': 'accept'}\n",
        encoding="utf-8",
    )
    run_headless(news_free_text, n=2, answer=f"{policy}:typed", show_progress=False)
    assert sorted(r["answer_text"] for r in stored("free")) == [
        "typed: Question 0",
        "typed: Question 1",
    ]


def test_html_template_needs_no_html_key_but_html_alone_does() -> None:
    run_headless(news_template, show_progress=False)
    assert len(stored("template")) == 3
    with pytest.raises(SourceError, match="no 'html', which the 'html' view needs"):
        run_headless(news_template, html_template=None, show_progress=False)


def test_a_block_that_sets_the_text_itself_needs_no_text_from_the_task() -> None:
    @recipe("own.text")
    def own_text() -> dict[str, Any]:
        return {
            "dataset": "own",
            "stream": [{"question": "q"}],
            "view_id": "blocks",
            "config": {"blocks": [{"view_id": "ner_manual", "text": "fixed"}, BLOCKS[2]]},
        }

    run_headless(own_text, show_progress=False)
    assert stored("own")[0]["comment"] == ""


# event hooks ----------------------------------------------------------------------------------
def test_event_hooks_must_be_a_dict_of_functions() -> None:
    base = {"stream": [], "view_id": "text"}
    with pytest.raises(RecipeError, match="'event_hooks' must be a dict"):
        check_components("r", {**base, "event_hooks": [print]})
    with pytest.raises(RecipeError, match="event hook 'x' must be callable"):
        check_components("r", {**base, "event_hooks": {"x": 1}})
    with pytest.raises(RecipeError, match="name 'a b' must be"):
        check_components("r", {**base, "event_hooks": {"a b": print}})


def test_event_hook_over_the_api() -> None:
    with live_server(news_custom) as server:
        url = server.url + "/api/events/suggest_topic"
        reply = httpx.post(url, json={"text": "Coding in Silicon Valley"}, timeout=10)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"accept": ["tech"], "recipe": "news.custom"}
        refused = httpx.post(url, json={"text": ""}, timeout=10)
        assert refused.status_code == 400
        assert refused.json()["detail"] == "Event hook 'suggest_topic': no text to look at"
        wrong = httpx.post(url, json={"txt": "x"}, timeout=10)
        assert wrong.status_code == 400 and "txt" in wrong.json()["detail"]
        unknown = httpx.post(server.url + "/api/events/nope", json={}, timeout=10)
        assert unknown.status_code == 404
        assert "no event hook 'nope' (its hooks: suggest_topic)" in unknown.json()["detail"]
        plain = httpx.post(url, content=b'{"text": "x"}', timeout=10)
        assert plain.status_code == 415
        listed = httpx.get(server.url + "/api/project", timeout=10).json()
        assert listed["event_hooks"] == ["suggest_topic"]


def test_recipe_js_and_css_are_resources_of_their_own() -> None:
    with live_server(news_custom) as server:
        script = httpx.get(server.url + "/recipe.js", timeout=10)
        style = httpx.get(server.url + "/recipe.css", timeout=10)
        page = httpx.get(server.url + "/", timeout=10).text
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.text == PAGE_JS
    assert style.headers["content-type"].startswith("text/css")
    assert "--large-text: 30px;" in style.text and "--accept: rgb(0, 128, 0);" in style.text
    assert "#card {\n  background: rgb(250, 240, 200);\n}" in style.text
    assert ".option.selected { outline" in style.text
    # The page loads them; it holds no recipe code or style inline.
    assert '<script src="recipe.js" defer></script>' in page
    assert PAGE_JS.strip()[:40] not in page


def test_without_custom_code_the_resources_are_empty() -> None:
    with live_server(news_free_text) as server:
        assert httpx.get(server.url + "/recipe.js", timeout=10).text == ""
        assert httpx.get(server.url + "/recipe.css", timeout=10).text == ""


# keys and themes ------------------------------------------------------------------------------
def test_default_keys() -> None:
    keys = resolve_keys({})
    assert keys["actions"] == {
        "a": "accept",
        "x": "reject",
        "space": "ignore",
        "backspace": "undo",
        "ctrl+s": "save",
        "h": "help",
        "?": "help",
    }
    assert keys["labels"] == {}


def test_keymap_and_keymap_by_label_are_normalised() -> None:
    keys = resolve_keys(
        {
            "keymap": {"accept": ["Enter", "A"], "save": "Cmd+S", "ignore": " "},
            "keymap_by_label": {"PERSON": "p", "ORG": "Left"},
        }
    )
    assert keys["actions"]["enter"] == keys["actions"]["a"] == "accept"
    assert keys["actions"]["ctrl+s"] == "save"
    assert keys["actions"]["space"] == "ignore"
    assert keys["labels"] == {"PERSON": "p", "ORG": "arrowleft"}


def test_digits_given_by_keymap_by_label_are_those_labels_keys() -> None:
    """Recipes written for Prodigy give the digits to labels; the page's numbering skips them."""
    keys = resolve_keys({"keymap_by_label": {"product": "1", "amount": "2", "greet": "q"}})
    assert keys["labels"] == {"product": "1", "amount": "2", "greet": "q"}
    assert load_config({"keymap_by_label": {"ORG": "1"}, "keymap": {"undo": "9"}})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"keymap": {"ignore": "a"}}, "key 'a' is mapped to both accept and ignore"),
        ({"keymap": {"accept": "h"}}, "key 'h' is mapped to both accept and help"),
        (
            {"keymap_by_label": {"ORG": "x"}},
            """key 'x' is mapped to both reject and label "ORG\"""",
        ),
        (
            {"keymap_by_label": {"ORG": "o", "PER": "O"}},
            """key 'o' is mapped to both label "ORG" and label "PER\"""",
        ),
        (
            {"keymap_by_label": {"ORG": "1", "PER": "1"}},
            """key '1' is mapped to both label "ORG" and label "PER\"""",
        ),
        (
            {"keymap_by_label": {"ORG": "A"}},
            """key 'a' is mapped to both accept and label "ORG\"""",
        ),
        ({"keymap_by_label": {"ORG": "Esc"}}, "key 'escape' is mapped to both close the help"),
        ({"keymap": {"undo": "escape"}}, "key 'escape' is mapped to both close the help"),
        ({"keymap": {"acept": "k"}}, "unknown action 'acept'. Did you mean 'accept'"),
        ({"keymap": {"accept": "entr"}}, "unknown key 'entr'.*Did you mean 'enter'"),
        ({"keymap": {"accept": 5}}, "a key must be a non-empty string"),
    ],
)
def test_bad_keymaps_are_errors_naming_both_meanings(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(config)


def test_a_keymap_clash_stops_a_headless_run_before_anything_is_saved() -> None:
    with pytest.raises(ConfigError, match="key 'enter' is mapped to both accept and reject"):
        run_headless(
            news_custom, keymap={"accept": "enter", "reject": "enter"}, show_progress=False
        )


def test_theme_keys_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'largetext'\. Did you mean 'largeText'"):
        load_config({"custom_theme": {"largetext": 20}})
    with pytest.raises(ConfigError, match="is not a CSS value"):
        load_config({"custom_theme": {"bgCard": "red; } body { display: none"}})
    with pytest.raises(ConfigError, match="without braces"):
        load_config({"card_css": "color: red } body {"})
    with pytest.raises(ConfigError, match="maps each label to a colour"):
        load_config({"custom_theme": {"labels": ["PERSON"]}})
    with pytest.raises(ConfigError, match=r"custom_theme\.labels\.ORG.*is not a CSS value"):
        load_config({"custom_theme": {"labels": {"ORG": "red } body { x: y"}}})
    labels = recipe_css({"custom_theme": {"labels": {"ORG": "#123456", "PERSON": "gold"}}})
    assert labels == ".lc0 { background: #123456; }\n.lc1 { background: gold; }\n"
    css = recipe_css({"custom_theme": {"cardMaxWidth": 900.5}, "card_css": "color: red"})
    assert ":root {\n  --card-max-width: 900.5px;\n}" in css
    assert "#card {\n  color: red\n}" in css


def test_project_sends_the_resolved_keys() -> None:
    with live_server(news_custom) as server:
        keys = httpx.get(server.url + "/api/project", timeout=10).json()["keys"]
    assert keys["actions"]["enter"] == "accept" and "a" not in keys["actions"]
    assert keys["labels"] == {"tech": "t"}
