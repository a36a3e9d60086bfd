"""The floor of bench/load.py: a bare ASGI app behind `rr run`'s uvicorn, with canned replies.

Run by bench/load.py as `python bench/bare_server.py`; it prints its URL on stderr like `rr run`.
It answers GET /api/questions with 10 new tasks and POST /api/answers (read in full) with a
fixed reply of the same shape as the real ones: no controller, no database. What the load client
measures against it is the cost and latency of uvicorn, the loopback and the client themselves.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any

import orjson

from recipe_runner.serve import bind, make_server, url_of

SAVED = orjson.dumps(
    {
        "saved": 10,
        "progress": 0.5,
        "total": 1000,
        "eta_seconds": 60.0,
        "stats": {
            "session": {"accept": 5, "reject": 3, "ignore": 2, "total": 10},
            "dataset": {"accept": 50, "reject": 30, "ignore": 20, "total": 100},
        },
        "errors": [],
        "session": "load-a0",
    }
)
TEXT = "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005."
numbers = itertools.count()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        while (await receive()).get("more_body"):
            pass
        body = SAVED
    else:
        first = next(numbers) * 10
        tasks = [
            {"text": TEXT, "meta": {"line": n}, "_input_hash": n, "_task_hash": n}
            for n in range(first, first + 10)
        ]
        body = orjson.dumps({"tasks": tasks, "progress": 0.5, "total": 1000, "session": "x"})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    sock = bind("127.0.0.1", 0)
    print(f"Serving the bare app on {url_of(sock)}", file=sys.stderr, flush=True)
    make_server(app).run(sockets=[sock])


if __name__ == "__main__":
    main()
