"""`rr` as a real subprocess: a server on an ephemeral loopback port, or a headless run, that a
test can SIGKILL. Everything started here is killed when its context ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SERVING = re.compile(r"Serving '.*' on (http://\S+?)/? \(")


def rr_env(home: Path, db_url: str | None = None, **config: object) -> dict[str, str]:
    """The environment of an `rr` subprocess: its own RR_HOME, a database, config overrides."""
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("RR_")}
    env["RR_HOME"] = str(home)
    if db_url is not None and not db_url.startswith("sqlite"):
        env["RR_DB_URL"] = db_url
    if db_url is not None and db_url.startswith("sqlite:///"):
        config.setdefault("db_settings", {"path": db_url[len("sqlite:///") :]})
    if config:
        env["RR_CONFIG_OVERRIDES"] = json.dumps(config)
    return env


def run_rr(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`rr ARGS` run to its end (at most two minutes), its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "recipe_runner", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
    )


@dataclass
class RRServer:
    """A running `rr run` server process."""

    proc: subprocess.Popen[str]
    url: str = ""
    stderr: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._finish()

    def _finish(self) -> None:
        if self.reader is not None:
            self.reader.join(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._finish()


def _drain(proc: subprocess.Popen[str], lines: list[str], found: threading.Event) -> None:
    assert proc.stderr is not None
    with proc.stderr:
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if SERVING.search(line):
                found.set()
    found.set()  # the process ended: stop waiting


def start_server(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> RRServer:
    """`rr run --port 0 ARGS` (a free port on 127.0.0.1); returns once it serves."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "recipe_runner", "run", "--port", "0", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a kill reaches all of it
    )
    server = RRServer(proc)
    found = threading.Event()
    server.reader = threading.Thread(target=_drain, args=(proc, server.stderr, found), daemon=True)
    server.reader.start()
    if not found.wait(timeout) or proc.poll() is not None:
        server.kill()
        raise RuntimeError("rr run did not start serving:\n" + "\n".join(server.stderr))
    for line in server.stderr:
        match = SERVING.search(line)
        if match:
            server.url = match.group(1)
    return server


@contextmanager
def servers() -> Iterator[list[RRServer]]:
    """A list to start servers into; every one still running is killed at the end."""
    started: list[RRServer] = []
    try:
        yield started
    finally:
        for server in started:
            server.kill()


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
