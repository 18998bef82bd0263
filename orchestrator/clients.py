"""The orchestrator's MCP clients: which servers there are (:func:`load_servers`, from an ``mcp.json``) and
the pool that calls their tools (:class:`ClientPool`).

The pool keeps one MCP session per server, opened on first use and shared by every call, whichever task
makes it. An MCP ``Client`` lives in anyio cancel scopes that must be left by the task that entered them, so
each session is owned by a background task of its own: it enters the client, says the session is ready (or
why it is not), and leaves the client when the session is closed. A call never raises for a failure: it
returns a :class:`CallOutcome` whose ``error_class`` says what kind of failure it was.

    error_class      what happened
    timeout          no answer within the call's timeout (or the server answered JSON-RPC -32001)
    transport        the server could not be started or reached, or the connection broke (-32000);
                     the session is dropped and the next call opens a new one
    unavailable      the tool said a dependency cannot be reached now (``_meta["afu9/outcome"]`` or its text)
    rate_limited     the tool said an upstream rate limit is exhausted
    tool_error       the tool failed for another reason its text explains
    protocol_error   unknown server, a JSON-RPC error, a result the SDK refused, or arguments the tool refused
                     when ``_meta["afu9/outcome"]`` says ``invalid_arguments``
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast
from urllib.parse import urlsplit

from orchestrator.catalog import list_tools as list_every_tool
from shared.errors import ConfigError
from shared.redaction import REDACTED, redact_text, redact_value

if TYPE_CHECKING:
    import anyio
    from mcp import Client
    from mcp.types import CallToolResult, Tool

__all__ = [
    "CallFailed",
    "CallOutcome",
    "ClientPool",
    "ErrorClass",
    "ServerSpec",
    "load_servers",
]

log = logging.getLogger(__name__)

ErrorClass = Literal["timeout", "transport", "unavailable", "rate_limited", "tool_error", "protocol_error"]

CONFIG_SETTING = "AFU9_MCP_CONFIG"
TRANSPORT_SETTING = "AFU9_ORCHESTRATOR_TRANSPORT"
_PREFIX = "afu9-"
_HTTP_SUFFIX = "-http"
_VARIABLE = re.compile(r"\$\{(env:)?([^}]*)\}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ERROR_TEXT_CHARS = 2000
_REASON_CHARS = 300
_SSE_READ_TIMEOUT = 300.0  # seconds an HTTP response stream may stay silent (the SDK's default)
_STARTUP_GRACE = 1.0  # seconds a caller waits past connect_timeout for the owner task to report
_CLOSE_TIMEOUT = 15.0  # seconds aclose() waits for each session to end before cancelling its task
_WEDGED_AFTER = 3  # consecutive timeouts after which a stdio session counts as wedged and is replaced
_SESSION_GONE = "Session terminated"  # the SDK's error for an HTTP 404 on a session the server no longer knows
_MIN_SECRET_CHARS = 4  # shorter configured values are not scrubbed from messages (they would mangle text)


# -- configuration ------------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ServerSpec:
    """How to reach one MCP server. ``env`` is what the ``mcp.json`` entry sets; ``inherited_env`` the
    ``AFU9_*`` settings of the orchestrator's environment, which a stdio child also gets (:meth:`child_env`).
    Arguments, environment values, headers and the URL's query may hold secrets: ``repr`` shows only
    :meth:`describe` and the timeouts."""

    name: str
    transport: Literal["stdio", "http"]
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict[str, str])
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    timeout: float = 60.0
    connect_timeout: float = 30.0
    inherited_env: Mapping[str, str] = field(default_factory=dict[str, str])

    def __post_init__(self) -> None:
        if self.transport == "stdio" and not self.command:
            raise ValueError(f"server {self.name!r}: a stdio server needs a command")
        if self.transport == "http" and not self.url:
            raise ValueError(f"server {self.name!r}: an HTTP server needs a url")
        if not (self.timeout > 0 and self.connect_timeout > 0):
            raise ValueError(f"server {self.name!r}: timeouts must be positive")

    def __repr__(self) -> str:
        return f"ServerSpec({self.describe()!r}, timeout={self.timeout:g}, connect_timeout={self.connect_timeout:g})"

    def describe(self) -> str:
        """One line naming the server and how it is reached: the command's name or the URL without user,
        query or fragment; never arguments, environment or header values."""
        if self.transport == "http":
            return f"{self.name} over HTTP at {_bare_url(self.url or '')}"
        return f"{self.name} over stdio ({Path(self.command or '').name})"

    def child_env(self) -> dict[str, str]:
        """The environment of a stdio child: the SDK's safe default (PATH, HOME...), the inherited ``AFU9_*``
        settings, then the entry's own ``env`` (it wins)."""
        from mcp.client.stdio import get_default_environment

        return get_default_environment() | dict(self.inherited_env) | dict(self.env)

    def secrets(self) -> list[str]:
        """Configured values that must never appear in a message, longest first: header values (and the token
        of an ``Authorization`` header), the URL's query, and environment values under a secret-looking name."""
        values = {*self.headers.values(), *(v.partition(" ")[2] for v in self.headers.values())}
        if self.url and (query := urlsplit(self.url).query):
            values.add(query)
        env = {**self.inherited_env, **self.env}
        values |= {value for key, value in env.items() if redact_value({key: value}) != {key: value}}
        return sorted((v for v in values if len(v) >= _MIN_SECRET_CHARS), key=len, reverse=True)


