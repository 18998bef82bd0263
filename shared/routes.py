"""HTTP routes beside ``/mcp``, each behind a guard chosen explicitly, all behind the Host/Origin check.

A server declares its routes in its definition::

    RouteSpec("/api/v1/kpis", list_kpis_api, methods=("GET",), guard=BEARER, summary="The KPI catalog")
    RouteSpec("/webhooks/github", intake, methods=("POST",), guard=Signed(verifier, "GITHUB_WEBHOOK_SECRET"),
              max_body_bytes=25 * 1024 * 1024)

An endpoint is ``async (request, deps) -> Response``. The guards:

- :data:`PUBLIC`: anyone who passes the Host/Origin check (``/health``, ``/ready``);
- :data:`BEARER`: the bearer tokens of ``AFU9_HTTP_TOKENS`` (open only when no token is configured, which the
  kit allows on loopback hosts only); 401 with ``WWW-Authenticate``;
- :class:`Signed`: a signature over the raw body (a GitHub webhook), with its own body limit; 401 when the
  signature is missing or wrong, 503 naming the setting while no secret is configured.

Every route also gets the request size limit (413; ``AFU9_MAX_REQUEST_BYTES`` unless the route sets its own).
:class:`HostCheck` wraps the whole app: a Host header that is not this server's gets 421, a foreign Origin 403.
"""

from __future__ import annotations

import abc
import fnmatch
import functools
import ipaddress
import json
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import TokenVerifier
from mcp.server.transport_security import RequestBodyLimitMiddleware
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "BEARER",
    "PUBLIC",
    "Bearer",
    "Endpoint",
    "Guard",
    "HostCheck",
    "Public",
    "RouteSpec",
    "SignatureCheck",
    "Signed",
]

log = logging.getLogger(__name__)

Endpoint = Callable[[Request, Any], Awaitable[Response]]
"""``async (request, deps) -> Response``."""

SignatureCheck = Callable[[Headers, bytes], bool]
"""``(headers, raw body) -> whether the signature is valid``."""


def _json(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json", headers=headers
    )


class Guard(abc.ABC):
    """Who may call a route. :meth:`wrap` puts the check (and the body limit) around the route's app."""

    name = "guard"

    @abc.abstractmethod
    def wrap(self, app: ASGIApp, *, verifier: TokenVerifier | None, max_body: int | None, deps: Any) -> ASGIApp:
        """The route's app behind this guard and a body limit of ``max_body`` bytes (None: the app limits)."""


class Public(Guard):
    """Anyone who passes the Host/Origin check."""

    name = "public"

    def wrap(self, app: ASGIApp, *, verifier: TokenVerifier | None, max_body: int | None, deps: Any) -> ASGIApp:
        return app if max_body is None else RequestBodyLimitMiddleware(app, max_body)


class Bearer(Guard):
    """A bearer token of ``AFU9_HTTP_TOKENS``; checked before the body is read."""

    name = "bearer"

    def wrap(self, app: ASGIApp, *, verifier: TokenVerifier | None, max_body: int | None, deps: Any) -> ASGIApp:
        inner = app if max_body is None else RequestBodyLimitMiddleware(app, max_body)
        if verifier is None:
            return inner  # no tokens configured: the kit serves HTTP on loopback only
        return _BearerApp(inner, verifier)


class _BearerApp:
    """An ASGI app (a class, so Starlette routes to it as an app) that lets only bearer-token callers in."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier) -> None:
        self.app = app
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        access = await authenticate(Headers(scope=scope), self.verifier)
        if isinstance(access, Response):
            await access(scope, receive, send)
            return
        user = AuthenticatedUser(access)
        scope["user"], scope["auth"] = user, AuthCredentials(access.scopes)
        token = auth_context_var.set(user)  # the audit trail reads the caller from here
        try:
            await self.app(scope, receive, send)
        finally:
            auth_context_var.reset(token)


async def authenticate(headers: Headers, verifier: TokenVerifier) -> Any:
    """The caller's ``AccessToken``, or the 401 response to send (RFC 6750)."""
    header = headers.get("authorization")
    if not header:
        return _json(
            401,
            {"error": "unauthorized", "error_description": "Send Authorization: Bearer <token>."},
            {"WWW-Authenticate": 'Bearer realm="afu9"'},
        )
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _json(
            401,
            {"error": "invalid_request", "error_description": "Use the Bearer scheme: Authorization: Bearer <token>."},
            {"WWW-Authenticate": 'Bearer realm="afu9", error="invalid_request"'},
        )
    access = await verifier.verify_token(token)
    if access is None:
        return _json(
            401,
            {"error": "invalid_token", "error_description": "The bearer token is not accepted."},
            {"WWW-Authenticate": 'Bearer realm="afu9", error="invalid_token"'},
        )
    return access


@dataclass(frozen=True)
class Signed(Guard):
    """A signature over the raw body, checked by ``check(deps)`` (None while not configured: 503 naming
    ``setting``). The body limit applies before the signature is computed."""

    check: Callable[[Any], SignatureCheck | None]
    setting: str
    name = "signed"

    def wrap(self, app: ASGIApp, *, verifier: TokenVerifier | None, max_body: int | None, deps: Any) -> ASGIApp:
        signed = _SignedApp(app, self.check(deps), self.setting)
        return signed if max_body is None else RequestBodyLimitMiddleware(signed, max_body)


