"""The controller: serves batches of tasks, takes answers, and keeps counts and progress.

Both drivers (the web server and headless mode) use it the same way; it does no terminal or HTTP
I/O. Its methods are safe to call from several threads: one lock serialises them.
"""

from __future__ import annotations

import inspect
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .components import Components, call_with_accepted
from .config import Config
from .db import ANSWERS, AnsweredIn, ClaimStore, Database, TaskRoutes, check_name, open_claims
from .errors import AnswerError, DatasetError, EventError, SourceError
from .hashing import INPUT_HASH, TASK_HASH, set_hashes
from .loaders import Stream, stream_length, task_key
from .progress import (
    Forecast,
    ProgressInfo,
    RateMeter,
    estimate_from_losses,
    eta_seconds,
    forecast_from_losses,
)
from .recipe_db import RecipeController
from .task_shape import short, task_problem
from .views import check_view_config, missing_input, required_input

Task = dict[str, Any]
Counts = dict[str, int]
MAX_SKIPS_TOLD = 20  # tasks skipped for their shape are told one by one up to this many
# Routed tasks: pooled tasks looked at per request, and new tasks read from the stream per
# request at most (a session the router passes over must not read an endless stream).
POOL_SCAN = 50
MAX_READ_PER_REQUEST = 500
# Tasks read from the stream per claim at most. A session far behind others (a web server behind
# fast headless workers sharing claims) finds most of what it reads answered or held: it reads
# further ahead each round that wins little, up to this many, so that passing N such tasks costs
# some N / READ_AHEAD round trips to the store rather than N / batch_size.
READ_AHEAD = 1000
# Server processes sharing one stream meet at its front: each finds part of what it reads
# claimed by the others. A claim's first read is sized by the share of free tasks its recent
# claims found (a moving average, this weight for the newest), with this margin, so that one
# round trip to the store usually finds a batch.
FREE_WEIGHT = 0.3
FREE_MARGIN = 1.5


def empty_counts() -> Counts:
    return {"accept": 0, "reject": 0, "ignore": 0, "total": 0}


@dataclass
class AnswerResult:
    """What the controller made of a batch of answers."""

    saved: int
    progress: ProgressInfo
    stats: dict[str, Counts]
    errors: list[dict[str, Any]] = field(default_factory=list)  # validate_answer's refusals
    # Every answer refused (by its shape or by validate_answer): {"index", "_task_hash",
    # "reason"}, index being its place in the batch received.
    refused: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)  # those refused for their shape


