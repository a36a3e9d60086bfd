"""Headless batch mode: the controller driven by an answer policy, with a tqdm bar on stderr."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from .controller import Controller
from .errors import AnswerError
from .hashing import TASK_HASH
from .policies import resolve_policy
from .progress import ProgressInfo
from .runner import NothingToServe, Notify, find_recipe, notify_stderr, prepare_run
from .views import prefill, prefills


@dataclass
class HeadlessSummary:
    """What a headless run did."""

    recipe: str
    dataset: str | None
    session_id: str
    counts: dict[str, int] = field(default_factory=dict)
    saved: int = 0
    progress: float | None = None
    interrupted: bool = False
    seconds: float = 0.0
    skipped_lines: int = 0
    skipped_tasks: int = 0  # tasks of the recipe's stream never served for their shape
    refused: dict[str, int] = field(default_factory=dict)  # validate_answer's reason -> answers
    nothing_to_serve: bool = False  # the recipe returned None: it did its work itself

    @property
    def failed(self) -> bool:
        """Answers were refused by the recipe's `validate_answer`: the run did not do it all."""
        return bool(self.refused)

    def line(self) -> str:
        if self.nothing_to_serve:
            return f"{self.recipe}: the recipe returned no components, nothing to serve."
        parts = ", ".join(f"{self.counts.get(k, 0)} {k}" for k in ("accept", "reject", "ignore"))
        where = f"dataset '{self.dataset}'" if self.dataset else "no dataset (nothing saved)"
        text = (
            f"{self.recipe}: {self.saved} answers saved to {where}, session '{self.session_id}' "
            f"({parts}) in {self.seconds:.1f}s"
        )
        if self.skipped_lines:
            text += f"; skipped {self.skipped_lines} invalid lines"
        if self.skipped_tasks:
            text += f"; skipped {self.skipped_tasks} invalid tasks"
        if self.refused:
            total = sum(self.refused.values())
            most = sorted(self.refused.items(), key=lambda item: -item[1])
            reasons = "; ".join(f"{reason!r} ({n})" for reason, n in most)
            text += f"; {total} refused by validate_answer: {reasons}"
        if self.interrupted:
            text += "; interrupted, every answer made so far is saved"
        return text + "."


class _StopNow(KeyboardInterrupt):
    """Ctrl-C while the loop waits for its next batch: there is no batch in hand to finish."""


