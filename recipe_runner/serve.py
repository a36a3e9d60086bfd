"""`rr run` without --headless: the recipe's controller behind the web view, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
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
    from .server import auth_from_env

    auth = auth_from_env()  # half-set auth stops the run before anything starts
    listening: list[socket.socket] = []

    def listen(config: Any) -> None:
        listening.append(bind(config["host"], config["port"]))

    try:
        run = prepare_run(
            recipe,
            kwargs=kwargs,
            cli_config=cli_config,
            shared_claims=True,
            notify=notify,
            before_open=listen,
        )
        controller = run.controller
        try:
            from .guard import exposure_warning
            from .server import auth_from_env, make_app

            controller.start()
            app = make_app(controller, recipe.name, auth=auth)
            server = make_server(app)
            config = run.config
            exposed = exposure_warning(
                config["host"], config["allowed_hosts"], auth_from_env() is not None
            )
            if exposed:
                notify(exposed)
            notify(f"Serving '{recipe.name}' on {url_of(listening[0])} (Ctrl-C to stop)")
            settle_heap()
            server.run(sockets=listening)
        finally:
            controller.close()
            if controller.db is not None:
                controller.db.close()
    finally:
        for sock in listening:
            sock.close()
    notify(f"Stopped '{recipe.name}'; every answer sent was saved.")


def settle_heap() -> None:
    """Keep what start-up made (modules, the app, a recipe's model) out of the garbage
    collector's full passes: each walks every object the process holds, tens of milliseconds
    with the imports alone, during which no request is answered; objects made before serving
    live as long as the run."""
    gc.collect()
    gc.freeze()


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


# Seconds a connection may take to send a request's headers once it is open, or once it has
# started a new request, and the longest pause in the middle of a request's body: a client that
# never finishes either (a stalled tab, a slowloris) would otherwise hold its connection, and a
# file descriptor, for ever. Idle connections between requests are closed after uvicorn's
# keep-alive timeout (5 s).
HEADER_TIMEOUT = 10.0
BODY_PAUSE_TIMEOUT = 10.0


def guarded_protocol() -> Any:
    """uvicorn's httptools protocol, closing a connection whose request headers are not all in
    within HEADER_TIMEOUT seconds, or whose request body pauses for BODY_PAUSE_TIMEOUT (uvicorn
    only times out a connection idle after a response, and stops the clock at the first byte
    of the next request). The app then sees the client gone, as after any disconnect.

    Each connection notes when it began to wait for the client; one sweep a second closes those
    waiting too long. Measured with bench/load_instructions.py (4 annotators): 1.4% more server
    instructions per batch than uvicorn's protocol as it is; a timer per request, 2.5%."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class Guarded(HttpToolsProtocol):
        # Loop time since which the connection waits for the client, and how long it may;
        # None while the app has the request.
        _waiting_since: float | None = None
        _may_wait = HEADER_TIMEOUT

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._wait(HEADER_TIMEOUT)
            state = self.server_state
            if not getattr(state, "rr_sweeping", False):
                state.rr_sweeping = True  # type: ignore[attr-defined]
                self.loop.call_later(1.0, _sweep, self.loop, self.connections)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._waiting_since is None:
                self._wait(HEADER_TIMEOUT)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._wait(BODY_PAUSE_TIMEOUT)  # done with at once when there is no body

        def on_body(self, body: bytes) -> None:
            self._waiting_since = self.loop.time()
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._waiting_since = None
            super().on_message_complete()

        def _wait(self, seconds: float) -> None:
            self._waiting_since = self.loop.time()
            self._may_wait = seconds

    def _sweep(loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        now = loop.time()
        for conn in list(connections):
            since = getattr(conn, "_waiting_since", None)
            if since is not None and now - since > conn._may_wait:
                conn._waiting_since = None
                if not conn.transport.is_closing():
                    conn.transport.close()
        loop.call_later(1.0, _sweep, loop, connections)

    return Guarded


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
        http=guarded_protocol(),
    )
    return Server(config)
