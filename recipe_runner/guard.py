"""The web view's guard against other web pages in the annotator's browser: requests under a
Host name the server doesn't answer to (DNS rebinding) get 421, cross-site requests to the API
get 403, answers come as JSON only (415), and every response carries the headers that keep the
page out of other pages' frames (the API's replies add them themselves, see server.JSONBytes).
Pure ASGI and a few lookups per request: it sits in front of the two requests of every batch."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The names a loopback server answers to; config `allowed_hosts` adds more.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# Headers of every response. The CSP only says where the page may be framed and what it may
# not load as plugins or base URLs: tasks' `html` and the recipe's own scripts keep working.
SECURITY_HEADERS = [
    (b"content-security-policy", b"frame-ancestors 'self'; base-uri 'self'; object-src 'none'"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
# What browsers say in Sec-Fetch-Site about a request another site's page made.
CROSS_SITE = (b"cross-site", b"same-site")
MAX_HOSTS_KEPT = 256  # Host header values remembered with their verdict


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 with or without brackets) is this machine
    only, so that no other machine can reach a server bound to it."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def host_name(value: str) -> str:
    """A host as Host headers carry it, without its port: lower case, IPv6 in brackets."""
    name = value.strip().lower()
    if name.startswith("["):
        return name[: name.find("]") + 1] if "]" in name else name
    if name.count(":") > 1:  # a bare IPv6 address
        return f"[{name}]"
    return name.split(":", 1)[0]


def allowed_host_names(bound: str, allowed: Iterable[str] | None) -> frozenset[str] | None:
    """The Host names the server answers to; None for any. Bound to loopback: the bound host,
    the loopback names and `allowed`. Bound to another address the server is reached under
    names it can't know, so only `allowed` limits Host, when it is set (`"*"`: any)."""
    extra = {host_name(h) for h in allowed or ()}
    if "*" in extra or (not extra and not is_loopback(bound)):
        return None
    return frozenset({*LOOPBACK_HOSTS, host_name(bound), *extra})


def exposure_warning(bound: str, allowed: list[str] | None, auth: bool) -> str | None:
    """One line for a server other machines can reach without `allowed_hosts` or basic
    auth, saying what is open to them; None when there is nothing to say."""
    if is_loopback(bound) or (allowed and auth):
        return None
    missing = []
    if not auth:
        missing.append(
            "without basic auth (RR_BASIC_AUTH_USER / RR_BASIC_AUTH_PASS): anyone who can "
            "reach it can read the tasks and write answers"
        )
    if not allowed:
        missing.append(
            "without config 'allowed_hosts': any host name is answered, so a web page can "
            "reach it through DNS rebinding"
        )
    return (
        f"Warning: serving on {bound}, which other machines can reach, "
        + "; and ".join(missing)
        + "."
    )


class Guard:
    """The outermost layer of the web view (see the module's docstring)."""

    def __init__(
        self, app: ASGIApp, hosts: frozenset[str] | None, allowed: Iterable[str] | None = None
    ) -> None:
        self.app = app
        self.hosts = hosts
        # Origins are compared with the request's own Host; a proxy that rewrites Host is
        # still allowed the origins of the names in `allowed_hosts`.
        self.origin_hosts = {host_name(h).encode() for h in allowed or ()}
        self._verdicts: dict[bytes, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])  # one C call; a repeated name keeps its last value
        host = headers.get(b"host")
        origin = headers.get(b"origin")
        site = headers.get(b"sec-fetch-site")
        refusal = None
        api = scope["path"].startswith("/api/")
        if host is not None and self.hosts is not None and not self._host_ok(host):
            shown = host.decode("latin-1")[:100]
            refusal = (
                421,
                f"This server does not answer to the host name '{shown}'. Its operator can "
                "add it to config 'allowed_hosts'.",
            )
        elif api:
            if site in CROSS_SITE or (origin is not None and not self._same_origin(origin, host)):
                refusal = (403, "Cross-site request refused: the API answers its own page only.")
            elif scope["method"] == "POST" and not _is_json(headers.get(b"content-type")):
                refusal = (415, "Send the body as JSON, with 'Content-Type: application/json'.")
        if refusal is not None:
            await _refuse(send, *refusal)
            return
        if api:  # the API's replies carry the headers themselves: no wrapper on the hot paths
            await self.app(scope, receive, send)
            return

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_guarded)

    def _host_ok(self, host: bytes) -> bool:
        verdict = self._verdicts.get(host)
        if verdict is None:
            assert self.hosts is not None
            verdict = host_name(host.decode("latin-1")) in self.hosts
            if len(self._verdicts) < MAX_HOSTS_KEPT:
                self._verdicts[host] = verdict
        return verdict

    def _same_origin(self, origin: bytes, host: bytes | None) -> bool:
        """Whether the Origin header names this server as the request reached it."""
        scheme, sep, where = origin.partition(b"://")
        if not sep or scheme not in (b"http", b"https"):
            return False  # "null": a sandboxed frame, a file, a redirect across sites
        if where.lower() == (host or b"").lower():
            return True
        return host_name(where.decode("latin-1")).encode() in self.origin_hosts


def _is_json(kind: bytes | None) -> bool:
    return kind is not None and kind.split(b";", 1)[0].strip().lower() == b"application/json"


async def _refuse(send: Send, status: int, detail: str) -> None:
    await send_json(send, status, json.dumps({"detail": detail}).encode(), SECURITY_HEADERS)


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """A JSON response as its two raw ASGI messages (for the layers in front of FastAPI)."""
    start = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": start + headers})
    await send({"type": "http.response.body", "body": body})
