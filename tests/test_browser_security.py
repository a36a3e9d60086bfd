"""Hostile pages and poison tasks in a real Chromium: a page of another origin tries to write
answers, hog the tasks and frame the page, and fails; a recipe's poison tasks never reach the
page, and a refused answer can be fixed or skipped while its neighbours are saved."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from recipe_runner import recipe
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, news_texts, shown_text, wait_for_rows
from tests.test_server_api import news_mark
from tests.webserver import live_server

pytestmark = pytest.mark.browser

REBOUND = "rebound.example"  # a name the browser resolves to 127.0.0.1, as DNS rebinding does


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's 'chromium' package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    rules = f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, rules])
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], Any]]:
    contexts: list[Any] = []
    errors: list[str] = []

    def open_() -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == []


class Recorder:
    """Wraps the app: every request's method, path and status, as the server answered it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, watch)

    def wait_for(self, method: str, path: str, n: int, timeout: float = 10) -> list[int]:
        """The statuses of the first `n` requests `method path` (fewer after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [s for m, p, s in self.seen if (m, p) == (method, path)]
            if len(found) >= n or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@contextmanager
def static_site(html: str) -> Iterator[int]:
    """A second tiny server on another 127.0.0.1 port, serving one page; yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


HOGS = 25
ATTACK = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<iframe id="framed" src="TARGET/"></iframe>
<form id="form" method="POST" action="TARGET/api/answers" enctype="text/plain" target="sink">
  <input name='{"session": "form", "answers": ANSWERS, "x": "' value='"}'>
