"""Teams in the web view: `allowed_sessions` (the API and the page) and the review view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import srsly

from recipe_runner.config import load_config
from tests.test_browser import browser, open_page  # noqa: F401  (fixtures)
from tests.test_server_api import news_mark
from tests.webserver import live_server


def session_scoped(url: str, session: str | None) -> list[httpx.Response]:
    """One request to every session-scoped endpoint."""
    params = {} if session is None else {"session": session}
    body = {"session": session, "answers": [{"text": "x", "answer": "accept"}]}
    return [
        httpx.get(url + "/api/questions", params=params, timeout=10),
        httpx.post(url + "/api/answers", json=body, timeout=10),
        httpx.get(url + "/api/stats", params=params, timeout=10),
        httpx.get(url + "/api/progress", params=params, timeout=10),
        # Not the plain query the fast path reads: FastAPI answers it, the same way.
        httpx.get(url + "/api/questions", params={**params, "fresh": "true", "x": "1"}, timeout=10),
    ]


def test_allowed_sessions_refuse_every_other_session() -> None:
    with live_server(news_mark, {"allowed_sessions": [" alice ", "bob"]}) as server:
        for name in ("mallory", "Alice", None):
            for response in session_scoped(server.url, name):
                assert response.status_code == 403, (name, response.request.url)
                assert (
                    "not allowed" in response.json()["detail"]
                    or "session name" in (response.json()["detail"])
                )
        assert server.answers() == []  # nothing stored for them
        assert server.controller.claims.count("") == 0  # nothing served to them
        ok = httpx.get(server.url + "/api/questions", params={"session": "alice"}, timeout=10)
        assert ok.status_code == 200 and len(ok.json()["tasks"]) == 10
        answers = [{**t, "answer": "accept"} for t in ok.json()["tasks"]]
        saved = httpx.post(
            server.url + "/api/answers", json={"session": "alice", "answers": answers}, timeout=10
        )
        assert saved.json()["saved"] == 10
        openapi = httpx.get(server.url + "/openapi.json", timeout=10).json()
        assert "403" in openapi["paths"]["/api/questions"]["get"]["responses"]


def test_allowed_sessions_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_ALLOWED_SESSIONS", " alice, bob ,")
    assert load_config()["allowed_sessions"] == ["alice", "bob"]
    with live_server(news_mark) as server:
        assert session_scoped(server.url, "carol")[0].status_code == 403
        assert session_scoped(server.url, "bob")[0].status_code == 200


@pytest.mark.browser
def test_a_refused_session_sees_why_on_the_page(open_page: Any) -> None:  # noqa: F811
    with live_server(news_mark, {"allowed_sessions": ["alice"]}) as server:
        page = open_page(server, "mallory")
        page.wait_for_selector("#content .refused")
        assert "Session 'mallory' is not allowed here" in page.inner_text("#content")
        page.keyboard.press("a")
        assert server.answers() == []
        unnamed = open_page(server)
        unnamed.wait_for_selector("#content .refused")
        assert "needs your session name" in unnamed.inner_text("#content")


@pytest.mark.browser
def test_review_view_shows_versions_and_saves_the_chosen_one(
    open_page: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rr_core_recipes.review import review

    db_path = tmp_path / "team.db"
    monkeypatch.setenv("RR_DB_URL", f"sqlite:///{db_path}")
    options = [{"id": "SPORT", "text": "Sport"}, {"id": "POLITICS", "text": "Politics"}]
    rows = [
        {"text": "Match report", "options": options, "accept": ["SPORT"], "answer": "accept",
         "_session_id": "a-ann", "_view_id": "choice"},
        {"text": "Match report", "options": options, "accept": ["POLITICS"], "answer": "accept",
         "_session_id": "a-bob", "_view_id": "choice"},
        {"text": "Match report", "options": options, "accept": ["POLITICS"], "answer": "accept",
         "_session_id": "a-cat", "_view_id": "choice"},
    ]  # fmt: skip
    srsly.write_jsonl(tmp_path / "a.jsonl", rows)
    from recipe_runner.transfer import import_answers

    import_answers("a", tmp_path / "a.jsonl")
    with live_server(review, {"dataset": "final", "in_sets": "a"}) as server:
        page = open_page(server, "judge")
        page.wait_for_selector(".review-version")
        boxes = page.query_selector_all(".review-version")
        assert len(boxes) == 2
        # Most sessions first, with who gave it.
        assert "a-bob, a-cat" in boxes[0].inner_text() and "Politics" in boxes[0].inner_text()
        assert "a-ann" in boxes[1].inner_text() and "Sport" in boxes[1].inner_text()
        boxes[1].click()  # the reviewer sides with ann
        page.wait_for_selector(".review-version.chosen >> text=a-ann")
        page.keyboard.press("a")
        page.click("button.save")
        deadline = 50
        while not server.answers() and deadline:
            page.wait_for_timeout(100)
            deadline -= 1
        (saved,) = server.answers()
    assert saved["accept"] == ["SPORT"] and saved["answer"] == "accept"
    assert [v["sessions"] for v in saved["versions"]] == [["a-bob", "a-cat"], ["a-ann"]]
    assert saved["_session_id"] == "final-judge"


@pytest.mark.browser
def test_review_of_ner_manual_puts_the_chosen_spans_in_the_editor(
    open_page: Any,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rr_core_recipes.review import review

    monkeypatch.setenv("RR_DB_URL", f"sqlite:///{tmp_path / 'ner.db'}")
    text = "Alice met Bob in Paris"
    tokens = [
        {"text": w, "start": text.index(w), "end": text.index(w) + len(w), "id": i}
        for i, w in enumerate(text.split())
    ]
    alice = {"start": 0, "end": 5, "label": "PERSON", "token_start": 0, "token_end": 0}
    paris = {"start": 17, "end": 22, "label": "PLACE", "token_start": 4, "token_end": 4}
    base = {"text": text, "tokens": tokens, "answer": "accept", "_view_id": "ner_manual"}
    rows = [
        {**base, "spans": [alice], "_session_id": "n-ann"},
        {**base, "spans": [alice], "_session_id": "n-bob"},
        {**base, "spans": [alice, paris], "_session_id": "n-cat"},
    ]
    srsly.write_jsonl(tmp_path / "n.jsonl", rows)
    from recipe_runner.transfer import import_answers

    import_answers("n", tmp_path / "n.jsonl")
    with live_server(review, {"dataset": "n_final", "in_sets": "n"}) as server:
        page = open_page(server, "judge")
        page.wait_for_selector(".review-version")
        editor = page.locator(".review-editor")
        assert "PLACE" not in editor.inner_text()  # the majority version first: Alice only
        assert page.locator("#label-bar").is_visible()  # labels to mark more spans with
        page.locator(".review-version").nth(1).click()
        page.wait_for_selector(".review-editor >> text=PLACE")
        page.keyboard.press("a")
        page.click("button.save")
        for _ in range(50):
            if server.answers():
                break
            page.wait_for_timeout(100)
        (saved,) = server.answers()
    assert [(s["start"], s["end"], s["label"]) for s in saved["spans"]] == [
        (0, 5, "PERSON"),
        (17, 22, "PLACE"),
    ]
    assert [v["sessions"] for v in saved["versions"]] == [["n-ann", "n-bob"], ["n-cat"]]
