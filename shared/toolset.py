"""Tool declaration and registration: the only place tools reach an MCP server.

A tool is declared once, as a typed async function inside a :class:`Toolset`::

    kpis = Toolset("kpis", "The factory KPI catalog")

    @kpis.read(title="List KPIs")
    async def list_kpis(...) -> KpiList:
        '''What it does, when to use it, what to call next.'''

    @kpis.write(title="Record a KPI measurement", destructive=False, idempotent=True)
    async def record_kpi_measurement(...) -> Measurement: ...

The name is the function name, the description its docstring, the schema its annotated parameters, the output
its return model. :func:`register_tools` applies the :class:`ToolPolicy`: toolset selection, per-tool allow
and deny lists, read-only mode (write tools not listed) and the write gate (write tools listed but refusing
until writes are allowed). The same :class:`ToolSpec` list feeds the docs, the snapshots and the contract tests.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from shared.errors import ConfigError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from shared.settings import ServerSettings

__all__ = ["ToolPolicy", "ToolSpec", "Toolset", "register_tools", "select_tools"]

ToolFn = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=ToolFn)

_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


@dataclass(frozen=True)
class ToolSpec:
    """One declared tool: its function and its honest read/write nature."""

    fn: ToolFn
    toolset: str
    title: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )


@dataclass
class Toolset:
    """A named group of tools of one domain noun (one module under ``servers/<name>/tools/``)."""

    name: str
    description: str
    tools: list[ToolSpec] = field(default_factory=list[ToolSpec])

    def read(self, *, title: str, open_world: bool = False) -> Callable[[F], F]:
        """Declare a read tool: it changes nothing, so it is idempotent and never destructive."""
        return self._declare(title=title, read_only=True, destructive=False, idempotent=True, open_world=open_world)

    def write(self, *, title: str, destructive: bool, idempotent: bool, open_world: bool = False) -> Callable[[F], F]:
        """Declare a write tool: gated by the write gate, hidden in read-only mode."""
        return self._declare(
            title=title, read_only=False, destructive=destructive, idempotent=idempotent, open_world=open_world
        )

    def _declare(self, **nature: Any) -> Callable[[F], F]:
        def decorator(fn: F) -> F:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError(f"tool {fn.__name__} must be an async function")
            if not _NAME.match(fn.__name__):
                raise ValueError(f"tool name {fn.__name__!r} must be snake_case verb_noun")
            if not (fn.__doc__ or "").strip():
                raise ValueError(f"tool {fn.__name__} needs a docstring: it is the description a model reads")
            if any(spec.name == fn.__name__ for spec in self.tools):
                raise ValueError(f"tool {fn.__name__} is declared twice in toolset {self.name}")
            self.tools.append(ToolSpec(fn=fn, toolset=self.name, **nature))
            return fn

        return decorator


@dataclass(frozen=True)
class ToolPolicy:
    """Which declared tools a server serves, and whether its write tools may run."""

    server: str
    toolsets: frozenset[str] = frozenset()
    enabled_tools: frozenset[str] = frozenset()
    disabled_tools: frozenset[str] = frozenset()
    writes_allowed: bool = False
    read_only: bool = False

    @classmethod
    def from_settings(cls, server: str, settings: ServerSettings) -> ToolPolicy:
        return cls(
            server=server,
            toolsets=frozenset(settings.toolsets),
            enabled_tools=frozenset(settings.enabled_tools),
            disabled_tools=frozenset(settings.disabled_tools),
            writes_allowed=settings.allow_writes,
            read_only=settings.read_only,
        )

    def env(self, key: str) -> str:
        """The environment variable of this server's policy setting ``key`` (e.g. ``AFU9_FACTORY_TOOLSETS``)."""
        return f"AFU9_{self.server.upper()}_{key}"


def select_tools(toolsets: Sequence[Toolset], policy: ToolPolicy) -> list[ToolSpec]:
    """The tools ``policy`` serves, in declaration order. Unknown names in the policy are a ConfigError."""
    known_sets = {toolset.name for toolset in toolsets}
    names = [spec.name for toolset in toolsets for spec in toolset.tools]
    known_tools = set(names)
    if len(known_tools) < len(names):
        # The SDK would keep the first and silently drop the other: refuse instead.
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"tool(s) {', '.join(twice)} declared in more than one toolset of the {policy.server} server")
    _check_known(policy.env("TOOLSETS"), policy.toolsets, known_sets)
    _check_known(policy.env("ENABLED_TOOLS"), policy.enabled_tools, known_tools)
    _check_known(policy.env("DISABLED_TOOLS"), policy.disabled_tools, known_tools)
    return [
        spec
        for toolset in toolsets
        if not policy.toolsets or toolset.name in policy.toolsets
        for spec in toolset.tools
        if (not policy.enabled_tools or spec.name in policy.enabled_tools)
        and spec.name not in policy.disabled_tools
        and not (policy.read_only and not spec.read_only)
    ]


def register_tools(server: MCPServer[Any], toolsets: Sequence[Toolset], policy: ToolPolicy) -> list[ToolSpec]:
    """Add the tools ``policy`` serves to ``server``; write tools refuse while the write gate is closed."""
    selected = select_tools(toolsets, policy)
    for spec in selected:
        fn = spec.fn if spec.read_only or policy.writes_allowed else _closed_gate(spec, policy)
        server.add_tool(
            fn, name=spec.name, title=spec.title, description=spec.description, annotations=spec.annotations
        )
    return selected


def _closed_gate(spec: ToolSpec, policy: ToolPolicy) -> ToolFn:
    message = (
        f"{spec.name} changes data, and writes are disabled on the {policy.server} server. Nothing was changed. "
        f"An operator can enable writes with AFU9_ALLOW_WRITES=1 (or {policy.env('ALLOW_WRITES')}=1); "
        "the read tools keep working meanwhile."
    )

    @functools.wraps(spec.fn)
    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ToolError(message)

    return refuse


def _check_known(key: str, names: Iterable[str], known: set[str]) -> None:
    unknown = sorted(set(names) - known)
    if unknown:
        raise ConfigError(key, f"unknown name(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def unserved_reason(name: str, toolsets: Sequence[Toolset], policy: ToolPolicy) -> str:
    """Why ``name`` is not callable on this server, in a sentence that says what to do instead."""
    served = [spec.name for spec in select_tools(toolsets, policy)]
    spec = next((spec for toolset in toolsets for spec in toolset.tools if spec.name == name), None)
    if spec is None:
        return f"Unknown tool: {name}. This server's tools are: {', '.join(served) or 'none'}."
    if policy.toolsets and spec.toolset not in policy.toolsets:
        why = f"its toolset {spec.toolset} is not in {policy.env('TOOLSETS')}"
    elif policy.enabled_tools and name not in policy.enabled_tools:
        why = f"it is not in {policy.env('ENABLED_TOOLS')}"
    elif name in policy.disabled_tools:
        why = f"it is listed in {policy.env('DISABLED_TOOLS')}"
    else:
        why = "read-only mode is on (AFU9_READ_ONLY=1) and it changes data"
    return f"{name} is not served here: {why}. This server's tools are: {', '.join(served) or 'none'}."