</form>
<script>
const target = "TARGET";
const body = JSON.stringify({session: "evil", answers: ANSWERS});
window.results = {};
async function attack() {
  // write answers: a simple POST needs no preflight, and its reply need not be read
  await fetch(target + "/api/answers", {method: "POST", mode: "no-cors",
    headers: {"content-type": "text/plain"}, body}).catch(() => {});
  await fetch(target + "/api/answers", {method: "POST", mode: "no-cors",
    body: new Blob([body])}).catch(() => {});
  window.results.beacon = navigator.sendBeacon(target + "/api/answers", body);
  document.getElementById("form").submit();
  // take every task away from the real annotators
  await Promise.all(Array.from({length: HOGS}, (_, i) => new Promise((done) => {
    const img = new Image();
    img.onload = img.onerror = done;
    img.src = target + "/api/questions?session=hog" + i;
    document.body.append(img);
  })));
  // read what the page reads
  window.results.read = await fetch(target + "/api/project").then((r) => r.text(), () => "blocked");
  window.done = true;
}
attack();
</script></body></html>"""


@pytest.mark.parametrize("attacker_host", ["127.0.0.1", REBOUND])
def test_a_page_of_another_origin_can_not_write_claim_read_or_frame(
    new_page: Callable[[], Any], attacker_host: str
) -> None:
    texts = news_texts(12)
    known = [{"text": t, "answer": "accept"} for t in texts[:10]]  # texts it knows
    recorder: list[Recorder] = []

    def wrap(app: Any) -> Any:
        recorder.append(Recorder(app))
        return recorder[0]

    with live_server(news_mark, wrap=wrap) as server:
        html = ATTACK.replace("TARGET", server.url).replace("ANSWERS", json.dumps(known))
        html = html.replace("HOGS", str(HOGS))
        with static_site(html) as port:
            attacker = new_page()
            attacker.goto(f"http://{attacker_host}:{port}/")
            attacker.wait_for_function("window.done === true", timeout=20_000)
            # Every attack reached the server, and every one was refused.
            writes = recorder[0].wait_for("POST", "/api/answers", 4)
            claims = recorder[0].wait_for("GET", "/api/questions", HOGS)
            results = attacker.evaluate("window.results")
            framed = [
                f for f in attacker.frames if f != attacker.main_frame and f.query_selector("#card")
            ]
        assert writes == [403] * 4
        assert claims == [403] * HOGS
        assert results["read"] == "blocked"  # no CORS: the reply is never the page's to read
        assert framed == []  # frame-ancestors 'self': the browser refused to show it
        assert server.answers() == []

        # The real annotator sees the first task: nothing was claimed nor pre-answered.
        page = new_page()
        page.goto(server.url + "/?session=real")
        page.wait_for_selector("#content .task-text")
        assert shown_text(page) == texts[0]
        for i in range(3):
            assert shown_text(page) == texts[i]
            page.keyboard.press("a")
        page.keyboard.press("Control+s")
        rows = wait_for_rows(server, 3)
        # A prefetch may still be on its way through the handler as the page closes.
        page.unroute_all(behavior="ignoreErrors")
    assert [r["text"] for r in rows] == texts[:3]
    assert {r["_session_id"] for r in rows} == {"news-real"}


def test_a_rebound_host_name_reads_nothing(new_page: Callable[[], Any]) -> None:
    with live_server(news_mark) as server:
        port = server.url.rsplit(":", 1)[1]
        page = new_page()
        response = page.goto(f"http://{REBOUND}:{port}/")
        assert response is not None and response.status == 421
        api = page.goto(f"http://{REBOUND}:{port}/api/questions?session=rebound")
        assert api is not None and api.status == 421
        assert "tasks" not in page.content()
        ok = page.goto(f"http://localhost:{port}/")
        assert ok is not None and ok.status == 200


# poison tasks ----------------------------------------------------------------------------------
def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"in": value}
    return value


OPTIONS = [{"id": "A", "text": "Alpha"}, {"id": "B", "text": "Beta"}]
POISON = [
    {"text": 12345, "options": OPTIONS},
    {"text": "t", "spans": "x", "options": OPTIONS},
    {"text": "t", "options": "abc"},
    {"text": "deep", "options": OPTIONS, "meta": _nested(70)},
]
GOOD = 12


@recipe("poison.choice")
def poison_choice() -> dict[str, Any]:
    """Good and bad tasks mixed, built in Python, so that they reach the server unchecked."""
    tasks: list[dict[str, Any]] = []
    for i in range(GOOD):
        tasks.append({"text": f"good {i}", "options": OPTIONS})
        tasks.append(POISON[i % len(POISON)])
    return {"dataset": "poison", "stream": tasks, "view_id": "choice", "config": {"batch_size": 5}}


def test_a_poison_source_is_annotated_to_the_end_with_every_good_answer_stored(
    new_page: Callable[[], Any],
) -> None:
    with live_server(poison_choice) as server:
        page = new_page()
        page.goto(server.url + "/?session=ann")
        shown: list[str] = []
        for _ in range(GOOD + 5):
            page.wait_for_selector("#content .task-text, #content .empty")
            if page.query_selector("#content .empty"):
                break
            shown.append(shown_text(page).splitlines()[0])
            page.keyboard.press("1")
            page.keyboard.press("a")
        page.wait_for_selector("text=No tasks available.")
        assert page.is_hidden("#message") or "Not saved" not in page.inner_text("#message")
        rows = wait_for_rows(server, GOOD)
        assert server.controller.skipped == GOOD
    assert shown == [f"good {i}" for i in range(GOOD)]
    assert sorted(r["text"] for r in rows) == sorted(f"good {i}" for i in range(GOOD))
    assert all(r["accept"] == ["A"] for r in rows)


def _picky_validate(answer: dict[str, Any]) -> None:
    if answer["answer"] == "accept" and answer["text"].endswith(("3", "5")):
        raise ValueError("Tasks 3 and 5 can't be accepted.")


@recipe("picky.batch")
def picky_batch() -> dict[str, Any]:
    components = news_mark(dataset="pickyb", batch_size=5)
    stream = [{"text": f"item {i}"} for i in range(8)]
    return {**components, "stream": stream, "validate_answer": _picky_validate}


def test_refused_answers_come_back_to_be_fixed_or_skipped_and_their_batch_is_saved(
    new_page: Callable[[], Any],
) -> None:
    recorder: list[Recorder] = []

    def wrap(app: Any) -> Any:
        recorder.append(Recorder(app))
        return recorder[0]

    with live_server(picky_batch, wrap=wrap) as server:
        page = new_page()
        page.goto(server.url + "/?session=p")
        for i in range(5):
            page.wait_for_selector("#content .task-text")
            assert shown_text(page) == f"item {i}"
            page.keyboard.press("a")
        # The batch of five went out: four saved, item 3 refused and back on screen.
        page.wait_for_selector("#message.invalid")
        assert "Tasks 3 and 5 can't be accepted" in page.inner_text("#message")
        assert shown_text(page) == "item 3"
        assert len(wait_for_rows(server, 4)) == 4
        page.keyboard.press("x")  # fixed
        # The queue goes on where it was: item 5, 6, 7.
        for expected, key in (("item 5", "a"), ("item 6", "a"), ("item 7", "a")):
            page.wait_for_selector("#content .task-text")
            assert shown_text(page) == expected
            page.keyboard.press(key)
        page.keyboard.press("Control+s")
        page.wait_for_selector("#message.invalid button.skip")
        assert shown_text(page) == "item 5"
        page.click("#message button.skip")  # skipped: never sent again
        page.wait_for_selector("text=No tasks available.")
        rows = wait_for_rows(server, 7)
        time.sleep(0.5)
        posts = recorder[0].wait_for("POST", "/api/answers", 0)
    assert {r["text"]: r["answer"] for r in server.answers()} == {
        "item 0": "accept",
        "item 1": "accept",
        "item 2": "accept",
        "item 3": "reject",
        "item 4": "accept",
        "item 6": "accept",
        "item 7": "accept",
    }
    assert len(rows) == 7
    assert all(status == 200 for status in posts) and len(posts) <= 4


def test_a_task_the_view_can_not_show_is_offered_for_skipping_not_left_loading(
    new_page: Callable[[], Any],
) -> None:
    # The server never serves such a task; the page must cope all the same (a server of
    # another version, a recipe's own JavaScript): the reply is changed on its way in.
    texts = news_texts(3)

    def poison(route: Any) -> None:
        reply = route.fetch()
        body = reply.json()
        if body["tasks"]:
            bad = [{"text": "t", "spans": "x", "_task_hash": 1}, {"options": "abc", "text": "o"}]
            body["tasks"] = bad + body["tasks"]
        route.fulfill(response=reply, json=body)

    with live_server(news_mark, kwargs={"view_id": "choice"}) as server:
        page = new_page()
        page.route("**/api/questions*", poison)
        page.goto(server.url + "/?session=s")
        for _ in range(2):
            page.wait_for_selector("#message.invalid button.skip")
            assert "can't be shown" in page.inner_text("#message")
            assert "Loading" not in page.inner_text("#content")
            page.keyboard.press("a")  # answers nothing: the task can only be skipped
            page.click("#message button.skip")
        for text in texts:
            page.wait_for_selector("#content .task-text")
            assert shown_text(page).splitlines()[0] == text
            page.keyboard.press("a")
        page.keyboard.press("Control+s")
        rows = wait_for_rows(server, 3)
        # A prefetch may still be on its way through the handler as the page closes.
        page.unroute_all(behavior="ignoreErrors")
    assert [r["text"] for r in rows] == texts
