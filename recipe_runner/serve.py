"""`rr run` without --headless: the recipe's controller behind the web view, until Ctrl-C."""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from .errors import RecipeRunnerError
from .recipes import Recipe
from .runner import Notify, notify_stderr, prepare_run


def serve(
    recipe: Recipe,
    kwargs: dict[str, Any],
    cli_config: dict[str, Any] | None = None,
    notify: Notify = notify_stderr,
) -> None:
    """Serve the recipe's web view on config `host`/`port` until Ctrl-C or SIGTERM; then stop
    taking requests, run `on_exit` and close the database. Every acknowledged answer is saved.
    The port is bound before the database is opened: a port in use stops the run before it
    starts, with no dataset created and no `on_exit`."""
    listening: list[socket.socket] = []

    def listen(config: Any) -> None:
        listening.append(bind(config["host"], config["port"]))

    try:
        run = prepare_run(
            recipe, kwargs=kwargs, cli_config=cli_config, shared_claims=True, before_open=listen
        )
        controller = run.controller
        try:
            from .guard import exposure_warning
            from .server import auth_from_env, make_app

            controller.start()
            app = make_app(controller, recipe.name)
            server = make_server(app)
            config = run.config
            exposed = exposure_warning(
                config["host"], config["allowed_hosts"], auth_from_env() is not None
            )
            if exposed:
                notify(exposed)
            notify(f"Serving '{recipe.name}' on {url_of(listening[0])} (Ctrl-C to stop)")
            server.run(sockets=listening)
        finally:
            controller.close()
            if controller.db is not None:
                controller.db.close()
    finally:
        for sock in listening:
            sock.close()
    notify(f"Stopped '{recipe.name}'; every answer sent was saved.")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; a port in use is a one-line error, not a traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise RecipeRunnerError(
            f"Can't serve on host '{host}': {err.strerror}. Set --host or config 'host'."
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise RecipeRunnerError(
                f"Port {port} on {host} is already in use: stop the other server or choose "
                "another port with --port or RR_PORT."
            ) from None
        raise RecipeRunnerError(f"Can't serve on {host}:{port}: {err.strerror}.") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def make_server(app: Any) -> Any:
    """uvicorn for `app` as `rr run` serves it: settings and protocol below."""
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without re-raising the stopping signal once it has shut down, so
        that `on_exit` and the database close still run after SIGTERM."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {
                sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def _stop(self, sig: int, frame: FrameType | None) -> None:
            self.handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    return Server(config)
