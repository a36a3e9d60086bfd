"""The web view's HTTP side: a FastAPI app over one controller, serving the page and a JSON API.

Imported lazily (by `serve`), so that FastAPI's import cost stays out of `rr --help`. The FastAPI
types are imported at the top on purpose: with `from __future__ import annotations`, a `Request`
imported inside a function is not resolved and would become a required query parameter.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from queue import SimpleQueue
from typing import Any, NamedTuple, TypeVar
from urllib.parse import parse_qsl

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import MAX_BATCH
from .controller import Controller
from .errors import (
    ConfigError,
    EventError,
    NotAllowedError,
    RecipeRunnerError,
    StoreBroken,
    StoreUnavailable,
)
from .guard import SECURITY_HEADERS, Guard, allowed_host_names, send_json
from .jsonio import loads
from .keymap import resolve_keys
from .progress import ProgressInfo
from .theme import recipe_css

T = TypeVar("T")
STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 32 * 1024 * 1024  # a batch of answers far larger than this is a mistake
MAX_SESSIONS_KEPT = 10_000  # session ids remembered, so that a name is checked once

try:  # orjson is several times faster on task lists; the standard library does the same job
    import orjson

    def dumps(value: Any) -> bytes:
        try:
            return orjson.dumps(value)
        except TypeError:  # e.g. an integer beyond 64 bits, or a lone surrogate, in a task
            # ASCII: a lone surrogate is written as its escape rather than failing to encode.
            return json.dumps(value).encode("ascii")

except ImportError:  # pragma: no cover - depends on the environment

    def dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# request and response shapes ------------------------------------------------------------------
class Counts(BaseModel):
    accept: int
    reject: int
    ignore: int
    total: int


class Stats(BaseModel):
    session: Counts = Field(description="Answers of this session, all runs.")
    dataset: Counts = Field(description="Answers of the whole dataset, all sessions.")


class Instructions(BaseModel):
    format: str = Field(description="html or markdown")
    text: str


class Project(BaseModel):
    recipe: str
    dataset: str | None
    view_id: str
    labels: list[str] | None
    config: dict[str, Any] = Field(description="The run's config, without database settings.")
    instructions: Instructions | None = None
    keys: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="The page's keys: 'actions' {key: action} and 'labels' {label: key}.",
    )
    event_hooks: list[str] = Field(
        default_factory=list, description="The names of the recipe's event hooks."
    )


class Questions(BaseModel):
    tasks: list[dict[str, Any]] = Field(description="The next batch; empty when none are left.")
    progress: float | None = Field(description="0 to 1, or null when unknown (shown as ∞).")
    total: int | None
    session: str = Field(description="The session id answers are saved under: DATASET-NAME.")


class AnswersIn(BaseModel):
    session: str | None = Field(None, description="Session name; the default one when null.")
    answers: list[dict[str, Any]] = Field(
        description="Answered tasks: each a task plus 'answer' (accept, reject or ignore)."
    )


class AnswerProblem(BaseModel):
    task_hash: int = Field(alias="_task_hash")
    message: str


class ForecastOut(BaseModel):
    remaining: int = Field(description="Answers still needed until the model stops learning.")
    low: int = Field(description="The likely range of `remaining`: its low end...")
    high: int = Field(description="...and its high end.")


class Refused(BaseModel):
    index: int = Field(description="The answer's place in the batch sent, from 0.")
    task_hash: int | None = Field(alias="_task_hash", description="Its task hash, if usable.")
    reason: str


class AnswersOut(BaseModel):
    saved: int = Field(description="Answers not stored before (a retried batch saves 0).")
    progress: float | None
    total: int | None
    eta_seconds: float | None
    forecast: ForecastOut | None = None
    stats: Stats
    errors: list[AnswerProblem] = Field(
        description="Answers the recipe's validate_answer refused; they were not saved."
    )
    refused: list[Refused] = Field(
        description="Every answer not saved (its shape, or validate_answer), with the reason; "
        "the others of the batch were saved."
    )
    session: str


class ProgressOut(BaseModel):
    progress: float | None
    total: int | None
    eta_seconds: float | None
    forecast: ForecastOut | None = Field(
        None, description="From the losses of a model in the loop; null otherwise."
    )
    session: Counts
    dataset: Counts


class ErrorOut(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    403: {"model": ErrorOut, "description": "A cross-site request, or a session not allowed."},
    421: {"model": ErrorOut, "description": "A Host name the server does not answer to."},
    500: {"model": ErrorOut, "description": "The database is read-only or corrupt: don't retry."},
    503: {"model": ErrorOut, "description": "The database can't be reached; try again."},
}
ANSWERS_BODY = {
    "required": True,
    "content": {
        # JSON only: a browser sends other types (text/plain, forms) from any page, unasked.
        "application/json": {
            "schema": AnswersIn.model_json_schema(ref_template="#/components/schemas/{model}")
        }
    },
}


class JSONBytes(Response):
    """A JSON reply, with the security headers the Guard adds to pages (it leaves the API's
    replies alone, so that the hot paths need no wrapper around `send`)."""

    media_type = "application/json"

    def __init__(
        self, content: bytes, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(content, status_code, {**SECURITY_HEADER_STRINGS, **(headers or {})})


SECURITY_HEADER_STRINGS = {k.decode(): v.decode() for k, v in SECURITY_HEADERS}


class Reply(NamedTuple):
    """A JSON reply of the hot paths, before it becomes a Starlette Response (FastAPI's
    routes) or two raw ASGI messages (HotPaths)."""

    status: int
    body: bytes
    timing: bytes | None  # the Server-Timing header's value

    def response(self) -> Response:
        headers = None if self.timing is None else {"server-timing": self.timing.decode()}
        return JSONBytes(self.body, status_code=self.status, headers=headers)


def timed(value: Any, started: float) -> Reply:
    """A JSON reply with a Server-Timing header saying how long the endpoint took since
    `started` (browsers' developer tools show it; bench/load.py reports it beside the latency
    its client sees)."""
    body = dumps(value)
    took = (time.perf_counter() - started) * 1000
    return Reply(200, body, b"app;dur=%.3f" % took)


def reply(value: Any, status: int = 200) -> Response:
    return JSONBytes(dumps(value), status_code=status)


def error_status(err: RecipeRunnerError) -> int:
    """403 for a session `allowed_sessions` leaves out, 400 for any other expected error."""
    return 403 if isinstance(err, NotAllowedError) else 400


def problem(status: int, message: str) -> Response:
    return reply({"detail": message}, status)


def problem_reply(status: int, message: str) -> Reply:
    return Reply(status, dumps({"detail": message}), None)


NO_CACHE = {"cache-control": "no-cache"}
DATABASE_DOWN = "The database can't be reached just now; nothing was saved. Try again shortly."
DATABASE_SLOW = (
    "The database did not answer in time (another process may be writing to it). "
    "Send the request again: an answer is never stored twice."
)


def database_problem(err: StoreUnavailable) -> Reply:
    """The 503 of a database that can't be reached or did not answer in time, with a warning
    line on stderr."""
    message = str(err)  # "The database can't be reached: ..."
    print(f"Warning: {message[:1].lower()}{message[1:]}", file=sys.stderr, flush=True)
    return problem_reply(503, DATABASE_SLOW if isinstance(err, StoreTimeout) else DATABASE_DOWN)


def broken_problem(err: StoreBroken) -> Reply:
    """The 500 of a read-only or corrupt database file: no outage, so the page shows it
    instead of retrying; one error line on stderr."""
    print(f"Error: {err}", file=sys.stderr, flush=True)
    return problem_reply(500, str(err))


def report_recipe_failure(recipe: str, err: BaseException) -> str:
    """One line on stderr naming where the recipe raised (the whole traceback with
    RR_TRACEBACK=1); the server keeps serving, and the page shows the line."""
    from .runner import failure_line

    line = failure_line(recipe, err)
    if os.environ.get("RR_TRACEBACK", "") not in ("", "0"):
        import traceback

        traceback.print_exception(err, file=sys.stderr)
    print(f"Error: {line}", file=sys.stderr, flush=True)
    return line


class StoreTimeout(StoreUnavailable):
    """A controller call that waited longer than the store's timeout (OffLoop)."""


