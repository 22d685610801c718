"""Which browser pages may open the WebSocket: the `Origin` check of the handshake.

A browser always sends its page's Origin; a page of another site must not ride on a user's
session, so its handshake is refused (HTTP 403). A client without an Origin is not a browser.

- `API_ALLOWED_ORIGINS` set: exactly those origins (`*`: any).
- Unset (the default): the server's own origin, for the address each connection came to (the
  ASGI scope's `server`: the local host and port of the socket, whatever `--host`/`--port` say):
  - a connection to a loopback address (127.0.0.1, ::1; a server on 127.0.0.1, or on 0.0.0.0 /
    :: reached locally): the page must be on a loopback name, `127.0.0.1`, `localhost` or
    `[::1]`, on that same port. The Host header is not trusted here, so a page of another site
    whose name resolves to 127.0.0.1 (DNS rebinding) is refused too.
  - any other address (a server on 0.0.0.0 reached over the network, or bound to one address):
    the page must come from the host the request was sent to: Origin `http(s)://<Host header>`.
    A page of another site sends its own Origin and the server's Host, so it is refused. A proxy
    that rewrites Host, or serves the page under another name, needs API_ALLOWED_ORIGINS.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_allowed(origin: str, allowed: list[str]) -> bool:
    """The origin is one of the configured ones (`*`: any)."""
    return "*" in allowed or origin.rstrip("/") in {a.rstrip("/") for a in allowed}


def _host_port(scheme: str, netloc: str) -> tuple[str, int] | None:
    """(lower-case host without brackets, port) of `host[:port]`, the scheme's port by default."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError:
        return None
    if parts.hostname is None or parts.username is not None or parts.password is not None:
        return None
    return parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[scheme]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def own_origin(origin: str, server: tuple[str, int | None] | None, host_header: str | None) -> bool:
    """The origin is the server's own page for a connection that came to `server` (the local
    address of the socket) with this Host header (module docstring)."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or parts.path not in ("", "/") or parts.query or parts.fragment:
        return False
    page = _host_port(scheme, parts.netloc)
    if page is None:
        return False
    if server is not None and server[1] is not None and _is_loopback(server[0]):
        return page[0] in LOOPBACK_NAMES and page[1] == server[1]
    if not host_header:
        return False
    return page == _host_port(scheme, host_header)


def browser_allowed(
    origin: str,
    allowed: list[str] | None,
    server: tuple[str, int | None] | None,
    host_header: str | None,
) -> bool:
    """The configured origins when set, else the server's own origin."""
    if allowed is not None:
        return origin_allowed(origin, allowed)
    return own_origin(origin, server, host_header)
