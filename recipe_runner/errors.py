"""The project's exceptions: library code raises them, only the CLI turns them into exit codes."""

from __future__ import annotations


class RecipeRunnerError(Exception):
    """An expected error: a user's mistake or a missing thing, told in one line."""


class ConfigError(RecipeRunnerError):
    """A config value of the wrong type, or an unreadable config file."""


class SourceError(RecipeRunnerError):
    """A source file that is missing, unreadable or malformed (names the file and line)."""


class RecipeError(RecipeRunnerError):
    """An unknown recipe, a clash of two recipes, or a recipe that returned invalid components."""


class DatasetError(RecipeRunnerError):
    """An unknown or invalid dataset."""


class AnswerError(RecipeRunnerError):
    """An answer that cannot be saved: invalid shape, or rejected by `validate_answer`."""


class RecipeFailure(RecipeRunnerError):
    """A recipe or one of its callbacks raised: told in one line (file, line, error); the
    original exception is kept for `--traceback`."""

    def __init__(self, message: str, original: BaseException) -> None:
        super().__init__(message)
        self.original = original
        self.show_traceback = False  # --traceback was given


class EventError(RecipeRunnerError):
    """An event hook call from the page that can't be made: an unknown hook, a payload the hook
    does not take, or a hook that refused it (ValueError)."""


class UsageError(RecipeRunnerError):
    """A command line that cannot be parsed; the CLI exits with code 2."""


def closest(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """The candidates that look most like `name`, for 'did you mean' messages."""
    import difflib

    found = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    if not found:
        prefix = name.split(".")[0]
        found = [c for c in candidates if c.split(".")[0] == prefix][:n]
    return found