def load_servers(path: Path, environ: Mapping[str, str]) -> dict[str, ServerSpec]:
    """The servers of an ``mcp.json`` (``{"mcpServers": {name: entry}}``) by logical name.

    ``afu9-<name>`` is server ``<name>`` and ``afu9-<name>-http`` its HTTP alternative: the setting
    ``AFU9_ORCHESTRATOR_TRANSPORT`` (``stdio``, the default, or ``http``) picks one of the two where both exist,
    else the one there is. Other entries keep their name. In ``command``, ``args``, ``cwd``, ``url`` and the
    values of ``env`` and ``headers``, ``${workspaceFolder}`` is the folder of the file and ``${VAR}`` or
    ``${env:VAR}`` the variable of ``environ``. Optional entry fields: ``timeout`` and ``connect_timeout``
    (seconds), ``headers``, ``bearer_token_env`` (a variable whose value is sent as ``Authorization: Bearer
    ...``; it replaces such a header), ``env``, ``cwd``. Only the chosen entries are resolved, so an unused
    alternative may name variables that are not set.

    Raises:
        ConfigError: the file cannot be read or is not a valid configuration (naming the file and what is
            wrong), or a variable an entry uses is not set (naming the variable and the entry, not a value).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(CONFIG_SETTING, f"cannot read {path} ({type(error).__name__})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise ConfigError(CONFIG_SETTING, f"{path} is not valid JSON: {error.msg} at {where}") from None
    entries = document.get("mcpServers") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise ConfigError(CONFIG_SETTING, f'{path} has no "mcpServers" object')
    wanted = environ.get(TRANSPORT_SETTING, "").strip().lower() or "stdio"
    if wanted not in ("stdio", "http"):
        raise ConfigError(TRANSPORT_SETTING, f"must be stdio or http, not {wanted[:40]!r}")

    variants: dict[str, dict[bool, str]] = {}  # logical name -> {is the -http alternative: entry key}
    for key in cast("dict[str, Any]", entries):
        name, alternative = key, False
        if key.startswith(_PREFIX) and len(key) > len(_PREFIX):
            name = key.removeprefix(_PREFIX)
            if name.endswith(_HTTP_SUFFIX) and len(name) > len(_HTTP_SUFFIX):
                name, alternative = name.removesuffix(_HTTP_SUFFIX), True
        if alternative in variants.setdefault(name, {}):
            other = variants[name][alternative]
            raise ConfigError(CONFIG_SETTING, f"{path}: entries {other!r} and {key!r} both define server {name!r}")
        variants[name][alternative] = key

    inherited = {k: v for k, v in environ.items() if k.startswith("AFU9_")}
    folder = str(path.resolve().parent)
    specs: dict[str, ServerSpec] = {}
    for name, keys in variants.items():
        http_first = wanted == "http"
        chosen = keys.get(http_first) or keys[not http_first]
        for key in keys.values():
            resolver = _Resolver(path, key, folder, environ) if key == chosen else None
            spec = _entry(path, key, name, entries[key], resolver, inherited)
            if key == chosen:
                specs[name] = spec
    return specs


class _Resolver:
    """Substitutes ``${...}`` in the values of one entry."""

    def __init__(self, path: Path, key: str, folder: str, environ: Mapping[str, str]) -> None:
        self.path, self.key, self.folder, self.environ = path, key, folder, environ

    def __call__(self, value: str) -> str:
        def replace(match: re.Match[str]) -> str:
            prefixed, variable = match.group(1), match.group(2)
            if variable == "workspaceFolder" and not prefixed:
                return self.folder
            if not _VARIABLE_NAME.fullmatch(variable):
                raise ConfigError(
                    CONFIG_SETTING, f"{self.path}: entry {self.key!r} uses {match.group(0)[:60]!r}, not a variable"
                )
            if variable not in self.environ:
                raise ConfigError(variable, f"entry {self.key!r} of {self.path} uses ${{{variable}}}, which is not set")
            return self.environ[variable]

        return _VARIABLE.sub(replace, value)

    def variable(self, variable: str) -> str:
        """The value of a variable an entry names (``bearer_token_env``)."""
        if variable not in self.environ:
            raise ConfigError(variable, f"entry {self.key!r} of {self.path} names {variable}, which is not set")
        return self.environ[variable]


def _entry(
    path: Path, key: str, name: str, raw: object, resolve: _Resolver | None, inherited: Mapping[str, str]
) -> ServerSpec:
    """One entry checked (and, with ``resolve``, its variables substituted)."""

    def wrong(what: str) -> ConfigError:
        return ConfigError(CONFIG_SETTING, f"{path}: entry {key!r}: {what}")

    if not isinstance(raw, dict):
        raise wrong("is not an object")
    entry = cast("dict[str, Any]", raw)
    sub = resolve or (lambda value: value)

    def text(field_name: str, *, required: bool = False) -> str | None:
        value = entry.get(field_name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise wrong(f'"{field_name}" must be a non-empty string')
        return sub(value)

    def texts(field_name: str) -> dict[str, str]:
        value = entry.get(field_name, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in cast("dict[Any, Any]", value).values()):
            raise wrong(f'"{field_name}" must be an object of strings')
        return {str(k): sub(v) for k, v in cast("dict[str, str]", value).items()}

    def seconds(field_name: str, default: float) -> float:
        value = entry.get(field_name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
            raise wrong(f'"{field_name}" must be a number of seconds > 0')
        return float(value)

    kind = entry.get("type", "stdio" if "command" in entry else "http" if "url" in entry else None)
    if kind in ("streamable-http", "streamableHttp"):
        kind = "http"
    if kind not in ("stdio", "http"):
        raise wrong(f'"type" must be "stdio" or "http", not {str(kind)[:40]!r}')
    timeout, connect_timeout = seconds("timeout", 60.0), seconds("connect_timeout", 30.0)
    if kind == "http":
        url = text("url", required=True) or ""
        if urlsplit(url).scheme not in ("http", "https"):
            raise wrong('"url" must be an http:// or https:// URL')
        headers = texts("headers")
        token_env = entry.get("bearer_token_env")
        if token_env is not None:
            if not isinstance(token_env, str) or not _VARIABLE_NAME.fullmatch(token_env):
                raise wrong('"bearer_token_env" must be the name of an environment variable')
            headers["Authorization"] = f"Bearer {resolve.variable(token_env) if resolve else ''}"
        return ServerSpec(name, "http", url=url, headers=headers, timeout=timeout, connect_timeout=connect_timeout)
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in cast("list[Any]", args)):
        raise wrong('"args" must be a list of strings')
    return ServerSpec(
        name,
        "stdio",
        command=text("command", required=True),
        args=tuple(sub(a) for a in cast("list[str]", args)),
        env=texts("env"),
        cwd=text("cwd"),
        timeout=timeout,
        connect_timeout=connect_timeout,
        inherited_env=dict(inherited),
    )


def _bare_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


# -- outcomes -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallOutcome:
    """What one tool call came to. ``result`` is a JSON value when ``ok`` (the structured content, else the text
    parsed as JSON when it parses, else the text; ``None`` without text) and ``None`` when not; ``error`` is a
    short message without secrets and ``error_class`` its kind (see the module docstring)."""

    ok: bool
    result: Any = None
    error: str | None = None
    error_class: ErrorClass | None = None
    duration_ms: int = 0


class CallFailed(Exception):
    """A :meth:`ClientPool.list_tools` that failed; ``error_class`` is classified as for a call."""

    def __init__(self, message: str, error_class: ErrorClass) -> None:
        super().__init__(message)
        self.error_class: ErrorClass = error_class


_OUTCOME_CLASSES: dict[str, ErrorClass] = {
    "unavailable": "unavailable",
    "rate_limited": "rate_limited",
    "invalid_arguments": "protocol_error",
    "unknown_tool": "protocol_error",
}


def _result_value(result: CallToolResult) -> Any:
    if result.structured_content is not None:
        return result.structured_content
    text = _text_of(result)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _text_of(result: CallToolResult) -> str | None:
    parts = [block.text for block in result.content if block.type == "text"]
    return "\n".join(parts) if parts else None


def _tool_error_class(result: CallToolResult) -> ErrorClass:
    outcome = (result.meta or {}).get("afu9/outcome")
    if isinstance(outcome, str):
        return _OUTCOME_CLASSES.get(outcome, "tool_error")
    text = (_text_of(result) or "").lower()
    if "rate limit" in text:
        return "rate_limited"
    if any(phrase in text for phrase in ("unavailable", "cannot be reached", "try again")):
        return "unavailable"
    return "tool_error"


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in cast("BaseExceptionGroup[BaseException]", error).exceptions:
            yield from _leaves(inner)
    else:
        yield error


def _classify(error: BaseException) -> tuple[ErrorClass, BaseException]:
    """The class of an exception a call raised, and the (innermost) exception that decided it."""
    import anyio
    import httpx2
    from mcp import MCPError
    from mcp.types import CONNECTION_CLOSED, INVALID_REQUEST, REQUEST_TIMEOUT

    leaves = list(_leaves(error)) or [error]
    for leaf in leaves:
        if isinstance(leaf, TimeoutError) or (isinstance(leaf, MCPError) and leaf.code == REQUEST_TIMEOUT):
            return "timeout", leaf
    broken = (OSError, httpx2.TransportError, anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)
    for leaf in leaves:
        if isinstance(leaf, broken) or (isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED):
            return "transport", leaf
        if isinstance(leaf, MCPError) and leaf.code == INVALID_REQUEST and leaf.message == _SESSION_GONE:
            return "transport", leaf  # an HTTP server that forgot the session (restarted): open a new one
    return "protocol_error", leaves[0]


def _reason(error: BaseException) -> str:
    """``Type: first line`` of the innermost exception of ``error``."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = cast("BaseExceptionGroup[BaseException]", error).exceptions[0]
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


