"""The HTTP rules every request passes before it reaches a route: the defences a server on
loopback needs against the web pages its user has open.

- ``Host`` must name this server (DNS rebinding: a page on ``evil.example`` whose name is made
  to resolve to 127.0.0.1 would otherwise read the API as its own origin): the loopback names,
  the address it listens on and the names its user allowed; when it listens on every address,
  any IP address too (a page cannot be served from an IP address it does not own).
- State-changing requests (POST, PUT, PATCH, DELETE) come from the page's own origin (a
  cross-site ``Origin`` or ``Sec-Fetch-Site`` is refused) and say ``Content-Type:
  application/json``, which no cross-site form or simple request can send (CSRF).
- A body is at most ``max_body`` bytes, counted while it is read: a larger ``Content-Length``
  is refused before reading, and a chunked body is cut off at the limit, never buffered whole.
- Path and query string are UTF-8 once percent-decoded; other bytes would reach the routes as
  replacement characters, a word nobody typed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes, urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
EVERY_ADDRESS = ("0.0.0.0", "::", "")
MAX_BODY = 64 * 1024
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HOST = re.compile(
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>\d{1,5}))?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_OWN_PAGE_ONLY = "requests that change state come only from this server's page"


class HostNames:
    """The names a server answers to: the loopback names, the address it listens on (``host``)
    and ``allowed``; when ``host`` is every address (0.0.0.0, ::), any IP address as well.
    ``"*"`` in ``allowed`` turns the check off (a proxy in front of the server checks it)."""

    def __init__(self, host: str = "127.0.0.1", allowed: Iterable[str] = ()) -> None:
        allowed = [_normal(name) for name in allowed]
        self.any_name = "*" in allowed
        self.any_address = _normal(host) in EVERY_ADDRESS
        self.names = frozenset(LOOPBACK_NAMES) | {_normal(host)} | set(allowed)
        self.allowed = frozenset(allowed)

    def __contains__(self, name: str) -> bool:
        name = _normal(name)
        return self.any_name or name in self.names or (self.any_address and _is_address(name))


class RequestGuard:
    """ASGI middleware enforcing the module's rules; a refusal is a JSON ``{"detail": ...}``
    with one line saying what to change (400 host, 403 origin, 413 size, 415 content type)."""

    def __init__(self, app: ASGIApp, *, hosts: HostNames, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.hosts = hosts
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, detail = refusal
            await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
            return
        await self.app(scope, self._bounded(receive), send)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = Headers(scope=scope)
        host = _HOST.fullmatch(headers.get("host", ""))
        name = host and (host["v6"] or host["name"])
        if not name or name not in self.hosts:
            shown = headers.get("host", "")[:100]
            return 400, (
                f"this server does not answer to the host {shown!r}; start it with "
                f"--allow-host NAME to reach it by another name"
                if shown
                else "a request needs a Host header"
            )
        for part, raw in (("path", scope.get("raw_path") or b""), ("query", scope["query_string"])):
            try:
                unquote_to_bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                return 400, f"the {part} is not UTF-8 (percent-encoded bytes must spell UTF-8 text)"
        if scope["method"] not in STATE_CHANGING:
            return None
        origin = headers.get("origin")
        if origin is not None and not self._same_origin(origin, scope, host):
            return 403, f"{_OWN_PAGE_ONLY}, not {origin[:80]!r}"
        if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return 403, f"{_OWN_PAGE_ONLY}, not another site's"
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return 415, "send the request as JSON (Content-Type: application/json)"
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self.max_body:
            return 413, f"the request body is over {self.max_body:,} bytes"
        return None

    def _same_origin(self, origin: str, scope: Scope, host: re.Match[str]) -> bool:
        """``origin`` is this request's own (scheme, host, port), or names a host its user
        allowed (a proxy in front of the server: the page's origin is the proxy's)."""
        try:
            parts = urlsplit(origin)
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            return False
        if parts.hostname is None or parts.path or parts.query:
            return False
        if _normal(parts.hostname) in self.hosts.allowed or self.hosts.any_name:
            return True
        scheme = scope.get("scheme", "http")
        own_port = int(host["port"]) if host["port"] else _DEFAULT_PORTS.get(scheme)
        own_name = host["v6"] or host["name"]
        return (parts.scheme, _normal(parts.hostname), port) == (
            scheme,
            _normal(own_name),
            own_port,
        )

    def _bounded(self, receive: Receive) -> Receive:
        """``receive`` that refuses the body (413) once more than ``max_body`` bytes came."""
        received = 0

        async def bounded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(413, f"the request body is over {self.max_body:,} bytes")
            return message

        return bounded


def _normal(name: str) -> str:
    return name.strip("[]").rstrip(".").lower()


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
