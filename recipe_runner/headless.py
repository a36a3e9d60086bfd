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
from .runner import Notify, find_recipe, notify_stderr, prepare_run
from .views import prefill


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

    @property
    def failed(self) -> bool:
        """Answers were refused by the recipe's `validate_answer`: the run did not do it all."""
        return bool(self.refused)

    def line(self) -> str:
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


class _StopFlag:
    """Ctrl-C asks the loop to stop after the batch in hand; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.stop = False
        self._previous: Any = None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

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
    run = prepare_run(found, args, kwargs, cli_config=cli_config, notify=notify)
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
    known = controller.progress(session).progress is not None or controller.total is not None
    bar = tqdm(
        total=100 if known else None,
        unit="%" if known else " answers",
        file=sys.stderr,
        disable=not show_progress,
        bar_format="{l_bar}{bar}|{postfix}" if known else None,  # postfix comes with ", "
        desc=controller.recipe,
        mininterval=0.2,
    )
    try:
        with _StopFlag() as flag:
            while not flag.stop:
                tasks = controller.get_questions(session)
                if not tasks:
                    break
                # The keys the page's view would add (a text_input's field, a choice's
                # `accept`), so that a policy's answers store what an annotator's would.
                view, config = controller.view_id, controller.config.values
                answered = [policy(prefill(task, view, config)) for task in tasks]
                result = controller.receive_answers(session, answered)
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
                _advance(
                    bar,
                    known,
                    result.progress.progress,
                    summary.saved,
                    started,
                    result.progress.eta_seconds,
                )
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


def _advance(
    bar: Any, known: bool, progress: float | None, saved: int, started: float, eta: float | None
) -> None:
    if bar.disable:
        return
    if known and progress is not None:
        bar.n = round(progress * 100, 1)
        rate = saved / max(time.monotonic() - started, 1e-9)
        postfix = f"{saved} answers, {rate:.0f}/s"
        if eta is not None and progress < 1:
            postfix += f", ETA {eta:.0f}s"
        bar.set_postfix_str(postfix, refresh=False)
        bar.update(0)  # redraws within mininterval; close() draws the final state once
    else:
        bar.update(saved - bar.n)