# -- the pool -----------------------------------------------------------------------------------------------


class _Unreachable(Exception):
    """A session could not be opened; the message says why (already scrubbed)."""


@dataclass(eq=False)
class _Session:
    """One server's session and what its owner task reports: ``ready`` is set once ``client`` is open or the
    attempt failed (``failure``); ``closing`` asks the owner to leave the client; ``done`` is set once it has."""

    server: str
    ready: anyio.Event
    closing: anyio.Event
    done: anyio.Event
    scope: anyio.CancelScope | None = None  # the owner's, which bounds connecting
    client: Client | None = None
    failure: str | None = None
    timeouts: int = 0  # consecutive timed-out calls
    reported: bool = False  # a failure to connect was logged


class ClientPool:
    """One shared MCP session per server, opened lazily and reopened after the connection breaks.

    ``specs`` are the servers (:func:`load_servers`); ``in_process`` maps a name to anything ``mcp.Client``
    connects to in-process (a built server, in tests and benchmarks), which takes precedence over a spec of
    the same name. Use it as ``async with ClientPool(...) as pool:`` or call :meth:`aclose`; it runs on asyncio.

    Connecting is bounded by the spec's ``connect_timeout``, each call by its timeout, so no call hangs. A
    stdio child's stderr (its logs) goes to ``<log_dir>/<server>.log`` (appended) when ``log_dir`` is given,
    else to ``os.devnull``, so server logs never reach the orchestrator's terminal. A timeout keeps the session
    (the SDK cancels the request; other calls may be using it) unless ``3`` calls in a row timed out on a stdio
    session, which is then taken for wedged and replaced. ``connections_opened`` counts sessions opened.
    """

    def __init__(
        self,
        specs: Mapping[str, ServerSpec],
        *,
        in_process: Mapping[str, Any] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self._specs = dict(specs)
        self._in_process = dict(in_process or {})
        self._log_dir = log_dir
        self._sessions: dict[str, _Session] = {}  # the current session of each server (connecting or open)
        self._live: set[_Session] = set()  # every session whose owner has not ended
        self._locks: dict[str, anyio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.connections_opened = 0

    @property
    def servers(self) -> tuple[str, ...]:
        """The names of the servers this pool can call, sorted."""
        return tuple(sorted({*self._specs, *self._in_process}))

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every session and wait (bounded) for their owners to end; later calls fail "transport"."""
        import anyio

        self._closed = True
        self._sessions.clear()
        sessions = list(self._live)  # also the dropped ones still shutting down
        with anyio.CancelScope(shield=True):
            for session in sessions:
                session.closing.set()
                if not session.ready.is_set() and session.scope is not None:
                    session.scope.cancel()  # still connecting: stop now
            for session in sessions:
                with anyio.move_on_after(_CLOSE_TIMEOUT):
                    await session.done.wait()
            stuck = [task for task in self._tasks if not task.done()]
            for task in stuck:
                task.cancel()
            if stuck:
                with anyio.move_on_after(1):
                    await asyncio.gather(*stuck, return_exceptions=True)

    async def call(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,
        meta: dict[str, Any] | None = None,
    ) -> CallOutcome:
        """Call ``tool`` on ``server`` with ``arguments``; ``meta`` goes out as the request's ``_meta``. Never
        raises for a failure (only cancellation propagates): the outcome says what happened."""
        import anyio
        from mcp import MCPError

        started = time.monotonic()

        def failed(error_class: ErrorClass, message: str) -> CallOutcome:
            return CallOutcome(False, None, message[:_ERROR_TEXT_CHARS], error_class, _elapsed_ms(started))

        if server not in self._specs and server not in self._in_process:
            known = ", ".join(self.servers) or "none"
            return failed("protocol_error", f"unknown server {server[:100]!r}; the configured servers are: {known}")
        limit = timeout if timeout is not None else self._timeout(server)
        try:
            session, client = await self._connected(server)
        except _Unreachable as error:
            return failed("transport", str(error))
        try:
            with anyio.fail_after(limit):
                result = await client.call_tool(
                    tool, arguments, read_timeout_seconds=limit, meta=cast("Any", meta) if meta else None
                )
        except Exception as error:  # noqa: BLE001 - every failure becomes an outcome (cancellation is not an Exception)
            error_class, cause = _classify(error)
            if error_class == "timeout":
                self._timed_out(server, session)
                return failed("timeout", f"{server}/{tool[:100]}: no answer within {limit:g} s")
            if error_class == "transport":
                message = self._scrub(server, f"the connection to {self._describe(server)} broke: {_reason(cause)}")
                log.warning("MCP server %s: %s", server, message)
                self._drop(server, session)
                return failed("transport", message)
            if isinstance(cause, MCPError):
                return failed("protocol_error", f"{server}/{tool[:100]}: {cause.message} (JSON-RPC {cause.code})")
            return failed("protocol_error", self._scrub(server, f"{server}/{tool[:100]}: {_reason(cause)}"))
        session.timeouts = 0
        if result.is_error:
            return failed(_tool_error_class(result), _text_of(result) or f"{server}/{tool[:100]} failed without text")
        return CallOutcome(True, _result_value(result), None, None, _elapsed_ms(started))

    async def list_tools(self, server: str) -> list[Tool]:
        """Every tool ``server`` lists (following ``next_cursor``), within its spec's timeout.

        Raises:
            CallFailed: unknown server, or the listing failed (``error_class`` as for a call).
        """
        import anyio

        if server not in self._specs and server not in self._in_process:
            known = ", ".join(self.servers) or "none"
            raise CallFailed(f"unknown server {server[:100]!r}; the configured servers are: {known}", "protocol_error")
        limit = self._timeout(server)
        try:
            session, client = await self._connected(server)
        except _Unreachable as error:
            raise CallFailed(str(error), "transport") from None
        try:
            with anyio.fail_after(limit):
                return await list_every_tool(client)
        except Exception as error:  # noqa: BLE001 - classified as for a call
            error_class, cause = _classify(error)
            if error_class == "transport":
                message = self._scrub(server, f"the connection to {self._describe(server)} broke: {_reason(cause)}")
                log.warning("MCP server %s: %s", server, message)
                self._drop(server, session)
            elif error_class == "timeout":
                self._timed_out(server, session)
                message = f"{server}: tools/list got no answer within {limit:g} s"
            else:
                message = self._scrub(server, f"{server}: tools/list failed: {_reason(cause)}")
            raise CallFailed(message, error_class) from None

    # -- sessions --------------------------------------------------------------------------------------------

    def _timeout(self, server: str) -> float:
        spec = self._specs.get(server)
        return spec.timeout if spec is not None and server not in self._in_process else 60.0

    def _connect_timeout(self, server: str) -> float:
        spec = self._specs.get(server)
        return spec.connect_timeout if spec is not None and server not in self._in_process else 30.0

    def _describe(self, server: str) -> str:
        if server in self._in_process:
            return f"{server} in process"
        return self._specs[server].describe()

    def _scrub(self, server: str, text: str) -> str:
        spec = None if server in self._in_process else self._specs.get(server)
        for secret in spec.secrets() if spec is not None else []:
            text = text.replace(secret, REDACTED)
        return redact_text(text)[:_REASON_CHARS]

    async def _connected(self, server: str) -> tuple[_Session, Client]:
        """The open session of ``server``, opened first if there is none. One attempt at a time per server:
        concurrent callers wait for the same attempt and share its session, or its failure.

        Raises:
            _Unreachable: it could not be opened within the connect timeout, or the pool is closed.
        """
        import anyio

        session = self._sessions.get(server)
        if session is not None and session.client is not None:
            return session, session.client
        async with self._locks.setdefault(server, anyio.Lock()):
            session = self._sessions.get(server)
            if session is None:
                if self._closed:
                    raise _Unreachable(f"{server}: the client pool is closed")
                session = self._start(server)
        limit = self._connect_timeout(server)
        with anyio.move_on_after(limit + _STARTUP_GRACE):
            await session.ready.wait()
        client = session.client
        if client is None:
            # A failed owner may still be stopping a child: it finishes in the background (aclose waits for it).
            self._drop(server, session)
            failure = session.failure or f"no session within {limit:g} s"
            message = self._scrub(server, f"cannot connect to {self._describe(server)}: {failure}")
            if not session.reported:
                session.reported = True
                log.warning("MCP server %s: %s", server, message)
            raise _Unreachable(message)
        return session, client

    def _start(self, server: str) -> _Session:
        import anyio

        session = _Session(server, anyio.Event(), anyio.Event(), anyio.Event())
        self._sessions[server] = session
        self._live.add(session)
        # A fresh context: the session outlives the call that happened to open it.
        task = asyncio.create_task(self._own(session), name=f"mcp-session-{server}", context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return session

    async def _own(self, session: _Session) -> None:
        """The owner task of ``session``: enter the client, report, wait for ``closing``, leave the client."""
        import anyio

        server = session.server
        started = time.monotonic()
        limit = self._connect_timeout(server)
        try:
            if session.closing.is_set():  # the pool closed before this task ran
                session.failure = "the client pool was closed"
                return
            with anyio.CancelScope(deadline=anyio.current_time() + limit) as scope:
                session.scope = scope
                async with contextlib.AsyncExitStack() as stack:
                    client = await self._enter(stack, server)
                    scope.deadline = math.inf
                    session.client = client
                    self.connections_opened += 1
                    log.info("MCP session to %s open in %d ms", self._describe(server), _elapsed_ms(started))
                    session.ready.set()
                    await session.closing.wait()
                    session.client = None
            if scope.cancelled_caught and session.failure is None:
                closed = session.closing.is_set()
                session.failure = "the client pool was closed" if closed else f"no session within {limit:g} s"
        except Exception as error:  # noqa: BLE001 - reported to the callers waiting on ready
            session.failure = _reason(error)[:_REASON_CHARS]
            if session.ready.is_set() and not session.closing.is_set():
                message = self._scrub(server, f"the session with {self._describe(server)} ended: {session.failure}")
                log.warning("MCP server %s: %s", server, message)
        finally:
            session.client = None
            if self._sessions.get(server) is session:
                del self._sessions[server]
            self._live.discard(session)
            session.ready.set()
            session.done.set()

    async def _enter(self, stack: contextlib.AsyncExitStack, server: str) -> Client:
        from mcp import Client

        if server in self._in_process:
            return await stack.enter_async_context(Client(self._in_process[server]))
        spec = self._specs[server]
        if spec.transport == "http":
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            timeout = httpx2.Timeout(spec.connect_timeout, read=max(_SSE_READ_TIMEOUT, spec.timeout))
            http = await stack.enter_async_context(httpx2.AsyncClient(headers=dict(spec.headers), timeout=timeout))
            return await stack.enter_async_context(Client(streamable_http_client(spec.url or "", http_client=http)))
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command=spec.command or "", args=list(spec.args), env=spec.child_env(), cwd=spec.cwd
        )
        errlog = stack.enter_context(_errlog(self._log_dir, server))
        return await stack.enter_async_context(Client(stdio_client(params, errlog=errlog)))

    def _drop(self, server: str, session: _Session) -> None:
        """Forget ``session`` (if it is still the server's) and ask its owner to close it."""
        if self._sessions.get(server) is session:
            del self._sessions[server]
        session.closing.set()

    def _timed_out(self, server: str, session: _Session) -> None:
        session.timeouts += 1
        spec = self._specs.get(server)
        stdio = server not in self._in_process and spec is not None and spec.transport == "stdio"
        if stdio and session.timeouts >= _WEDGED_AFTER:
            log.warning("MCP server %s: %d calls in a row timed out; restarting it", server, session.timeouts)
            self._drop(server, session)


def _errlog(log_dir: Path | None, server: str) -> TextIO:
    """Where a stdio child's stderr goes: ``<log_dir>/<server>.log`` or the null device."""
    if log_dir is None:
        return open(os.devnull, "w")  # closed by the session's exit stack
    log_dir.mkdir(parents=True, exist_ok=True)
    return (log_dir / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', server)}.log").open("a", encoding="utf-8")


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