class Controller:
    """Runs one recipe: the stream in, the answers out."""

    def __init__(
        self,
        components: Components,
        config: Config,
        db: Database | None,
        *,
        shared_claims: bool = False,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.components = components
        self.notify = notify or (lambda _message: None)
        self.skipped = 0  # tasks of the stream never served for their shape (task_shape)
        self.config = config
        self.db = db if components.dataset is not None else None
        self.recipe = components.recipe
        self.dataset = components.dataset
        self.view_id = components.view_id
        check_view_config(self.recipe, self.view_id, config.values)
        # The input keys each task needs (one of each group), for the view or its blocks.
        self._needs = required_input(self.view_id, config.values)
        self.event_hooks = components.event_hooks
        self.batch_size: int = config["batch_size"]
        self.overlap: bool = config["feed_overlap"]
        self.exclude_by: str = config["exclude_by"]
        self.claim_timeout: float = float(config["claim_timeout"])
        self.stream = components.stream
        # A loader's own stream has checked its tasks' shape as it read them.
        self._shape_checked = getattr(self.stream, "shape_checked", False) is True
        # A source read through one task at a time (map / apply over a file) is counted in
        # distinct tasks by the run's dedup key, and what a dataset already holds of it counts
        # as done; where the run deduplicates by input, answered tasks are left out before the
        # recipe's steps (a model) run over them.
        self._source: Stream | None = None
        if isinstance(self.stream, Stream) and self.stream.one_per_input and not self.overlap:
            self._source = self.stream.root
            self._source.count_by = "input" if self.exclude_by == "input" else "task"
        self._done_before = 0  # tasks of the source answered before this run
        # Set when no task of the source can be answered but by this run (see
        # _count_done_before): the store's mark of others' writes at that moment.
        self._fresh_since: int | None = None
        target = config["total_examples_target"]
        self.total: int | None = target if target is not None else stream_length(self.stream)
        self._lock = threading.RLock()
        # How sessions read the stream. Without feed_overlap they share one reader. With it,
        # each session reads a stream it can start again (a file, a list) on its own; a
        # one-shot generator is read once into a tape that every session walks.
        self._shared = _Reader(self.stream)
        self._readers: dict[str, _Reader] = {}
        self._reiterable = iter(self.stream) is not self.stream
        self._tape: list[Task] = []
        self._cursors: dict[str, int] = {}
        self._known_sessions: set[str] = set()
        self._dataset_counts: dict[str, Counts] = {}
        self._dataset_total = empty_counts()  # the sum of _dataset_counts, kept as they change
        self._run_counts: dict[str, int] = {}
        self._run_answered = 0
        self._losses: list[tuple[int, float]] = []
        self._last_loss: float | None = None
        self._loss_progress: float | None = None  # the loss estimate never goes back
        self._forecast: Forecast | None = None
        self._custom_progress: dict[str, float | None] = {}
        self._rate = RateMeter()
        self._started = False
        self._closed = False
        self._dedup_ids: list[int] = []
        self._exclude_ids: list[int] = []
        self._answered_in_scope: dict[str, list[AnsweredIn]] = {}
        self._free_share = 1.0  # of the tasks recent claims looked at, the share they won
        # Claims use the dedup key: with exclude_by "input", one text is out once at a time.
        claim_key = self._key_name = INPUT_HASH if self.exclude_by == "input" else TASK_HASH
        # Teams (routing.py): with annotations_per_task or a task_router, who gets a task is
        # decided in the database, durably, so feed_overlap has no say.
        self.per_task: int | None = config.get("annotations_per_task")
        self.routes: TaskRoutes | None = None
        if self.db is not None and self.dataset is not None:
            check_name(self.dataset)
            dataset_id = self.db.dataset_id(self.dataset, create=True)
            assert dataset_id is not None
            if self.per_task is not None or components.task_router is not None:
                self.overlap = False
                self.routes = TaskRoutes(self.db, dataset_id, self.per_task, self.exclude_by)
        # Several server processes share claims in the database; one process keeps them.
        # Routed tasks are claimed in the database always: the routing is durable.
        shared = shared_claims or self.routes is not None
        self._shared_claims = shared
        self.claims: ClaimStore = open_claims(self.db, self.dataset, claim_key, shared)
        self._check_exclude()
        source = self._source
        # (A bare source has no steps to spare: the claims skip its answered tasks.)
        if source not in (None, self.stream) and self.db is not None and self.exclude_by == "input":
            source.skip_done = self._skip_done

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Load the dataset's counts and call `on_load`; once."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._count_done_before()
            if self.db is not None and self.dataset is not None:
                for session, counts in self.db.counts(self.dataset).items():
                    self._dataset_counts[session] = {**counts, "total": sum(counts.values())}
                    for key in self._dataset_total:
                        self._dataset_total[key] += self._dataset_counts[session].get(key, 0)
            if self.components.on_load:
                self.components.on_load(self.for_recipe())

    def _count_done_before(self) -> None:
        """How many distinct tasks of the source the dataset (and `exclude`) already hold."""
        source = self._source
        if source is None or source.keys is None or self.db is None:
            return
        import numpy

        keys, source.keys = source.keys, None  # counted once; the memory goes back
        mark = self.db.write_mark()  # taken before the datasets are read
        ids = self._dedup_ids + self._exclude_ids
        chunk: list[int] = []
        found = 0
        for key in itertools.chain(self.db.hashes_in(ids, source.count_by or "task"), [None]):
            if key is not None:
                chunk.append(key)
            if len(chunk) >= 100_000 or (key is None and chunk):
                found += int(numpy.isin(numpy.array(chunk, dtype=numpy.int64), keys).sum())
                chunk = []
        self._done_before = found
        # A source read as it is, of distinct tasks none of which is answered: until someone
        # else writes to the store, a task it serves can be answered by this run alone, once
        # (a claim keeps it until then), so each batch need not ask the store which are.
        if (
            found == 0
            and mark is not None
            and source is self.stream
            and source.counted == len(keys)
            and self.routes is None
            and not self._shared_claims
        ):
            self._fresh_since = mark

    def _skip_done(self, tasks: list[Task]) -> list[Task]:
        """The tasks of a chunk of the source that are not answered yet (by input hash)."""
        keys = [task_key(task, "input") for task in tasks]
        assert self.db is not None
        done: set[int] = set()
        for where in self._answered_in(""):
            ids = list(where.dataset_ids)
            done |= self.db.answered_hashes(ids, keys, "input", session=where.session)
        if not done:
            return tasks
        return [task for task, key in zip(tasks, keys, strict=True) if key not in done]

    def close(self) -> None:
        """Call `on_exit`; once, even if the run stopped on an error."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.components.on_exit:
                self.components.on_exit(self.for_recipe())

    def for_recipe(self) -> RecipeController:
        """This controller as a recipe's callbacks see it: `db` is the recipe's database API."""
        return RecipeController(self)

    def session_id(self, name: str | None = None) -> str:
        """The session id answers carry: "DATASET-NAME"."""
        name = name or "default"
        check_name(name, "session")
        return f"{self.dataset}-{name}" if self.dataset else name

    # serving tasks --------------------------------------------------------------------------
    def get_questions(self, session: str, fresh: bool = False) -> list[Task]:
        """The next batch for `session`: its unanswered tasks first (after a reload, `fresh`),
        then claims others let expire, then new tasks from the stream. [] when none are left."""
        with self._lock:
            self.start()
            if self.routes is not None:
                return self._routed_questions(self.routes, session, fresh)
            scope = self._scope(session)
            out: list[Task] = []
            if fresh or session not in self._known_sessions:
                self._known_sessions.add(session)
                out.extend(self._unanswered(scope, self.claims.outstanding(scope, session)))
            if len(out) < self.batch_size:
                expired = self.claims.take_expired(
                    scope, session, self.batch_size - len(out), self.claim_timeout
                )
                out.extend(self._unanswered(scope, expired))
            pulled: list[Task] = []  # read from the stream by this call and not claimed yet
            # Tasks to read in the next round, when more than those wanted.
            ahead = self._first_read(self.batch_size - len(out))
            try:
                while len(out) < self.batch_size:
                    wanted = self.batch_size - len(out)
                    claimed = self._claim_new(session, wanted, max(ahead, wanted), pulled)
                    if claimed is None:
                        break
                    won, found = claimed
                    pulled.clear()
                    out.extend(won)
                    if found:
                        # The chunk had free tasks enough (those lost went to a race): read
                        # just what is wanted, as the other processes do at that front.
                        ahead = 0
                    elif 2 * len(won) < wanted:
                        ahead = min(READ_AHEAD, 4 * max(ahead, wanted))
            except Exception:
                # The database failed: what was read and not claimed goes back to the stream,
                # so that the next request serves it rather than skipping it.
                self._give_back(session, pulled)
                raise
            return out

    def _first_read(self, wanted: int) -> int:
        """Tasks to read for a claim of `wanted`: more than wanted when recent claims found
        part of what they read taken by other processes."""
        if self._free_share >= 0.9:
            return wanted
        return min(READ_AHEAD, math.ceil(FREE_MARGIN * wanted / max(self._free_share, 0.05)))

    def _scope(self, session: str) -> str:
        return session if self.overlap or self.routes is not None else ""

    def _routed_questions(self, routes: TaskRoutes, session: str, fresh: bool) -> list[Task]:
        """The next batch when tasks are routed: the session's own unanswered tasks, then
        pooled tasks it may take (answered by others first, as the pool is oldest first), then
        new tasks from the stream, each routed as it enters the pool."""
        out: list[Task] = []
        if fresh or session not in self._known_sessions:
            self._known_sessions.add(session)
            out.extend(self._unanswered(session, self.claims.outstanding(session, session)))
        if len(out) < self.batch_size:
            pooled = routes.open_for(session, POOL_SCAN + self.batch_size)
            for start in range(0, len(pooled), self.batch_size):
                if len(out) >= self.batch_size:
                    break
                chunk = pooled[start : start + self.batch_size - len(out)]
                out.extend(routes.claim(session, chunk, self.claim_timeout))
        read = 0
        while len(out) < self.batch_size and read < MAX_READ_PER_REQUEST:
            raw = self._pull(session, self.batch_size - len(out))
            if not raw:
                break
            read += len(raw)
            unique: dict[int, Task] = {}
            for task in raw:
                unique.setdefault(self._key(task), task)
            try:
                unique = self._routed_into_pool(routes, session, unique)
            except Exception:
                # Not pooled: back to the stream, so that the next request routes them.
                self._give_back(session, raw)
                raise
            out.extend(routes.claim(session, list(unique.values()), self.claim_timeout))
        return out

    def _routed_into_pool(
        self, routes: TaskRoutes, session: str, tasks: dict[int, Task]
    ) -> dict[int, Task]:
        """Put the tasks read from the stream into the pool, each with its route (the
        router's, for a task not pooled yet); those not answered in an `exclude` dataset."""
        assert self.db is not None
        if self._exclude_ids:
            done = self.db.answered_hashes(self._exclude_ids, list(tasks), self.exclude_by)
            tasks = {k: t for k, t in tasks.items() if k not in done}
        pooled = routes.known(list(tasks))
        router = self.components.task_router
        new = [t for k, t in tasks.items() if k not in pooled]
        if router is None:
            routes.add([(t, None) for t in new])
        else:
            ctrl = self.for_recipe()  # as a recipe's callbacks see the controller
            routes.add([(t, router(ctrl, session, t)) for t in new])
        return tasks

    def team_sessions(self) -> list[str]:
        """The sessions of the team, for routers: those of `allowed_sessions` when set, else
        every session seen in the dataset or by this run."""
        allowed = self.config.get("allowed_sessions")
        if allowed:
            return sorted(self.session_id(name) for name in allowed)
        seen = set(self._known_sessions)
        if self.routes is not None:
            seen |= self.routes.sessions()
        return sorted(seen)

    def routed_counts(self) -> dict[str, int]:
        """Per session, the tasks routed to it by name (for balancing routers)."""
        return {} if self.routes is None else self.routes.routed_counts()

    def _key(self, task: Task) -> int:
        return int(task[self._key_name])

    def _unanswered(self, scope: str, tasks: list[Task]) -> list[Task]:
        """Drop (and release) claimed tasks that were answered meanwhile, e.g. before a crash."""
        if not tasks:
            return tasks
        return self.claims.unanswered(scope, tasks, self._answered_in(scope))

    def _claim_new(
        self, session: str, wanted: int, ahead: int, pulled: list[Task]
    ) -> tuple[list[Task], bool] | None:
        """Claim for `session` up to `wanted` tasks of the stream that nobody has answered,
        looking at up to `ahead` tasks: those claimed, and whether the tasks read held free
        ones enough (some after them were not looked at); None at the end of the stream.
        Every task read is added to `pulled`; those not looked at go back to the stream."""
        raw = self._pull(session, ahead)
        if not raw:
            return None
        pulled.extend(raw)
        unique: dict[int, Task] = {}
        for task in raw:
            unique.setdefault(self._key(task), task)
        tasks = list(unique.values())
        scope = self._scope(session)
        answered = self._answered_in(scope)
        if self._fresh_since is not None:
            assert self.db is not None
            if self.db.write_mark() == self._fresh_since:
                answered = []  # nobody else has written: none of these can be answered
            else:
                self._fresh_since = None
        won, looked = self.claims.claim_first(
            scope, session, tasks, self.claim_timeout, answered, wanted
        )
        if looked:
            share = len(won) / looked
            self._free_share += FREE_WEIGHT * (share - self._free_share)
        if looked < len(tasks):
            # The rest of the chunk, from the first task not looked at, is read again next.
            first = self._key(tasks[looked])
            cut = next(i for i, task in enumerate(raw) if self._key(task) == first)
            self._give_back(session, raw[cut:])
        return won, looked < len(tasks)

    def _answered_in(self, scope: str) -> list[AnsweredIn]:
        """Where a task of `scope` counts as answered: in this dataset or one named in
        `exclude`; with feed_overlap, in this dataset only by the session itself."""
        found = self._answered_in_scope.get(scope)
        if found is None:
            if not self.overlap and self.routes is None:
                found = [AnsweredIn(tuple(self._dedup_ids + self._exclude_ids))]
            else:
                dedup, exclude = tuple(self._dedup_ids), tuple(self._exclude_ids)
                found = [AnsweredIn(dedup, scope), AnsweredIn(exclude)]
            self._answered_in_scope[scope] = found
        return found

    def _give_back(self, session: str, tasks: list[Task]) -> None:
        """Undo the last pulls of `tasks` (in the order they were read)."""
        if not tasks:
            return
        if not self.overlap:
            self._shared.put_back(tasks)
        elif self._reiterable:
            self._readers[session].put_back(tasks)
        else:
            self._cursors[session] -= len(tasks)

    def _pull(self, session: str, n: int) -> list[Task]:
        """The next `n` tasks of the stream for `session`, with hashes, checked for their view."""
        if not self.overlap:
            return self._shared.take(n, self._check_task)
        if self._reiterable:
            reader = self._readers.setdefault(session, _Reader(self.stream))
            return reader.take(n, self._check_task)
        cursor = self._cursors.get(session, 0)
        while len(self._tape) < cursor + n and not self._shared.done:
            self._tape.extend(self._shared.take(n, self._check_task))
        chunk = self._tape[cursor : cursor + n]
        self._cursors[session] = cursor + len(chunk)
        return chunk

    def _check_task(self, task: Any) -> Task | None:
        """The task with its hashes; None for a task whose shape the page could not show nor
        the database store (skipped and told, never served)."""
        if not isinstance(task, dict):
            raise SourceError(
                f"Recipe '{self.recipe}': {self._where()} is a {type(task).__name__}, "
                "not a task dict."
            )
        needed = missing_input(task, self._needs)
        if needed is not None:
            keys = " or ".join(f"'{k}'" for k in needed)
            raise SourceError(
                f"{self._where()}: the task has no {keys}, which the '{self.view_id}' view needs."
            )
        problem = None if self._shape_checked else task_problem(task)
        if problem:
            self.skipped += 1
            if self.skipped <= MAX_SKIPS_TOLD:
                more = (
                    " (further ones are counted, not told)"
                    if self.skipped == MAX_SKIPS_TOLD
                    else ""
                )
                self.notify(
                    f"Warning: recipe '{self.recipe}': skipped {self._where()} "
                    f"({short(task, 60)}): {problem}{more}."
                )
            return None
        return set_hashes(task)

    def _where(self) -> str:
        if isinstance(self.stream, Stream):
            return self.stream.location()
        return "a task of the stream"

    @property
    def exhausted(self) -> bool:
        """The stream has been read to its end (by every session that started reading it)."""
        if self.overlap and self._reiterable:
            return bool(self._readers) and all(r.done for r in self._readers.values())
        return self._shared.exhausted

    # taking answers -------------------------------------------------------------------------
    def receive_answers(
        self, session: str, answers: list[Any], *, served: bool = False
    ) -> AnswerResult:
        """Check, validate, `update`, `before_db`, save (committed before this returns), count.
        Each answer is judged on its own: the good ones are saved, and each refused one (its
        shape, or `validate_answer`) is listed in `refused` with its reason. `served` says the
        answers are this controller's own served tasks with only their verdict set (a headless
        policy): their shape was checked when they were served, so only the verdict is."""
        with self._lock:
            self.start()
            now = int(time.time())
            errors: list[dict[str, Any]] = []
            refused: list[dict[str, Any]] = []
            invalid: list[dict[str, Any]] = []
            valid: list[Task] = []
            validate = self.components.validate_answer
            for index, received in enumerate(answers):
                try:
                    answer = self._check_answer(session, received, now, served)
                except AnswerError as err:
                    invalid.append(_refusal(index, received, str(err)))
                    refused.append(invalid[-1])
                    continue
                if validate is not None:
                    try:
                        validate(answer)
                    except ValueError as err:
                        errors.append({TASK_HASH: answer[TASK_HASH], "message": str(err)})
                        refused.append(_refusal(index, answer, str(err)))
                        continue
                valid.append(answer)
            scope = self._scope(session)
            if self.components.update is not None and valid:
                learn = self._not_stored_yet(session, valid)  # a retried batch trains once
                if learn:
                    loss = self.components.update(learn)
                    if loss is not None:
                        self._last_loss = float(loss)
                        self._losses.append((self._run_answered + len(learn), float(loss)))
                        self._update_forecast()
            to_save = valid
            if self.components.before_db is not None and valid:
                to_save = self.components.before_db(valid)
                if not isinstance(to_save, list):
                    raise AnswerError(
                        f"Recipe '{self.recipe}': before_db must return the list of answers."
                    )
            # Saved with the release of their claims: one transaction where the claims are in
            # the database (one commit per batch, and never a release without its answers).
            new = self.claims.save(to_save, scope, [self._key(a) for a in valid])
            if self.routes is not None:
                self.routes.settle([self._key(a) for a in valid])
            for row_session, verdict in new:
                counts = self._dataset_counts.get(row_session)
                if counts is None:
                    counts = self._dataset_counts[row_session] = empty_counts()
                counts[verdict] = counts.get(verdict, 0) + 1
                counts["total"] += 1
                if verdict in ANSWERS:
                    self._dataset_total[verdict] += 1
                self._dataset_total["total"] += 1
                self._run_counts[row_session] = self._run_counts.get(row_session, 0) + 1
            self._run_answered += len(new)
            if new:
                self._rate.add(len(new))
            if self.components.progress is not None:
                self._custom_progress[session] = self._call_progress(session)
            return AnswerResult(
                len(new), self.progress(session), self.stats(session), errors, refused, invalid
            )

    def _update_forecast(self) -> None:
        """The loss-based progress and forecast, after each batch that `update` learned from;
        the forecast is kept in the database for `rr stats`."""
        estimate = estimate_from_losses(self._losses)
        if estimate is not None:
            self._loss_progress = max(estimate, self._loss_progress or 0.0)
        forecast = forecast_from_losses(self._losses)
        if forecast is not None and self._loss_progress:
            # Progress never goes back, so neither may the answers it leaves to do.
            learned = self._losses[-1][0]
            left = max(0, round(learned / self._loss_progress) - learned)
            if left < forecast.remaining:
                forecast = Forecast(left, min(left, forecast.low), max(left, forecast.high))
        self._forecast = forecast
        if forecast is not None and self.db is not None and self.dataset is not None:
            self.db.save_forecast(
                self.dataset, self._losses[-1][0], forecast.remaining, forecast.low, forecast.high
            )

    def _check_answer(self, session: str, answer: Any, now: int, served: bool = False) -> Task:
        """A copy of the answer, checked by the rules of a task (task_shape) unless `served`,
        with its hashes, session, view and time (`now` unless it has one); AnswerError says
        what is wrong."""
        if type(answer) is not dict:
            raise AnswerError(f"Each answer must be a task object, not {type(answer).__name__}.")
        verdict = answer.get("answer")
        if verdict not in ANSWERS:
            raise AnswerError(
                f"An answer's 'answer' must be accept, reject or ignore, not {verdict!r}."
            )
        if not served:
            needed = missing_input(answer, self._needs)
            if needed is not None:
                keys = " or ".join(f"'{k}'" for k in needed)
                raise AnswerError(
                    f"An answer has no {keys}, which the '{self.view_id}' view needs."
                )
            problem = task_problem(answer)
            if problem:
                raise AnswerError(f"An answer is refused: {problem}.")
        answer = {**answer, "_session_id": session}
        if type(answer.get(INPUT_HASH)) is not int or type(answer.get(TASK_HASH)) is not int:
            set_hashes(answer)
        if "_view_id" not in answer:
            answer["_view_id"] = self.view_id
        if "_timestamp" not in answer:
            answer["_timestamp"] = now
        return answer

    def _not_stored_yet(self, session: str, answers: list[Task]) -> list[Task]:
        stored = self.claims.saved_by(session, [a[TASK_HASH] for a in answers])
        return [a for a in answers if a[TASK_HASH] not in stored] if stored else answers

    # event hooks ----------------------------------------------------------------------------
    def call_event(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Call the recipe's event hook `name` with the payload's keys as keyword arguments;
        its dict comes back. An unknown name, a payload it does not take, or a hook raising
        ValueError is an EventError whose message can be shown to the annotator."""
        hook = self.event_hooks.get(name)
        if hook is None:
            known = ", ".join(sorted(self.event_hooks)) or "none"
            raise EventError(
                f"Recipe '{self.recipe}' has no event hook '{name}' (its hooks: {known})."
            )
        with self._lock:
            self.start()
            try:
                inspect.signature(hook).bind(self, **payload)
            except TypeError as err:  # the page's payload does not fit the hook's arguments
                raise EventError(f"Event hook '{name}': {err}.") from None
            except ValueError:
                pass  # a callable without a signature to read: call it and see
            try:
                result = hook(self, **payload)
            except ValueError as err:
                raise EventError(f"Event hook '{name}': {err}") from None
        if result is None:
            return {}
        if not isinstance(result, dict):
            raise AnswerError(
                f"Recipe '{self.recipe}': event hook '{name}' must return a dict, "
                f"not {type(result).__name__}."
            )
        return result

    # counts and progress --------------------------------------------------------------------
    def stats(self, session: str | None = None) -> dict[str, Counts]:
        """Accept / reject / ignore counts of the session and of the whole dataset."""
        with self._lock:
            mine = dict(self._dataset_counts.get(session or "", empty_counts()))
            return {"session": mine, "dataset": dict(self._dataset_total)}

    def session_answered(self, session: str) -> int:
        """Answers saved by `session` in this run."""
        return self._run_counts.get(session, 0)

    def progress(self, session: str | None = None) -> ProgressInfo:
        """Progress in the order of contract section 5, with an ETA from the recent rate."""
        with self._lock:
            value = self._progress_value(session or "")
            answered = self._answered_for_progress(session or "")
            eta = eta_seconds(value, answered, self._rate.rate())
            forecast = self._forecast if self.components.progress is None else None
            return ProgressInfo(value, self.total, eta, answered, forecast)

    def _call_progress(self, session: str) -> float | None:
        assert self.components.progress is not None
        value = call_with_accepted(
            self.components.progress,
            session=self.session_answered(session),
            total=self.stats()["dataset"]["total"],
            loss=self._last_loss,
        )
        return None if value is None else float(value)

    def _answered_for_progress(self, session: str) -> int:
        if self.routes is not None:
            return self._run_answered // (self.per_task or 1)
        if self.overlap:
            return self.session_answered(session)
        return self._done_before + self._run_answered

    def _progress_value(self, session: str) -> float | None:
        if self.components.progress is not None:
            if session not in self._custom_progress:
                self._custom_progress[session] = self._call_progress(session)
            return self._custom_progress[session]
        if self._losses:
            return self._loss_progress
        if not self.total:
            return None
        if self._finished(session):
            return 1.0
        ratio = min(self._answered_for_progress(session) / self.total, 1.0)
        return min(ratio, 0.999) if ratio >= 1.0 else ratio

    def _finished(self, session: str) -> bool:
        """The stream is read to its end and every task served has been answered."""
        if self.routes is not None:
            return (
                self._shared.done
                and self.claims.count(session, session) == 0
                and not self.routes.open_for(session, 1)
            )
        if not self.overlap:
            return self._shared.done and self.claims.count("") == 0
        if self._reiterable:
            reader = self._readers.get(session)
            if reader is None or not reader.done:
                return False
        elif not self._shared.done or self._cursors.get(session, 0) < len(self._tape):
            return False
        return self.claims.count(session, session) == 0

    def _check_exclude(self) -> None:
        if self.db is None:
            return
        if self.dataset is not None and self.config["auto_exclude_current"]:
            dataset_id = self.db.dataset_id(self.dataset)
            assert dataset_id is not None
            self._dedup_ids = [dataset_id]
        for name in self.components.exclude:
            found = self.db.dataset_id(name)
            if found is None:
                raise DatasetError(
                    f"Recipe '{self.recipe}': can't find dataset '{name}' named in 'exclude'."
                )
            if found not in self._dedup_ids:
                self._exclude_ids.append(found)


def _refusal(index: int, answer: Any, reason: str) -> dict[str, Any]:
    """A refused answer as the reply lists it: its place in the batch, its task hash when it
    has a usable one, and why."""
    found = answer.get(TASK_HASH) if type(answer) is dict else None
    return {"index": index, TASK_HASH: found if type(found) is int else None, "reason": reason}


class _Reader:
    """One pass over the stream, one task read ahead so that its end is known as soon as its
    last task is handed out (progress reaches exactly 1.0 with the last answer)."""

    def __init__(self, stream: Iterable[Task]) -> None:
        self._stream = stream
        self._iterator: Iterator[Task] | None = None
        self._pending: deque[Task] = deque()
        self.exhausted = False

    @property
    def done(self) -> bool:
        """Read to the end, and every task read handed out."""
        return self.exhausted and not self._pending

    def put_back(self, tasks: list[Task]) -> None:
        """Tasks taken and not handed out after all: the next `take` returns them first."""
        self._pending.extendleft(reversed(tasks))

    def take(self, n: int, check: Callable[[Any], Task | None]) -> list[Task]:
        if self._iterator is None:
            self._iterator = iter(self._stream)
        while len(self._pending) <= n and not self.exhausted:
            try:
                task = check(next(self._iterator))
            except StopIteration:
                self.exhausted = True
                continue
            if task is not None:
                self._pending.append(task)
        return [self._pending.popleft() for _ in range(min(n, len(self._pending)))]
