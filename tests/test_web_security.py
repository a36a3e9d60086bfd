"""The web view against other web pages, told through raw HTTP: Host names (DNS rebinding),
cross-site requests, body types and the headers that keep the page out of frames. What a real
browser does with them is in test_browser_security.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from recipe_runner.config import load_config
from recipe_runner.errors import ConfigError
from recipe_runner.guard import allowed_host_names, exposure_warning, host_name, is_loopback
from tests.test_server_api import answered, count_mark, get, news_mark
from tests.webserver import LiveServer, live_server


@pytest.fixture
def news() -> Iterator[LiveServer]:
    with live_server(news_mark) as server:
        yield server


def port_of(server: LiveServer) -> str:
    return server.url.rsplit(":", 1)[1]


def nothing_claimed(server: LiveServer) -> None:
    """No task is held by anyone: a new session gets the first batch of the stream."""
    first = get(server, "/api/questions", session="honest")["tasks"]
    assert [t["text"] for t in first] == [t["text"] for t in _first_batch(server)]


def _first_batch(server: LiveServer) -> list[dict[str, Any]]:
    from recipe_runner.loaders import get_stream
    from tests.conftest import NEWS

    return list(get_stream(str(NEWS)))[:10]


# Host ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "/api/project", "/api/questions?session=x", "/static/app.js"]
)
def test_a_foreign_host_name_gets_421_and_claims_nothing(news: LiveServer, path: str) -> None:
    # DNS rebinding: evil.example resolves to 127.0.0.1, and its page reads what it is served.
    response = httpx.get(news.url + path, headers={"host": f"evil.example:{port_of(news)}"})
    assert response.status_code == 421
    assert "allowed_hosts" in response.json()["detail"]
    assert "tasks" not in response.text
    nothing_claimed(news)


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST"])
def test_the_loopback_names_are_answered(news: LiveServer, name: str) -> None:
    response = httpx.get(news.url + "/api/project", headers={"host": f"{name}:{port_of(news)}"})
    assert response.status_code == 200


def test_allowed_hosts_adds_names_and_only_those() -> None:
    with live_server(news_mark, cli_config={"allowed_hosts": ["Annotate.Example.org"]}) as server:
        port = port_of(server)
        for name, status in [
            ("annotate.example.org", 200),
            ("localhost", 200),
            ("other.example.org", 421),
        ]:
            response = httpx.get(server.url + "/api/project", headers={"host": f"{name}:{port}"})
            assert response.status_code == status, name
        # A proxy in front may rewrite Host: the page's origin under an allowed name counts.
        tasks = get(server, "/api/questions", session="p")["tasks"][:1]
        proxied = httpx.post(
            server.url + "/api/answers",
            json={"session": "p", "answers": answered(tasks)},
            headers={"origin": "https://annotate.example.org"},
        )
        assert proxied.status_code == 200 and proxied.json()["saved"] == 1


def test_bound_to_another_address_only_allowed_hosts_limits_host() -> None:
    # The test server listens on 127.0.0.1 only; the app is built as for `--host 0.0.0.0`.
    with live_server(news_mark, cli_config={"host": "0.0.0.0"}) as server:
        response = httpx.get(server.url + "/", headers={"host": "annotate.lan:8080"})
        assert response.status_code == 200
    with live_server(
        news_mark, cli_config={"host": "0.0.0.0", "allowed_hosts": ["annotate.lan"]}
    ) as server:
        assert httpx.get(server.url + "/", headers={"host": "annotate.lan"}).status_code == 200
        assert httpx.get(server.url + "/", headers={"host": "evil.example"}).status_code == 421


def test_host_names_and_loopback() -> None:
    assert host_name("LocalHost:8080") == "localhost"
    assert host_name("[::1]:8080") == "[::1]"
    assert host_name("::1") == "[::1]"
    assert is_loopback("127.0.0.5") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("::ffff:127.0.0.1") and not is_loopback("::ffff:10.0.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("::")
    assert allowed_host_names("0.0.0.0", None) is None
    assert allowed_host_names("127.0.0.1", ["*"]) is None
    names = allowed_host_names("127.0.0.1", None)
    assert names == {"localhost", "127.0.0.1", "[::1]"}
    assert allowed_host_names("10.0.0.5", ["a.lan:9000"]) == names | {"10.0.0.5", "a.lan"}


def test_exposure_warning_is_one_line_saying_what_is_open() -> None:
    assert exposure_warning("127.0.0.1", None, auth=False) is None
    assert exposure_warning("0.0.0.0", ["a.lan"], auth=True) is None
    both = exposure_warning("0.0.0.0", None, auth=False)
    assert both is not None and "\n" not in both
    assert "basic auth" in both and "allowed_hosts" in both and "write answers" in both
    only_auth = exposure_warning("::", ["a.lan"], auth=False)
    assert only_auth is not None and "basic auth" in only_auth and "allowed_hosts" not in only_auth


def test_allowed_hosts_must_be_a_list_of_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_CONFIG_OVERRIDES", json.dumps({"allowed_hosts": ["a", 3]}))
    with pytest.raises(ConfigError, match="'allowed_hosts'"):
        load_config()
    monkeypatch.setenv("RR_CONFIG_OVERRIDES", json.dumps({"allowed_hosts": ["a.lan"]}))
    config = load_config()
    assert config["allowed_hosts"] == ["a.lan"]
    assert "allowed_hosts" not in config.public()


# cross-site requests ---------------------------------------------------------------------------
CROSS_SITE = [
    {"origin": "http://evil.example"},
    {"origin": "null"},
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},  # another port of 127.0.0.1 is the same site
]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_requests_are_refused_and_change_nothing(
    news: LiveServer, headers: dict[str, str]
) -> None:
    claim = httpx.get(news.url + "/api/questions", params={"session": "hog"}, headers=headers)
    assert claim.status_code == 403 and "Cross-site" in claim.json()["detail"]
    nothing_claimed(news)
    tasks = _first_batch(news)
    write = httpx.post(
        news.url + "/api/answers",
        json={"session": "evil", "answers": answered(tasks)},
        headers=headers,
    )
    assert write.status_code == 403
    assert news.answers() == []


def test_the_pages_own_requests_are_answered(news: LiveServer) -> None:
    own = {"origin": news.url, "sec-fetch-site": "same-origin"}
    batch = httpx.get(news.url + "/api/questions", params={"session": "me"}, headers=own)
    assert batch.status_code == 200
    typed = {"sec-fetch-site": "none"}  # the URL typed in the address bar
    assert httpx.get(news.url + "/api/project", headers=typed).status_code == 200
    saved = httpx.post(
        news.url + "/api/answers",
        json={"session": "me", "answers": answered(batch.json()["tasks"])},
        headers=own,
    )
    assert saved.status_code == 200 and saved.json()["saved"] == 10


@pytest.mark.parametrize(
    "kind",
    [
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_answers_are_taken_as_json_only(news: LiveServer, kind: str | None) -> None:
    tasks = get(news, "/api/questions", session="t")["tasks"][:2]
    body = json.dumps({"session": "t", "answers": answered(tasks)})
    headers = {} if kind is None else {"content-type": kind}
    response = httpx.post(news.url + "/api/answers", content=body, headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert news.answers() == []
    typed = httpx.post(
        news.url + "/api/answers",
        content=body,
        headers={"content-type": "Application/JSON; charset=utf-8"},
    )
    assert typed.status_code == 200 and typed.json()["saved"] == 2


def test_a_scripted_client_works_as_before(news: LiveServer) -> None:
    # httpx (like curl --json) sends no Origin and no Sec-Fetch-* headers, and JSON.
    batch = get(news, "/api/questions", session="script")
    reply = httpx.post(
        news.url + "/api/answers", json={"session": "script", "answers": answered(batch["tasks"])}
    )
    assert reply.status_code == 200 and reply.json()["saved"] == 10


# headers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/", "/static/app.js", "/api/project", "/api/questions?session=h", "/openapi.json"]
)
def test_every_response_keeps_out_of_frames_and_sniffing(news: LiveServer, path: str) -> None:
    response = httpx.get(news.url + path)
    assert response.status_code == 200
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_refusals_carry_the_headers_too(news: LiveServer) -> None:
    refused = httpx.get(news.url + "/", headers={"host": "evil.example"})
    assert refused.status_code == 421
    assert refused.headers["x-frame-options"] == "SAMEORIGIN"


def test_basic_auth_still_guards_behind_the_checks() -> None:
    with live_server(count_mark, auth=("ann", "secret")) as server:
        assert httpx.get(server.url + "/api/project").status_code == 401
        assert httpx.get(server.url + "/api/project", auth=("ann", "secret")).status_code == 200
        foreign = httpx.get(
            server.url + "/api/project", auth=("ann", "secret"), headers={"host": "evil.example"}
        )
        assert foreign.status_code == 421
