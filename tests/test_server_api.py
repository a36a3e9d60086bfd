"""The JSON API against a real server on an ephemeral loopback port."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from recipe_runner import recipe
from recipe_runner.errors import ConfigError
from recipe_runner.loaders import get_stream
from recipe_runner.server import auth_from_env
from tests.conftest import NEWS
from tests.webserver import LiveServer, live_server


@recipe("news.mark")
def news_mark(dataset: str = "news", view_id: str = "text", **config: Any) -> dict[str, Any]:
    return {
        "dataset": dataset,
        "stream": get_stream(str(NEWS)),
        "view_id": view_id,
        "config": {"batch_size": 10, **config},
    }


@recipe("count.mark")
def count_mark(n: int = 25, **config: Any) -> dict[str, Any]:
    """A finite stream of `n` distinct tasks whose length is known."""
    return {
        "dataset": "numbers",
        "stream": [{"text": f"task {i}"} for i in range(n)],
        "view_id": "text",
        "config": {"batch_size": 10, **config},
    }


@recipe("endless.mark")
def endless_mark() -> dict[str, Any]:
    def stream() -> Iterator[dict[str, Any]]:
        for i in itertools.count():
            yield {"text": f"endless {i}"}

    return {"dataset": "endless", "stream": stream(), "view_id": "text"}


@pytest.fixture
def news() -> Iterator[LiveServer]:
    with live_server(news_mark) as server:
        yield server


def get(server: LiveServer, path: str, **params: Any) -> Any:
    response = httpx.get(server.url + path, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def post(server: LiveServer, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(server.url + "/api/answers", json=body, timeout=10, **kwargs)


def answered(tasks: list[dict[str, Any]], verdict: str = "accept") -> list[dict[str, Any]]:
    return [{**task, "answer": verdict} for task in tasks]


def test_project_describes_the_run_without_database_settings(news: LiveServer) -> None:
    project = get(news, "/api/project")
    assert project["recipe"] == "news.mark"
    assert project["dataset"] == "news"
    assert project["view_id"] == "text"
    assert project["labels"] is None
    assert project["config"]["batch_size"] == 10
    assert "db" not in project["config"] and "db_settings" not in project["config"]


def test_batches_are_batch_size_distinct_tasks_with_hashes(news: LiveServer) -> None:
    first = get(news, "/api/questions", session="alice")
    second = get(news, "/api/questions", session="alice")
    assert first["session"] == "news-alice"
    assert first["total"] == 178 and first["progress"] == 0.0
    assert len(first["tasks"]) == len(second["tasks"]) == 10
    hashes = [t["_task_hash"] for t in first["tasks"] + second["tasks"]]
    assert len(set(hashes)) == 20
    assert all(isinstance(h, int) and abs(h) < 2**53 for h in hashes)
    assert first["tasks"][0]["text"].startswith("Uber")


def test_answers_are_saved_once_even_when_retried(news: LiveServer) -> None:
    tasks = get(news, "/api/questions", session="alice")["tasks"]
    body = {"session": "alice", "answers": answered(tasks[:6]) + answered(tasks[6:], "reject")}
    response = post(news, body)
    assert response.headers["server-timing"].startswith("app;dur=")
    first = response.json()
    assert first["saved"] == 10
    assert first["stats"]["session"] == {"accept": 6, "reject": 4, "ignore": 0, "total": 10}
    assert first["errors"] == []
    retry = post(news, body).json()
    assert retry["saved"] == 0
    assert retry["stats"]["dataset"]["total"] == 10
    rows = news.answers()
    assert len(rows) == 10
    assert {r["_session_id"] for r in rows} == {"news-alice"}
    assert {r["_task_hash"] for r in rows} == {t["_task_hash"] for t in tasks}
    assert all(r["_view_id"] == "text" and isinstance(r["_timestamp"], int) for r in rows)


def test_no_session_means_the_default_one(news: LiveServer) -> None:
    batch = get(news, "/api/questions")
    assert batch["session"] == "news-default"
    reply = post(news, {"answers": answered(batch["tasks"][:1])}).json()
    assert reply["session"] == "news-default"
    assert news.answers()[0]["_session_id"] == "news-default"


def test_without_overlap_each_task_goes_to_one_session(news: LiveServer) -> None:
    alice = get(news, "/api/questions", session="alice")["tasks"]
    bob = get(news, "/api/questions", session="bob")["tasks"]
    assert len(alice) == len(bob) == 10
    assert not {t["_task_hash"] for t in alice} & {t["_task_hash"] for t in bob}
    post(news, {"session": "alice", "answers": answered(alice)})
    post(news, {"session": "bob", "answers": answered(bob, "ignore")})
    stats = get(news, "/api/stats", session="bob")
    assert stats["session"] == {"accept": 0, "reject": 0, "ignore": 10, "total": 10}
    assert stats["dataset"] == {"accept": 10, "reject": 0, "ignore": 10, "total": 20}


def test_with_overlap_every_session_gets_every_task() -> None:
    with live_server(news_mark, {"feed_overlap": True}) as server:
        alice = get(server, "/api/questions", session="alice")["tasks"]
        bob = get(server, "/api/questions", session="bob")["tasks"]
        assert [t["_task_hash"] for t in alice] == [t["_task_hash"] for t in bob]
        post(server, {"session": "alice", "answers": answered(alice)})
        reply = post(server, {"session": "bob", "answers": answered(bob, "reject")}).json()
        assert reply["saved"] == 10
        assert reply["stats"]["session"]["reject"] == 10
        assert reply["stats"]["dataset"]["total"] == 20
        # Each session's progress counts its own answers.
        assert get(server, "/api/progress", session="alice")["progress"] == pytest.approx(0.05)
        rows = server.answers()
        assert len(rows) == 20
        assert {r["_session_id"] for r in rows} == {"news-alice", "news-bob"}


def test_stats_and_progress_endpoints(news: LiveServer) -> None:
    empty = get(news, "/api/stats", session="carol")
    assert empty["session"] == {"accept": 0, "reject": 0, "ignore": 0, "total": 0}
    tasks = get(news, "/api/questions", session="carol")["tasks"]
    post(news, {"session": "carol", "answers": answered(tasks[:4], "reject")})
    progress = get(news, "/api/progress", session="carol")
    assert progress["progress"] == pytest.approx(4 / 178)
    assert progress["total"] == 178
    assert progress["session"]["reject"] == 4
    assert progress["dataset"]["total"] == 4
    assert set(progress) == {"progress", "total", "eta_seconds", "forecast", "session", "dataset"}
    assert progress["forecast"] is None  # only a model in the loop makes one


def test_progress_of_an_endless_generator_is_unknown() -> None:
    with live_server(endless_mark) as server:
        batch = get(server, "/api/questions", session="a")
        assert len(batch["tasks"]) == 10
        assert batch["progress"] is None and batch["total"] is None
        reply = post(server, {"session": "a", "answers": answered(batch["tasks"])}).json()
        assert reply["saved"] == 10 and reply["progress"] is None
        assert get(server, "/api/progress", session="a")["progress"] is None


def test_progress_is_exactly_one_at_the_end_of_a_finite_stream() -> None:
    with live_server(count_mark) as server:
        seen: list[float] = []
        while True:
            batch = get(server, "/api/questions", session="a")
            if not batch["tasks"]:
                break
            reply = post(server, {"session": "a", "answers": answered(batch["tasks"])}).json()
            seen.append(reply["progress"])
        assert seen[-1] == 1.0
        assert all(p < 1.0 for p in seen[:-1])
        assert seen == sorted(seen)
        assert get(server, "/api/progress", session="a")["progress"] == 1.0
        assert len(server.answers()) == 25


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 422),
        (b'{"session": "a"}', 422),
        (b'{"session": "a", "answers": "accept"}', 422),
        (b'{"session": "a", "answers": [1, 2]}', 422),
        (b'{"session": "a b", "answers": []}', 400),
    ],
)
def test_invalid_requests_get_a_4xx_json_error_and_save_nothing(
    news: LiveServer, body: bytes, status: int
) -> None:
    get(news, "/api/questions", session="a")
    response = httpx.post(
        news.url + "/api/answers",
        content=body,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json()["detail"], str)
    assert news.answers() == []
    assert get(news, "/api/stats", session="a")["dataset"]["total"] == 0


def test_a_bad_session_name_in_a_query_is_a_400(news: LiveServer) -> None:
    response = httpx.get(news.url + "/api/questions", params={"session": "../etc"})
    assert response.status_code == 400
    assert "session name" in response.json()["detail"]


def test_validate_answer_errors_are_returned_and_those_answers_not_saved() -> None:
    def validate(answer: dict[str, Any]) -> None:
        if answer["answer"] == "accept" and "7" in answer["text"]:
            raise ValueError("Tasks with a 7 need a reason.")

    @recipe("strict")
    def strict() -> dict[str, Any]:
        components = count_mark(n=10)
        return {**components, "validate_answer": validate}

    with live_server(strict) as server:
        tasks = get(server, "/api/questions", session="a")["tasks"]
        reply = post(server, {"session": "a", "answers": answered(tasks)}).json()
        assert reply["saved"] == 9
        seven = next(t for t in tasks if t["text"] == "task 7")
        assert reply["errors"] == [
            {"_task_hash": seven["_task_hash"], "message": "Tasks with a 7 need a reason."}
        ]
        assert "task 7" not in {r["text"] for r in server.answers()}
        fixed = post(server, {"session": "a", "answers": [{**seven, "answer": "reject"}]}).json()
        assert fixed["saved"] == 1 and fixed["errors"] == []


def test_a_reloaded_page_gets_its_unanswered_tasks_again_first(news: LiveServer) -> None:
    first = get(news, "/api/questions", session="alice")["tasks"]
    post(news, {"session": "alice", "answers": answered(first[:3])})
    again = get(news, "/api/questions", session="alice", fresh="true")["tasks"]
    assert [t["_task_hash"] for t in again[:7]] == [t["_task_hash"] for t in first[3:]]
    # ...and then new tasks, none answered before.
    assert not {t["_task_hash"] for t in again[7:]} & {t["_task_hash"] for t in first}
    # Another session never gets alice's outstanding tasks.
    bob = get(news, "/api/questions", session="bob", fresh="1")["tasks"]
    assert not {t["_task_hash"] for t in bob} & {t["_task_hash"] for t in first + again}


def test_basic_auth_guards_every_page_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_BASIC_AUTH_USER", "ann")
    monkeypatch.setenv("RR_BASIC_AUTH_PASS", "s3cret:x")
    with live_server(news_mark) as server:
        paths = ["/", "/static/app.js", "/api/project", "/api/questions", "/api/stats"]
        paths += ["/api/progress", "/openapi.json"]
        for path in paths:
            response = httpx.get(server.url + path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Basic")
        wrong = httpx.get(server.url + "/api/project", auth=("ann", "nope"))
        assert wrong.status_code == 401
        garbled = httpx.get(server.url + "/", headers={"authorization": "Basic !!!"})
        assert garbled.status_code == 401
        denied = httpx.post(server.url + "/api/answers", json={"answers": [{"text": "x"}]})
        assert denied.status_code == 401
        for path in paths:
            assert httpx.get(server.url + path, auth=("ann", "s3cret:x")).status_code == 200
        assert server.answers() == []


def test_auth_set_up_by_half_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Serving open what the user believes protected would be worse than not serving.
    monkeypatch.setenv("RR_BASIC_AUTH_USER", "ann")
    with pytest.raises(ConfigError, match="RR_BASIC_AUTH_PASS"):
        auth_from_env()
    monkeypatch.setenv("RR_BASIC_AUTH_PASS", "")
    with pytest.raises(ConfigError, match="RR_BASIC_AUTH_PASS"):
        auth_from_env()
    monkeypatch.setenv("RR_BASIC_AUTH_PASS", "s3cret")
    assert auth_from_env() == ("ann", "s3cret")


def test_openapi_describes_the_endpoints_and_their_models(news: LiveServer) -> None:
    spec = get(news, "/openapi.json")
    paths = spec["paths"]
    assert set(paths) >= {
        "/api/project",
        "/api/questions",
        "/api/answers",
        "/api/stats",
        "/api/progress",
    }
    schemas = spec["components"]["schemas"]
    assert {"Project", "Questions", "AnswersOut", "Stats", "ProgressOut"} <= set(schemas)
    body = paths["/api/answers"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["required"] == ["answers"]
    assert list(body) == ["application/json"]  # a browser sends other types from any page
    ok = paths["/api/questions"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/Questions")
    params = {p["name"] for p in paths["/api/questions"]["get"]["parameters"]}
    assert params == {"session", "fresh"}


def test_the_page_and_its_static_files_are_served(news: LiveServer) -> None:
    page = httpx.get(news.url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="static/app.js"' in page.text
    static = Path(__file__).resolve().parent.parent / "recipe_runner" / "static"
    for path in static.iterdir():
        response = httpx.get(f"{news.url}/static/{path.name}")
        assert response.status_code == 200, path.name
        assert response.content == path.read_bytes()
    assert "http" not in "".join(
        line for p in static.glob("*.html") for line in p.read_text().splitlines() if "src=" in line
    ), "the page loads nothing from another origin"


def test_a_recipe_without_a_dataset_serves_and_takes_answers_saving_nothing() -> None:
    @recipe("nosave")
    def nosave() -> dict[str, Any]:
        return {"dataset": None, "stream": [{"text": f"n{i}"} for i in range(3)], "view_id": "text"}

    with live_server(nosave) as server:
        assert get(server, "/api/project")["dataset"] is None
        batch = get(server, "/api/questions", session="x")
        assert batch["session"] == "x" and len(batch["tasks"]) == 3
        reply = post(server, {"session": "x", "answers": answered(batch["tasks"])}).json()
        assert reply["saved"] == 3 and reply["progress"] == 1.0
        assert server.controller.db is None


def test_the_batch_endpoints_answer_alike_on_their_fast_path_and_through_fastapi(
    news: LiveServer,
) -> None:
    # Plain query strings are answered before FastAPI's routing, others by FastAPI itself:
    # both must give the same kind of reply.
    fast = httpx.get(news.url + "/api/questions", params={"session": "a", "fresh": "true"})
    routed = httpx.get(news.url + "/api/questions", params={"session": "b", "fresh": "yes"})
    for response in (fast, routed):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert "app;dur=" in response.headers["server-timing"]
        assert set(response.json()) == {"tasks", "progress", "total", "session"}
    assert fast.json()["session"] == "news-a" and routed.json()["session"] == "news-b"
    twice = httpx.get(news.url + "/api/questions?session=c&session=d")
    assert twice.status_code == 200 and twice.json()["session"] == "news-d"
    assert httpx.get(news.url + "/api/questions", params={"fresh": "maybe"}).status_code == 422
    for params in ({"session": "bad name"}, {"session": "bad name", "fresh": "on"}):
        refused = httpx.get(news.url + "/api/questions", params=params)
        assert refused.status_code == 400 and "session" in refused.json()["detail"]
    bad = post(news, {"session": "bad name", "answers": []})
    assert bad.status_code == 400 and "session" in bad.json()["detail"]
    unparsable = httpx.post(
        news.url + "/api/answers",
        content=b"{",
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert unparsable.status_code == 422 and "not JSON" in unparsable.json()["detail"]
    saved = post(news, {"session": "a", "answers": answered(fast.json()["tasks"])})
    assert saved.status_code == 200 and saved.json()["saved"] == 10
    assert "app;dur=" in saved.headers["server-timing"]
    assert len(news.answers()) == 10