class _SignedApp:
    """An ASGI app that lets a request in only when its body's signature checks out."""

    def __init__(self, app: ASGIApp, check: SignatureCheck | None, setting: str) -> None:
        self.app = app
        self.check = check
        self.setting = setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.check is None:
            description = f"Signed deliveries need {self.setting} on the server."
            await _json(503, {"error": "not_configured", "error_description": description})(scope, receive, send)
            return
        messages: list[Any] = []
        body = bytearray()
        while True:  # the body limit in front has already buffered it: this reads it from memory
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                break
        if not self.check(Headers(scope=scope), bytes(body)):
            description = "The signature does not match."
            await _json(401, {"error": "invalid_signature", "error_description": description})(scope, receive, send)
            return

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


PUBLIC = Public()
BEARER = Bearer()


@dataclass(frozen=True)
class RouteSpec:
    """One HTTP route of a server: path, endpoint, methods and its guard (no default: choose one)."""

    path: str
    endpoint: Endpoint
    methods: tuple[str, ...]
    guard: Guard
    summary: str
    max_body_bytes: int | None = None


# -- Host and Origin -------------------------------------------------------------------------------------------

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_LOG_EVERY = 60.0  # seconds between two log lines about the same refused Host/Origin


class HostCheck:
    """Refuses requests for other hosts (421) and from foreign browser origins (403), on every route.

    Accepted Host values: loopback names and addresses; the bound address; IP addresses of this machine's
    interfaces (what an ECS or load-balancer health check sends); and ``allowed_hosts`` (``name``,
    ``name:port`` or ``name:*``; ``*`` turns the check off). Origins: ``http(s)://`` any accepted host, and
    ``allowed_origins``.
    """

    def __init__(
        self, app: ASGIApp, *, bound_host: str, allowed_hosts: Sequence[str], allowed_origins: Sequence[str]
    ) -> None:
        self.app = app
        self.off = "*" in allowed_hosts
        bound = bound_host.strip("[]").lower()
        self.bound = "" if bound in ("0.0.0.0", "::", "") else bound  # a wildcard bind names no host
        self.patterns = [pattern.lower() for pattern in allowed_hosts]
        self.origins = {origin.rstrip("/").lower() for origin in allowed_origins}
        self._logged: OrderedDict[str, float] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.off:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if not self.host_allowed(host):
            self._log("Host", host)
            response = _json(
                421,
                {
                    "error": "misdirected_request",
                    "error_description": f"This server does not answer to Host {_shown(host)}. An operator can "
                    "add the name to AFU9_ALLOWED_HOSTS.",
                },
            )
            await response(scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin):
            self._log("Origin", origin)
            response = _json(
                403,
                {
                    "error": "forbidden_origin",
                    "error_description": f"Requests from Origin {_shown(origin)} are refused. An operator can "
                    "add it to AFU9_ALLOWED_ORIGINS.",
                },
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def host_allowed(self, header: str) -> bool:
        name, port = _split_host(header)
        if not name:
            return False
        if name in _LOOPBACK_NAMES or (self.bound and name == self.bound) or _is_local_ip(name):
            return True
        return any(_matches(pattern, name, port) for pattern in self.patterns)

    def origin_allowed(self, origin: str) -> bool:
        if origin.rstrip("/").lower() in self.origins:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        return self.host_allowed(parts.netloc)

    def _log(self, what: str, value: str) -> None:
        now = time.monotonic()
        key = f"{what}:{value[:200]}"
        last = self._logged.get(key)
        if last is not None and now - last < _LOG_EVERY:
            return
        self._logged[key] = now
        self._logged.move_to_end(key)
        while len(self._logged) > 256:
            self._logged.popitem(last=False)
        setting = "AFU9_ALLOWED_HOSTS" if what == "Host" else "AFU9_ALLOWED_ORIGINS"
        log.warning("refused a request for a foreign %s %s; allow it with %s", what, _shown(value), setting)


def _shown(value: str) -> str:
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in value[:100])
    return repr(cleaned + ("…" if len(value) > 100 else ""))


def _split_host(header: str) -> tuple[str, str | None]:
    header = header.strip().lower()
    if header.startswith("["):  # [v6]:port
        end = header.find("]")
        if end < 0:
            return "", None
        rest = header[end + 1 :]
        return header[1:end], rest[1:] if rest.startswith(":") else None
    name, sep, port = header.rpartition(":")
    if not sep or ":" in name:  # no port, or a bare IPv6 address
        return header, None
    return name, port


def _matches(pattern: str, name: str, port: str | None) -> bool:
    pattern_name, pattern_port = _split_host(pattern)
    if not fnmatch.fnmatchcase(name, pattern_name):
        return False
    return pattern_port is None or pattern_port == "*" or pattern_port == port


@functools.lru_cache(maxsize=1024)
def _is_local_ip(name: str) -> bool:
    """Whether ``name`` is an IP literal of this machine (loopback, or assigned to one of its interfaces)."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    if address.is_unspecified or address.is_multicast:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(address), 0))  # only an address of one of our interfaces can be bound
    except OSError:
        return False
    return True