class OffLoop:
    """Runs blocking calls (the controller's) on a worker thread of its own, one at a time, and
    waits for each `timeout` seconds at most: then StoreTimeout, and a call that has not
    started by then never runs. A plain queue and one thread rather than an executor: this is
    on the path of every request, and each layer of futures costs server CPU per batch."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._jobs: SimpleQueue[Any] = SimpleQueue()
        self._thread: threading.Thread | None = None

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="rr-controller", daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()
        job = [loop, waiter, fn, args]  # emptied when the caller stops waiting
        self._jobs.put(job)
        if self.timeout is None:
            return await waiter
        timer = loop.call_later(self.timeout, _expire, waiter, job)
        try:
            return await waiter
        finally:
            timer.cancel()
            job.clear()  # cancelled (shutdown, client gone): not started, it never runs

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                loop, waiter, fn, args = job
            except ValueError:  # abandoned before it started
                continue
            try:
                result = fn(*args)
            except BaseException as err:
                loop.call_soon_threadsafe(_settle, waiter, None, err)
            else:
                loop.call_soon_threadsafe(_settle, waiter, result, None)


def _settle(waiter: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if waiter.done():  # given up on already
        return
    if error is None:
        waiter.set_result(result)
    else:
        waiter.set_exception(error)


def _expire(waiter: asyncio.Future[Any], job: list[Any]) -> None:
    job.clear()
    if not waiter.done():
        waiter.set_exception(StoreTimeout(DATABASE_SLOW))


# basic auth -----------------------------------------------------------------------------------
class BasicAuth:
    """Every page and endpoint needs the user and password (RR_BASIC_AUTH_USER / _PASS)."""

    def __init__(self, app: ASGIApp, user: str, password: str) -> None:
        self.app = app
        self.expected = f"{user}:{password}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        body = dumps({"detail": "Authentication required."})
        challenge = (b"www-authenticate", b'Basic realm="recipe-runner", charset="UTF-8"')
        await send_json(send, 401, body, [challenge, *SECURITY_HEADERS])

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization" and value[:6].lower() == b"basic ":
                try:
                    given = base64.b64decode(value[6:].strip(), validate=True)
                except (binascii.Error, ValueError):
                    return False
                return secrets.compare_digest(given, self.expected)
        return False


# the app --------------------------------------------------------------------------------------
def read_instructions(path: str | None) -> Instructions | None:
    """The `instructions` file's text, HTML or Markdown by its suffix; an error naming it."""
    if not path:
        return None
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"Config 'instructions': can't read '{file}' ({err}). Fix the path or remove the key."
        ) from None
    kind = "html" if file.suffix.lower() in (".html", ".htm") else "markdown"
    return Instructions(format=kind, text=text)


