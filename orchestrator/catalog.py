"""The tools a workflow may call: for each server, what its ``tools/list`` says (input and output schemas, and
annotations: read-only, idempotent, destructive). Validation checks tool steps against it.

The orchestrator reaches servers only over MCP: a catalog is built from ``tools/list`` answers, either of
servers reached over streamable HTTP (:func:`fetch_catalog`) or of any connected :class:`mcp.Client` (the
``afu9`` command lists the suite's servers built in-process, which is the same code the servers run).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp import Client
    from mcp.types import Tool

__all__ = ["Catalog", "ToolInfo", "fetch_catalog", "list_tools"]

_PAGES = 100


@dataclass(frozen=True)
class ToolInfo:
    """One tool as ``tools/list`` shows it. Without annotations a tool counts as a non-idempotent write (the
    MCP defaults: ``readOnlyHint`` false, ``idempotentHint`` false)."""

    name: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None = None
    read_only: bool = False
    idempotent: bool = False
    destructive: bool = True

    @classmethod
    def of(cls, tool: Tool) -> ToolInfo:
        hints = tool.annotations
        return cls(
            name=tool.name,
            input_schema=dict(tool.input_schema),
            output_schema=dict(tool.output_schema) if tool.output_schema else None,
            read_only=bool(hints and hints.read_only_hint),
            idempotent=bool(hints and (hints.idempotent_hint or hints.read_only_hint)),
            destructive=not hints or hints.destructive_hint is not False,
        )


@dataclass(frozen=True)
class Catalog:
    """Server name → its tools by name; ``unavailable`` names the servers that could not be listed, and why."""

    servers: Mapping[str, Mapping[str, ToolInfo]] = field(default_factory=dict[str, Mapping[str, ToolInfo]])
    unavailable: Mapping[str, str] = field(default_factory=dict[str, str])

    @classmethod
    def of(cls, listed: Mapping[str, Iterable[Tool]], unavailable: Mapping[str, str] | None = None) -> Catalog:
        """A catalog from each server's ``tools/list`` tools."""
        servers = {server: {tool.name: ToolInfo.of(tool) for tool in tools} for server, tools in listed.items()}
        return cls(servers, dict(unavailable or {}))

    def merged(self, other: Catalog) -> Catalog:
        """This catalog with ``other``'s servers in place of (or beside) its own."""
        unavailable = {k: v for k, v in self.unavailable.items() if k not in other.servers}
        return Catalog({**self.servers, **other.servers}, {**unavailable, **other.unavailable})

    def tool(self, server: str, name: str) -> ToolInfo | None:
        return self.servers.get(server, {}).get(name)

    def matching(self, pattern: str) -> list[str]:
        """``server/tool`` names matching a glob such as ``github/get_*`` or ``observability/*``."""
        return [
            f"{server}/{name}"
            for server, tools in self.servers.items()
            for name in tools
            if fnmatch.fnmatchcase(f"{server}/{name}", pattern)
        ]


async def list_tools(client: Client) -> list[Tool]:
    """Every tool a connected client's server lists, following ``next_cursor``."""
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            return tools
    raise RuntimeError(f"tools/list kept returning next_cursor for {_PAGES} pages")


async def fetch_catalog(urls: Mapping[str, str], *, token: str | None = None, timeout: float = 30.0) -> Catalog:
    """The catalog of servers reached over streamable HTTP (``{name: "http://host:port/mcp"}``); a server that
    cannot be reached is listed in ``unavailable`` with the reason."""
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    listed: dict[str, list[Tool]] = {}
    unavailable: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for server, url in urls.items():
        try:
            with anyio.fail_after(timeout):
                async with (
                    httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(timeout)) as http,
                    Client(streamable_http_client(url, http_client=http)) as client,
                ):
                    listed[server] = await list_tools(client)
        except Exception as error:  # noqa: BLE001 - any failure to list is reported per server, never raised
            unavailable[server] = f"tools/list at {url} failed: {_reason(error)}"
    return Catalog.of(listed, unavailable)


def _reason(error: BaseException) -> str:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__