class _StopFlag:
    """Ctrl-C asks the loop to stop after the batch in hand; a second Ctrl-C stops at once.
    While the loop waits for the next batch (a resumed run may read many answered tasks
    before it finds one to ask), no answer is in hand: Ctrl-C then stops the wait at once."""

    def __init__(self) -> None:
        self.stop = False
        self.waiting = False
        self._previous: Any = None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True
        if self.waiting:
            raise _StopNow

    def __exit__(self, *_: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def run_headless(
    recipe: str | Callable[..., Any],
    *args: Any,
    answer: str | Callable[..., Any] = "accept",
    files: Sequence[str | Path] = (),
    argv: list[str] | None = None,
    cli_config: dict[str, Any] | None = None,
    show_progress: bool = True,
    notify: Notify = notify_stderr,
    **kwargs: Any,
) -> HeadlessSummary:
    """Run a recipe without a web view: every task answered by the `answer` policy, saved in
    batches of `batch_size`. `recipe` is a name or an `@recipe` function; `argv` (from the CLI)
    is parsed by the recipe's signature, else `args` and `kwargs` are passed as they are."""
    policy = resolve_policy(answer)
    found = find_recipe(recipe, files, notify)
    if argv is not None:
        from .recipe_args import parse_recipe_args

        kwargs = {**parse_recipe_args(found, argv), **kwargs}
    try:
        run = prepare_run(found, args, kwargs, cli_config=cli_config, notify=notify)
    except NothingToServe:
        return HeadlessSummary(found.name, None, "", nothing_to_serve=True)
    controller = run.controller
    try:
        return _drive(controller, policy, show_progress)
    finally:
        controller.close()
        if controller.db is not None:
            controller.db.close()


def _drive(
    controller: Controller, policy: Callable[..., Any], show_progress: bool
) -> HeadlessSummary:
    from tqdm import tqdm

    controller.start()
    name = "headless-" + time.strftime("%Y%m%d-%H%M%S")
    if controller.config["shared_claims"]:  # workers started in the same second differ
        name += f"-{os.getpid()}"
    session = controller.session_id(name)
    summary = HeadlessSummary(controller.recipe, controller.dataset, session)
    counts = dict.fromkeys(("accept", "reject", "ignore"), 0)
    started = time.monotonic()
    only_verdict = getattr(policy, "only_verdict", False) is True
    adds = prefills(controller.view_id, controller.config.values)
    first = controller.progress(session)
    # As tqdm users read it: "6400/20000 [00:07<00:15, 889 answers/s]". The count is what
    # progress counts (a resumed run's earlier answers too), the total is where progress says
    # 100%, and the rate is this run's average, steady from the first seconds.
    bar = tqdm(
        total=_bar_total(first),
        initial=first.done,
        unit=" answers",
        file=sys.stderr,
        disable=not show_progress,
        desc=controller.recipe,
        mininterval=0.2,
        smoothing=0,
        bar_format=BAR if first.progress is not None else COUNTER,
    )
    next_draw = 0.0
    shown: ProgressInfo | None = None
    try:
        with _StopFlag() as flag:
            while not flag.stop:
                try:
                    flag.waiting = True
                    tasks = controller.get_questions(session)
                except _StopNow:
                    break  # tasks served and not answered stay unanswered, as after a crash
                finally:
                    flag.waiting = False
                if not tasks:
                    break
                # The keys the page's view would add (a text_input's field, a choice's
                # `accept`), so that a policy's answers store what an annotator's would.
                view, config = controller.view_id, controller.config.values
                if only_verdict and not adds:
                    served = True  # a fixed verdict on the served (checked) task, nothing else
                    answered = [policy(task) for task in tasks]
                elif only_verdict:
                    # A fixed verdict changes nothing else of the served (checked) task, and
                    # prefill's values pass the checks; a key prefill adds is checked anyway.
                    served = True
                    answered = []
                    for task in tasks:
                        size = len(task)
                        prefill(task, view, config)
                        served = served and len(task) == size
                        answered.append(policy(task))
                else:
                    served = False
                    answered = [policy(prefill(task, view, config)) for task in tasks]
                result = controller.receive_answers(session, answered, served=served)
                if result.invalid:
                    # The policy's answers, not the annotator's: a bug to fix, not to count.
                    raise AnswerError(
                        f"The answer policy made {len(result.invalid)} answer(s) that can't be "
                        f"saved (the good ones of the batch were): {result.invalid[0]['reason']}"
                    )
                refused = Counter(error["message"] for error in result.errors)
                for reason, n in refused.items():
                    summary.refused[reason] = summary.refused.get(reason, 0) + n
                refused_hashes = {error[TASK_HASH] for error in result.errors}
                for task in answered:
                    verdict = task.get("answer")
                    if verdict in counts and task.get(TASK_HASH) not in refused_hashes:
                        counts[verdict] += 1
                summary.saved += result.saved
                shown = result.progress
                if time.monotonic() >= next_draw:  # the bar redraws 10 times a second at most
                    _advance(bar, shown, summary.saved, started)
                    next_draw = time.monotonic() + 0.1
            if shown is not None:
                _advance(bar, shown, summary.saved, started)  # the last state, drawn by close
            summary.interrupted = flag.stop
    except BaseException:
        bar.leave = False  # clear the bar: the error is then the one line on stderr
        raise
    finally:
        bar.close()
    info = controller.progress(session)
    summary.counts = counts
    summary.progress = info.progress
    summary.seconds = time.monotonic() - started
    stream = controller.stream
    summary.skipped_lines = getattr(getattr(stream, "root", None), "skipped", 0) or 0
    summary.skipped_tasks = controller.skipped
    return summary


BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
COUNTER = "{desc}: {n_fmt} answers [{elapsed}{postfix}]"


def _bar_total(info: ProgressInfo) -> int | None:
    """The answers at which progress says 100%: done / progress (the number of tasks when
    progress counts them; done plus the forecast when it comes from a model's losses)."""
    if info.progress is None:
        return None
    if info.forecast is not None:
        return info.done + info.forecast.remaining
    if info.progress <= 0:
        return info.total
    return max(info.done, round(info.done / info.progress))


def _advance(bar: Any, info: ProgressInfo, saved: int, started: float) -> None:
    if bar.disable:
        return
    total = _bar_total(info)
    if total is not None:
        if bar.total != total:
            bar.total = total
        bar.bar_format = BAR
    bar.n = info.done if info.progress is not None else saved
    rate = saved / max(time.monotonic() - started, 1e-9)
    bar.set_postfix_str(f"{rate:.0f} answers/s", refresh=False)
    bar.update(0)  # redraws within mininterval; close() draws the final state once