def make_app(
    controller: Controller, recipe_name: str, auth: tuple[str, str] | None = None
) -> ASGIApp:
    """The ASGI app of the web view: the page, its static files and the JSON API (a FastAPI
    app behind HotPaths, and BasicAuth in front of both).

    `auth` is (user, password) for basic auth; when left out, RR_BASIC_AUTH_USER and
    RR_BASIC_AUTH_PASS are read: auth is on when both are set, an error when one is missing."""
    if auth is None:
        auth = auth_from_env()
    config = controller.config
    project = Project(
        recipe=recipe_name,
        dataset=controller.dataset,
        view_id=controller.view_id,
        labels=config["labels"],
        config=config.public(),
        instructions=read_instructions(config["instructions"]),
        keys=resolve_keys(config.values),
        event_hooks=sorted(controller.event_hooks),
    ).model_dump(mode="json")
    index = (STATIC / "index.html").read_bytes()
    # The recipe's own code and style, as resources of their own (never inline in the page).
    recipe_js = (config["javascript"] or "").encode("utf-8")
    recipe_style = recipe_css(config.values).encode("utf-8")
    app = FastAPI(
        title="recipe-runner",
        summary=f"Annotation web view of recipe '{recipe_name}'.",
        docs_url=None,
        redoc_url=None,
    )

    # The controller's calls (and through them the database's) run on a thread of their own,
    # never on the event loop: a database that is locked or slow to answer holds up only the
    # requests that need it, and each of those for `db_settings.timeout` at most, then a 503.
    # Static files and the page are answered meanwhile. One thread, since one lock serialises
    # the controller anyway.
    timeout = controller.db.timeout if controller.db is not None else None
    off_loop = OffLoop(timeout)
    session_ids: dict[str | None, str] = {}  # the names seen, checked, and their ids
    allowed = config.get("allowed_sessions")
    allowed_names = None if allowed is None else frozenset(allowed)

    def session_of(name: str | None) -> str:
        """Session NAME -> "DATASET-NAME"; a bad name is a RecipeRunnerError (400), a name
        that `allowed_sessions` leaves out a NotAllowedError (403)."""
        found = session_ids.get(name)
        if found is None:
            if allowed_names is not None and (name or "") not in allowed_names:
                raise NotAllowedError(
                    f"Session '{name or ''}' is not allowed here: open the page with "
                    "?session=NAME, using the name you were given."
                    if name
                    else "This page needs your session name: open it with ?session=NAME, "
                    "using the name you were given."
                )
            found = controller.session_id(name or None)
            if len(session_ids) < MAX_SESSIONS_KEPT:
                session_ids[name] = found
        return found

    @app.exception_handler(RecipeRunnerError)
    def expected_error(_request: Request, err: RecipeRunnerError) -> Response:
        return problem(error_status(err), str(err))

    # The database is unreachable, or too busy to answer in time: a 503, which a client may
    # retry (the page does), rather than a 500 with a traceback, which would say the server is
    # wrong.
    @app.exception_handler(StoreUnavailable)
    def unreachable_database(_request: Request, err: StoreUnavailable) -> Response:
        return database_problem(err).response()

    @app.exception_handler(StoreBroken)
    def broken_database(_request: Request, err: StoreBroken) -> Response:
        return broken_problem(err).response()

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(index, media_type="text/html", headers=NO_CACHE)

    @app.get("/recipe.js", include_in_schema=False)
    async def recipe_script() -> Response:
        return Response(recipe_js, media_type="text/javascript", headers=NO_CACHE)

    @app.get("/recipe.css", include_in_schema=False)
    async def recipe_stylesheet() -> Response:
        return Response(recipe_style, media_type="text/css", headers=NO_CACHE)

    @app.post("/api/events/{name}", response_model=dict[str, Any], responses=ERRORS)
    async def post_event(
        name: str,
        request: Request,
        session: str | None = Query(None, description="Session name (default: 'default')."),
    ) -> Response:
        """Call the recipe's event hook `name` with the JSON object of the body as its keyword
        arguments (besides the controller); its dict is the reply."""
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return problem(415, "An event's body must be a JSON object (application/json).")
        session_of(session)
        raw = await read_capped(request.headers.get("content-length", ""), request.receive)
        if raw is None:
            return problem(413, f"The request body is over {MAX_BODY} bytes.")
        try:
            payload = loads(raw) if raw.strip() else {}
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return problem(422, "An event's body must be a JSON object of keyword arguments.")
        try:
            return reply(await off_loop(controller.call_event, name, payload))
        except EventError as err:
            return problem(404 if name not in controller.event_hooks else 400, str(err))

    @app.get("/api/project", response_model=Project)
    async def get_project() -> Response:
        """The recipe, dataset, view, labels and config (never database settings)."""
        return reply(project)

    @app.get("/api/questions", response_model=Questions, responses=ERRORS)
    async def get_questions(
        session: str | None = Query(None, description="Session name (default: 'default')."),
        fresh: bool = Query(
            False,
            description="The page was (re)loaded: serve this session's unanswered tasks again.",
        ),
    ) -> Response:
        """The next batch of tasks for the session; an empty list when the stream is done."""
        reply_ = await off_loop(questions, session, fresh, time.perf_counter())
        return reply_.response()

    def questions(session: str | None, fresh: bool, started: float) -> Reply:
        sid = session_of(session)
        tasks = controller.get_questions(sid, fresh=fresh)
        info = controller.progress(sid)
        return timed(
            {"tasks": tasks, "progress": info.progress, "total": info.total, "session": sid},
            started,
        )

    @app.post(
        "/api/answers",
        response_model=AnswersOut,
        responses={
            **ERRORS,
            413: {"model": ErrorOut},
            415: {"model": ErrorOut, "description": "A body that is not application/json."},
        },
        openapi_extra={"requestBody": ANSWERS_BODY},
    )
    async def post_answers(request: Request) -> Response:
        """Save a batch of answers; committed before the response. Retries store nothing twice."""
        body = await read_capped(request.headers.get("content-length", ""), request.receive)
        reply_ = await off_loop(answers_reply, body, time.perf_counter())
        return reply_.response()

    def answers_reply(raw: bytes | None, started: float) -> Reply:
        if raw is None:
            return problem_reply(413, f"The request body is over {MAX_BODY} bytes.")
        try:
            session, answers = parse_answers(raw)
        except ValueError as err:
            return problem_reply(422, f"Expected {{'session': NAME, 'answers': [...]}}: {err}")
        if len(answers) > MAX_BATCH:
            return problem_reply(
                413,
                f"{len(answers):,} answers in one request; at most {MAX_BATCH:,} are taken. "
                "Send them in smaller batches; nothing was saved.",
            )
        sid = session_of(session)
        result = controller.receive_answers(sid, answers)
        return timed(
            {
                "saved": result.saved,
                **_progress(result.progress),
                "stats": result.stats,
                "errors": result.errors,
                "refused": result.refused,
                "session": sid,
            },
            started,
        )

    @app.get("/api/stats", response_model=Stats, responses=ERRORS)
    async def get_stats(session: str | None = None) -> Response:
        """Accept / reject / ignore counts of the session and of the dataset."""
        return reply(await off_loop(lambda: controller.stats(session_of(session))))

    @app.get("/api/progress", response_model=ProgressOut, responses=ERRORS)
    async def get_progress(session: str | None = None) -> Response:
        """Progress (null when unknown), total and ETA, with the counts of /api/stats."""

        def read() -> dict[str, Any]:
            sid = session_of(session)
            return {**_progress(controller.progress(sid)), **controller.stats(sid)}

        return reply(await off_loop(read))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    front: ASGIApp = HotPaths(
        app, off_loop, questions=questions, answers=answers_reply, recipe=recipe_name
    )
    if auth is not None:  # in front of the hot paths: it guards them too
        front = BasicAuth(front, user=auth[0], password=auth[1])
    allowed = config["allowed_hosts"]
    return Guard(front, allowed_host_names(config["host"], allowed), allowed)


