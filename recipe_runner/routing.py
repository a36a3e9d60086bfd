"""Who annotates what, when several sessions share a dataset: `annotations_per_task` and the
`task_router` component, over every server process on one database.

Each task a session reads from the stream enters the dataset's pool (`route_tasks`), with the
sessions a router chose for it (or none: any session, up to N). A session is served, in order,
the tasks it holds, then pooled tasks it may still take (those others already answered come
before new ones), then new tasks from the stream. A session takes a task by a claim of its own
(scope = its session id) in a transaction that first counts, under a lock, the sessions that
answered or hold the task: so no task goes to more than N sessions nor twice to one, whatever
the number of servers. The pool and the claims are in the database: restart every server and
the same tasks go to the same sessions. The pool and its claims: `db/routes.py`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Task = dict[str, Any]
TaskRouter = Callable[[Any, str, Task], list[str]]


# built-in routers: ordinary functions a recipe may return as its `task_router` --------------
def no_overlap(ctrl: Any, session_id: str, task: Task) -> list[str]:
    """Each task to the session that reads it first, and to no other."""
    return [session_id]


def full_overlap(ctrl: Any, session_id: str, task: Task) -> list[str]:
    """Each task to every session: those of `allowed_sessions` when set, else every session
    the run knows of."""
    return sorted({session_id, *ctrl.team_sessions()})


def route_average_per_task(n: float) -> TaskRouter:
    """A router that gives each task to `n` sessions on average (2.5: half the tasks to 2,
    half to 3): the session reading it, then those with the fewest tasks routed so far. The
    choice of 2 or 3 is drawn from the task's hash, so every server makes the same."""
    if n < 1:
        raise ValueError("route_average_per_task: n must be at least 1.")

    def router(ctrl: Any, session_id: str, task: Task) -> list[str]:
        whole = int(n)
        draw = random.Random(task.get("_task_hash", 0)).random()
        wanted = whole + (1 if draw < n - whole else 0)
        others = [s for s in ctrl.team_sessions() if s != session_id]
        load = ctrl.routed_counts()
        others.sort(key=lambda s: (load.get(s, 0), s))
        return [session_id, *others[: wanted - 1]]

    router.__name__ = f"route_average_per_task({n:g})"
    return router
