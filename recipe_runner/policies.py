"""Answer policies for headless mode: how each task gets its answer without a person."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import RecipeRunnerError, UsageError

Task = dict[str, Any]
Policy = Callable[[Task], Task]
BUILT_IN = ("accept", "reject", "ignore")


def fixed(verdict: str) -> Policy:
    """Answer every task with `verdict`, keeping the recipe's suggestions as they are."""

    def answer(task: Task) -> Task:
        task["answer"] = verdict
        return task

    answer.__name__ = verdict
    answer.only_verdict = True  # type: ignore[attr-defined]  # see headless._drive
    return answer


def resolve_policy(spec: str | Callable[[Task], Any]) -> Policy:
    """A policy from `accept`/`reject`/`ignore`, `gold:PATH`, `module:function`,
    `path/to/file.py:function`, or a callable."""
    if callable(spec):
        return _wrap(spec, getattr(spec, "__name__", "policy"))
    if spec in BUILT_IN:
        return fixed(spec)
    if spec.startswith("gold:"):
        from .gold import gold_policy

        return gold_policy(spec[len("gold:") :])
    target, sep, func_name = spec.rpartition(":")
    if not sep or not target or not func_name:
        raise UsageError(
            f"Unknown answer policy '{spec}'. Use accept, reject, ignore, gold:PATH, "
            "module:function or path/to/file.py:function."
        )
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise RecipeRunnerError(f"Can't find the answer policy file '{path}'.")
        module_spec = importlib.util.spec_from_file_location(f"rr_policy_{path.stem}", path)
        assert module_spec is not None and module_spec.loader is not None
        module: Any = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as err:
            raise RecipeRunnerError(
                f"Can't import the answer policy module '{target}': {err}."
            ) from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise RecipeRunnerError(
            f"Answer policy '{spec}': '{target}' has no function '{func_name}'."
        )
    return _wrap(func, spec)


def _wrap(func: Callable[[Task], Any], name: str) -> Policy:
    def answer(task: Task) -> Task:
        result = func(task)
        if isinstance(result, str):
            task["answer"] = result
            return task
        if not isinstance(result, dict):
            raise RecipeRunnerError(
                f"Answer policy '{name}' must return a task dict or an answer string, "
                f"not {type(result).__name__}."
            )
        return result

    return answer
