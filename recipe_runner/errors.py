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


class NotAllowedError(RecipeRunnerError):
    """A session that config `allowed_sessions` leaves out; the web view answers 403."""


class StoreUnavailable(RecipeRunnerError):
    """The database can't be reached, or stayed locked longer than `db_settings.timeout`:
    nothing was changed; trying again later may work (the web view answers 503)."""


class StoreBroken(RecipeRunnerError):
    """The database file is read-only or corrupt: nothing was changed, and trying again won't
    help until the file is mended (the web view answers 500, and the page stops retrying)."""


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


# Words of SQLite's messages for a database file that retrying won't mend, and what to call it.
BROKEN_DATABASE = {
    "readonly database": "read-only",
    "read-only": "read-only",
    "file is not a database": "not a database (corrupt, or another kind of file)",
    "malformed": "corrupt",
}


def broken_database(err: BaseException) -> str | None:
    """What is wrong with the database file, when a driver's error says it is read-only or
    corrupt (a permanent state, unlike an outage); None otherwise."""
    text = str(err).lower()
    for marker, what in BROKEN_DATABASE.items():
        if marker in text:
            return what
    return None


def closest(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """The candidates that look most like `name`, for 'did you mean' messages."""
    import difflib

    found = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    if not found:
        prefix = name.split(".")[0]
        found = [c for c in candidates if c.split(".")[0] == prefix][:n]
    return found
