"""Every server of the suite, for the suite-wide tests (snapshots, contract, fuzz).

The list comes from :mod:`servers.registry` (every ``servers/<name>/server.py`` that exports ``SERVER``), so
a new server is tested by every suite-wide test without editing them. A server that talks to the outside world
gives the suite its stand-in in ``tests/servers/<name>/world.py`` (``settings_overrides()``, ``deps(settings)``
and optionally ``pinned_arguments()``: the github server's fake GitHub), so its tools run their own logic, not
only their argument checks; without one the server is built on its real dependencies.
"""

from __future__ import annotations

import functools
import importlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.types import Prompt, Resource, ResourceTemplate, Tool

from servers.registry import definitions
from shared.server import Afu9Server, ServerDefinition
from shared.settings import ServerSettings
from shared.toolset import Toolset, ToolSpec

__all__ = [
    "SuiteServer",
    "Surface",
    "list_every_tool",
    "listed_surface",
    "listed_tools",
    "sqlite_url_in",
    "suite_servers",
]


@dataclass(frozen=True)
class SuiteServer:
    """One server of the suite: its definition and the toolsets it declares."""

    definition: ServerDefinition[Any, Any]

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def toolsets(self) -> tuple[Toolset, ...]:
        return self.definition.toolsets

    @property
    def specs(self) -> list[ToolSpec]:
        """Every tool the server declares, in declaration order (all toolsets)."""
        return [spec for toolset in self.toolsets for spec in toolset.tools]

    def settings(self, data_dir: Path, database_url: str | None = None, **overrides: Any) -> ServerSettings:
        """Settings serving every toolset with writes allowed, on ``database_url`` (default: SQLite in ``data_dir``)."""
        values: dict[str, Any] = {
            "database_url": database_url or sqlite_url_in(data_dir),
            "data_dir": data_dir,
            "allow_writes": True,
            "toolsets": ["all"],
        }
        world = _world(self.name)
        if world is not None:
            values |= world.settings_overrides()
        return self.definition.settings(**(values | overrides))

    def build(self, data_dir: Path, database_url: str | None = None, **overrides: Any) -> Afu9Server:
        """The server with every tool and writes allowed, on its stand-in world, as a test drives it in-process."""
        settings = self.settings(data_dir, database_url, **overrides)
        world = _world(self.name)
        return self.definition.build(settings, deps=None if world is None else world.deps(settings))

    @property
    def pinned_arguments(self) -> dict[str, list[Any]]:
        """Argument values that exist in the server's stand-in world (a repository's owner and name, its
        branches), which the fuzz test mostly uses so that valid calls do real work."""
        world = _world(self.name)
        return dict(world.pinned_arguments()) if world is not None and hasattr(world, "pinned_arguments") else {}


@functools.cache
def _world(name: str) -> Any:
    """``tests/servers/<name>/world.py`` when the server has a stand-in for its outside world, else None."""
    try:
        return importlib.import_module(f"tests.servers.{name}.world")
    except ModuleNotFoundError as error:
        if error.name != f"tests.servers.{name}.world":
            raise
        return None


def sqlite_url_in(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{(folder / 'afu9.db').as_posix()}"


@functools.cache
def suite_servers() -> tuple[SuiteServer, ...]:
    """Every server in the registry."""
    return tuple(SuiteServer(definition) for definition in definitions())


async def list_every_tool(client: Client) -> list[Tool]:
    """Every tool the client's server lists, following ``next_cursor`` to the end."""
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(1000):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        cursor = page.next_cursor
        if cursor is None:
            return tools
    raise AssertionError("tools/list kept returning next_cursor for 1000 pages")


@functools.cache
def listed_tools(server_name: str) -> tuple[Tool, ...]:
    """What ``tools/list`` shows for ``server_name`` with every toolset and writes allowed (computed once)."""
    server = next(server for server in suite_servers() if server.name == server_name)

    async def fetch() -> list[Tool]:
        with tempfile.TemporaryDirectory() as folder:
            async with Client(server.build(Path(folder))) as client:
                return await list_every_tool(client)

    return tuple(anyio.run(fetch, backend="asyncio"))


@dataclass(frozen=True)
class Surface:
    """What a server offers beside tools: prompts, resources and resource templates, and its instructions."""

    prompts: tuple[Prompt, ...]
    resources: tuple[Resource, ...]
    templates: tuple[ResourceTemplate, ...]
    instructions: str


@functools.cache
def listed_surface(server_name: str) -> Surface:
    """What ``prompts/list``, ``resources/list`` and ``resources/templates/list`` show (computed once)."""
    server = next(server for server in suite_servers() if server.name == server_name)

    async def fetch() -> Surface:
        with tempfile.TemporaryDirectory() as folder:
            async with Client(server.build(Path(folder))) as client:
                return Surface(
                    prompts=tuple((await client.list_prompts()).prompts),
                    resources=tuple((await client.list_resources()).resources),
                    templates=tuple((await client.list_resource_templates()).resource_templates),
                    instructions=client.instructions or "",
                )

    return anyio.run(fetch, backend="asyncio")
