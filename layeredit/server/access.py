"""Who may talk to the server: a bearer token, and the host names it answers to.

The Host check stops DNS rebinding: a web page on evil.example whose name is re-pointed at
127.0.0.1 reaches a local server, but its requests say ``Host: evil.example``. The token (from
``--token`` or ``$LAYEREDIT_TOKEN``) guards every endpoint but ``/healthz`` and the editor's page
and scripts; a browser passes it once as ``/?token=...`` and keeps it in a same-site cookie.

Cross-site requests are refused with or without a token: a page on another site can make a
visitor's browser POST a multipart form to a local server (queue work, fill the disk) without
reading the answer. A browser says where a request comes from (``Origin``, ``Sec-Fetch-Site``), so
an API request that carries either must come from this server's own origin (or a ``--cors``
origin), and a state-changing one must also carry the ``X-Layeredit`` header (the editor's
scripts send it) or the bearer token: a page on another site cannot add a header without a CORS
preflight, which is refused. Clients that are not browsers (curl, Python) send neither, and
cannot be made to send a request by a web page.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "layeredit_token"
# Loopback names, and Starlette's test client ("testserver"), which never leaves the process.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "testserver")
PUBLIC_PATHS = ("/healthz", "/", "/favicon.ico")
PUBLIC_PREFIXES = ("/static/",)
CLIENT_HEADER = "x-layeredit"  # sent by the web editor on every call; a foreign page cannot send it
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# What Sec-Fetch-Site says of a request made by this server's own page or typed by the user.
OWN_FETCH_SITES = ("same-origin", "none")


@dataclass(frozen=True)
class AccessPolicy:
    """``token``: required bearer token (None: no authentication); ``hosts``: Host names accepted
    (``*`` accepts any); ``cors_origins``: web origins allowed to call the API from a browser."""

    token: str | None = None
    hosts: tuple[str, ...] = LOCAL_HOSTS
    cors_origins: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def build(cls, token: str | None, hosts: Iterable[str] = (), cors: Iterable[str] = ()) -> AccessPolicy:
        extra = tuple(h.strip().lower() for h in hosts if h.strip())
        return cls(token=token or None, hosts=LOCAL_HOSTS + extra, cors_origins=tuple(cors))


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header, without the port: ``[::1]:7860`` -> ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class AccessGuard:
    """ASGI middleware applying an :class:`AccessPolicy` before any route runs."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = host_name(headers.get("host", ""))
        if "*" not in self.policy.hosts and host not in self.policy.hosts:
            await _refuse(send, 400, f"this server does not answer to the host {host[:80]!r}; "
                                     "start it with --allow-host NAME to accept that name")  # fmt: skip
            return
        token = self.policy.token
        path = scope["path"]
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        refusal = None if public else self._cross_site(scope["method"], headers)
        if refusal is not None:
            await _refuse(send, 403, refusal)
            return
        if token is None or public:
            if token is not None and path == "/":
                await self._editor_page(scope, receive, send, token)
                return
            await self.app(scope, receive, send)
            return
        if not _presented(headers, token):
            await _refuse(send, 401, "missing or wrong token: send the header 'Authorization: Bearer TOKEN'",
                          [(b"www-authenticate", b"Bearer")])  # fmt: skip
            return
        await self.app(scope, receive, send)

    def _cross_site(self, method: str, headers: dict[str, str]) -> str | None:
        """Why a browser request from another site is refused, or None for one this server may answer."""
        origin = headers.get("origin")
        allowed = origin is not None and origin in self.policy.cors_origins
        if origin is not None and not allowed and _origin_host(origin) != headers.get("host", "").lower():
            return (
                f"requests from the web page at {origin[:80]!r} are refused; "
                "start the server with --cors ORIGIN to allow that page"
            )
        site = headers.get("sec-fetch-site")
        if site is not None and site not in OWN_FETCH_SITES and not allowed:
            return f"{site[:20]} requests are refused: use the editor this server serves, or curl"
        browser = origin is not None or site is not None
        vouched = CLIENT_HEADER in headers or "authorization" in headers  # neither is sent cross-site
        if browser and method not in SAFE_METHODS and not vouched:
            return (
                f"a browser request that changes something needs the header '{CLIENT_HEADER}: 1' or a token"
            )
        return None

    async def _editor_page(self, scope: Scope, receive: Receive, send: Send, token: str) -> None:
        """The page, setting the token cookie when it was given as ``?token=``; its API calls carry it."""
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            await self.app(scope, receive, send)
            return

        async def with_cookie(message: dict) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
                headers = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_cookie)


def _origin_host(origin: str) -> str:
    """``http://localhost:7860`` -> ``localhost:7860``, to compare with the Host header."""
    return origin.partition("://")[2].rstrip("/").lower()


def _presented(headers: dict[str, str], token: str) -> bool:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
        return True
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed cookie header is simply no token
        return False
    morsel = cookie.get(COOKIE)
    return morsel is not None and hmac.compare_digest(morsel.value.encode(), token.encode())


async def _refuse(send: Send, status: int, detail: str, extra: list | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