class HotPaths:
    """GET /api/questions and POST /api/answers, the two requests of every batch, answered in
    front of the FastAPI app, with two raw ASGI messages: its routing, dependency solving,
    middleware and Response objects cost about as much server CPU per batch as the
    controller's own work. Same functions, same responses: anything unusual in a request (a
    repeated or uncommon query value, a root path) goes to FastAPI, which then validates and
    answers it as before."""

    def __init__(
        self,
        app: ASGIApp,
        off_loop: OffLoop,
        questions: Callable[[str | None, bool, float], Reply],
        answers: Callable[[bytes | None, float], Reply],
        recipe: str = "?",
    ) -> None:
        self.app = app
        self.off_loop = off_loop
        self.questions = questions
        self.answers = answers
        self.recipe = recipe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            path, method = scope["path"], scope["method"]
            result: Reply | None = None
            try:
                if path == "/api/questions" and method == "GET":
                    query = _plain_query(scope["query_string"])
                    if query is not None:
                        result = await self.off_loop(self.questions, *query, time.perf_counter())
                elif path == "/api/answers" and method == "POST":
                    declared = b""
                    for name, value in scope["headers"]:
                        if name == b"content-length":
                            declared = value
                    try:
                        raw = await read_capped(declared.decode("latin-1"), receive)
                    except ClientDisconnect:
                        return  # nobody left to answer; nothing was saved
                    result = await self.off_loop(self.answers, raw, time.perf_counter())
            except StoreUnavailable as err:
                result = database_problem(err)
            except StoreBroken as err:
                result = broken_problem(err)
            except RecipeRunnerError as err:
                result = problem_reply(error_status(err), str(err))
            except Exception as err:  # the recipe's stream or a callback raised
                result = problem_reply(500, report_recipe_failure(self.recipe, err))
            if result is not None:
                headers = SECURITY_HEADERS
                if result.timing is not None:
                    headers = [(b"server-timing", result.timing), *SECURITY_HEADERS]
                await send_json(send, result.status, result.body, headers)
                return
        await self.app(scope, receive, send)


