"""A real uvicorn server on an ephemeral loopback port, in a thread, for API and browser tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from recipe_runner.controller import Controller
from recipe_runner.db import Database
from recipe_runner.recipes import Recipe
from recipe_runner.runner import prepare_run
from recipe_runner.serve import bind, url_of
from recipe_runner.server import make_app


@dataclass
class LiveServer:
    url: str
    controller: Controller

    def answers(self, dataset: str | None = None) -> list[dict[str, Any]]:
        """Every answer stored in the dataset, read through a connection of its own."""
        assert self.controller.db is not None
        db = Database(self.controller.db.url)
        try:
            return list(db.iter_answers(dataset or str(self.controller.dataset)))
        finally:
            db.close()


@contextmanager
def live_server(
    func: Callable[..., Any],
    kwargs: dict[str, Any] | None = None,
    cli_config: dict[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
    wrap: Callable[[Any], Any] | None = None,
) -> Iterator[LiveServer]:
    """Serve the recipe `func` on 127.0.0.1 (a free port) until the block ends; `wrap`, when
    given, wraps the ASGI app (to watch its requests)."""
    recipe = Recipe(getattr(func, "_rr_recipe_name", func.__name__), func, "<test>")
    run = prepare_run(recipe, kwargs=kwargs or {}, cli_config=cli_config, shared_claims=True)
    controller = run.controller
    sock = bind("127.0.0.1", 0)
    app = make_app(controller, recipe.name, auth=auth)
    if wrap is not None:
        app = wrap(app)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield LiveServer(url_of(sock).rstrip("/"), controller)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        controller.close()
        if controller.db is not None:
            controller.db.close()