FRESH = {"true": True, "1": True, "false": False, "0": False}
# The query of nearly every request: a session name with nothing to decode.
ONLY_A_SESSION = re.compile(rb"session=([A-Za-z0-9_.\-]+)")


def _plain_query(raw: bytes) -> tuple[str | None, bool] | None:
    """(session, fresh) of a query string FastAPI would read the same way; None otherwise."""
    if not raw:
        return None, False
    only = ONLY_A_SESSION.fullmatch(raw)
    if only is not None:
        return only[1].decode("ascii"), False
    found: dict[str, str] = {}
    for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if key in found:
            return None
        found[key] = value
    fresh = FRESH.get(found.get("fresh", "false"))
    if fresh is None:
        return None
    return found.get("session"), fresh


async def read_capped(declared: str, receive: Receive) -> bytes | None:
    """The request body, or None when it is over MAX_BODY: told by its Content-Length
    (`declared`), or found while reading, so that an oversized body is never held in memory
    whole. ClientDisconnect when the client goes away first."""
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def parse_answers(raw: bytes) -> tuple[str | None, list[Any]]:
    """The session and answers of a POST body (its type was checked by the Guard).

    Checked by hand rather than by the AnswersIn model: it runs on every batch, and each answer
    is checked by the controller anyway."""
    try:
        body = loads(raw)
    except ValueError as err:
        raise ValueError(f"the body is not JSON ({str(err).splitlines()[0][:120]})") from None
    if not isinstance(body, dict):
        raise ValueError(f"the body is a {type(body).__name__}, not an object")
    session = body.get("session")
    if session is not None and not isinstance(session, str):
        raise ValueError("'session' must be a string or null")
    answers = body.get("answers")
    if not isinstance(answers, list):
        raise ValueError(
            "'answers' must be a list" if "answers" in body else "'answers' is missing"
        )
    if not all(isinstance(a, dict) for a in answers):
        raise ValueError("each answer must be an object")
    return session, answers


def auth_from_env() -> tuple[str, str] | None:
    """(user, password) from RR_BASIC_AUTH_USER / RR_BASIC_AUTH_PASS; None when neither is
    set. Only one of them set, or an empty password, is a ConfigError: a server the user
    believes protected must not start open."""
    import os

    user = os.environ.get("RR_BASIC_AUTH_USER")
    password = os.environ.get("RR_BASIC_AUTH_PASS")
    if user is None and password is None:
        return None
    if not user or not password:
        missing = "RR_BASIC_AUTH_USER" if not user else "RR_BASIC_AUTH_PASS"
        raise ConfigError(
            f"Basic auth is half set up: {missing} is empty or unset. Set both "
            "RR_BASIC_AUTH_USER and RR_BASIC_AUTH_PASS (a non-empty password), or neither."
        )
    return user, password


def _progress(info: ProgressInfo) -> dict[str, Any]:
    forecast = info.forecast.as_dict() if info.forecast is not None else None
    return {
        "progress": info.progress,
        "total": info.total,
        "eta_seconds": info.eta_seconds,
        "forecast": forecast,
    }
