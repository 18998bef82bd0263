"""Declaring tools, prompts and resources, and the only place they reach an MCP server.

Everything a server offers is declared once, as a typed async function inside a :class:`Toolset`::

    kpis = Toolset("kpis", "The 12 factory KPIs and their measurements.", start_with="list_kpis")

    @kpis.read(title="List KPIs")
    async def list_kpis(deps: FactoryDeps, category: Category | None = None) -> KpiList:
        '''What it does, when to use it, what to call next.'''

    @kpis.write(title="Record a KPI measurement", destructive=False, idempotent=False)
    async def record_kpi_measurement(deps: FactoryDeps, ...) -> RecordedMeasurement: ...

    @kpis.prompt(title="Review a KPI", complete={"kpi_id": kpi_ids})
    async def review_kpi(deps: FactoryDeps, kpi_id: str) -> str: ...

    @kpis.resource("kpi://{kpi_id}", title="A KPI definition", complete={"kpi_id": kpi_ids})
    async def kpi_definition(deps: FactoryDeps, kpi_id: str) -> KpiDetail: ...

The name is the function name, the description its docstring, the schema its annotated parameters, the output
its return model. A first parameter named ``deps`` receives the server's dependencies (bound once, when the
server is built; it is not part of the schema). :func:`select` applies the :class:`ToolPolicy` (toolset
selection, per-tool allow and deny lists, read-only mode) and :func:`build_tools` the write gate (write tools
listed but refusing until writes are allowed). The same declarations feed the docs, the snapshots and the
contract tests.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pydantic_core
from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, UnexpectedToolError
from mcp.server.mcpserver.prompts import Prompt
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ValidationError

from shared.arguments import answer_schema, argument_names, explain, lean_schema, unknown_arguments, unstorable_text
from shared.audit import current_call
from shared.errors import CallError, ConfigError, InvalidArguments, NotFound, ToolError, WritesDisabled

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from shared.settings import ServerSettings

__all__ = [
    "Blob",
    "Completer",
    "KitTool",
    "PromptSpec",
    "ResourceSpec",
    "Selection",
    "ToolPolicy",
    "ToolSpec",
    "Toolset",
    "build_tools",
    "compact_json",
    "register_prompts_and_resources",
    "select",
    "unserved_reason",
]

ToolFn = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=ToolFn)
Completer = Callable[[Any, str, Mapping[str, str]], Awaitable[Sequence[str]]]
"""``async (deps, typed_prefix, resolved) -> candidate values`` for one argument of a prompt or resource
template; ``resolved`` holds the arguments the client has already filled in (the request's context), so a
completion can depend on them (a repository's branches once owner and repo are known)."""

_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
_DEPS = "deps"


def _check_function(fn: Callable[..., Any], kind: str) -> None:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"{kind} {fn.__name__} must be an async function")
    if not _NAME.match(fn.__name__):
        raise ValueError(f"{kind} name {fn.__name__!r} must be snake_case verb_noun")
    if not (fn.__doc__ or "").strip():
        raise ValueError(f"{kind} {fn.__name__} needs a docstring: it is the description a model reads")


@dataclass(frozen=True)
class _Declared:
    """What every declaration has: its function (name = function name, description = docstring), its toolset."""

    fn: ToolFn
    toolset: str
    title: str

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")


@dataclass(frozen=True)
class ToolSpec(_Declared):
    """One declared tool: its function and its honest read/write nature."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(  # the title is the tool's own (a second copy here would cost every listing)
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )


@dataclass(frozen=True)
class PromptSpec(_Declared):
    """One declared prompt (a template a user picks, filled with the server's data)."""

    complete: Mapping[str, Completer]


@dataclass(frozen=True)
class Blob:
    """What a resource answers when it is bytes (a base64 blob on the wire) of a type known only once read (a
    repository's image or PDF): the bytes and their mime type, which replaces the resource's declared one."""

    data: bytes
    mime_type: str


@dataclass(frozen=True)
class ResourceSpec(_Declared):
    """One declared resource: a fixed URI, or a URI template whose variables are the function's parameters."""

    uri: str
    mime_type: str
    complete: Mapping[str, Completer]

    @property
    def is_template(self) -> bool:
        return "{" in self.uri


@dataclass
class Toolset:
    """A named group of tools, prompts and resources of one domain noun (one module under ``tools/``).

    ``description`` is the toolset's sentence in the server's instructions; ``start_with`` names the tool a
    model should call first (mentioned only while that tool is served). A toolset with ``default=False`` is
    opt-in: served only when ``AFU9_<SERVER>_TOOLSETS`` names it (or says ``all``).
    """

    name: str
    description: str
    start_with: str | None = None
    default: bool = True
    tools: list[ToolSpec] = field(default_factory=list[ToolSpec])
    prompts: list[PromptSpec] = field(default_factory=list[PromptSpec])
    resources: list[ResourceSpec] = field(default_factory=list[ResourceSpec])

    def read(self, *, title: str, open_world: bool = False) -> Callable[[F], F]:
        """Declare a read tool: it changes nothing, so it is idempotent and never destructive."""
        return self._tool(title=title, read_only=True, destructive=False, idempotent=True, open_world=open_world)

    def write(self, *, title: str, destructive: bool, idempotent: bool, open_world: bool = False) -> Callable[[F], F]:
        """Declare a write tool: gated by the write gate, hidden in read-only mode."""
        return self._tool(
            title=title, read_only=False, destructive=destructive, idempotent=idempotent, open_world=open_world
        )

    def prompt(self, *, title: str, complete: Mapping[str, Completer] | None = None) -> Callable[[F], F]:
        """Declare a prompt; ``complete`` offers completions for some of its arguments."""

        def decorator(fn: F) -> F:
            _check_function(fn, "prompt")
            self._unique(fn.__name__, [spec.name for spec in self.prompts], "prompt")
            _check_completers(fn, complete or {})
            self.prompts.append(PromptSpec(fn=fn, toolset=self.name, title=title, complete=dict(complete or {})))
            return fn

        return decorator

    def resource(
        self,
        uri: str,
        *,
        title: str,
        mime_type: str = "application/json",
        complete: Mapping[str, Completer] | None = None,
    ) -> Callable[[F], F]:
        """Declare a resource at ``uri`` (a template when it has ``{variables}``, which name the parameters). Its
        function answers a model (compact JSON), text, or a :class:`Blob` (bytes with their own mime type)."""

        def decorator(fn: F) -> F:
            _check_function(fn, "resource")
            self._unique(fn.__name__, [spec.name for spec in self.resources], "resource")
            _check_completers(fn, complete or {})
            spec = ResourceSpec(
                fn=fn, toolset=self.name, uri=uri, title=title, mime_type=mime_type, complete=dict(complete or {})
            )
            self.resources.append(spec)
            return fn

        return decorator

    def _tool(self, **nature: Any) -> Callable[[F], F]:
        def decorator(fn: F) -> F:
            _check_function(fn, "tool")
            self._unique(fn.__name__, [spec.name for spec in self.tools], "tool")
            self.tools.append(ToolSpec(fn=fn, toolset=self.name, **nature))
            return fn

        return decorator

    def _unique(self, name: str, taken: list[str], kind: str) -> None:
        if name in taken:
            raise ValueError(f"{kind} {name} is declared twice in toolset {self.name}")


def _check_completers(fn: Callable[..., Any], complete: Mapping[str, Completer]) -> None:
    parameters = set(inspect.signature(fn).parameters) - {_DEPS}
    unknown = sorted(set(complete) - parameters)
    if unknown:
        raise ValueError(f"{fn.__name__}: completions for {unknown}, which are not among its arguments")


@dataclass(frozen=True)
class ToolPolicy:
    """Which declared tools a server serves, and whether its write tools may run.

    ``writes_setting`` is the variable that decides the write gate (the server's own override when set).
    """

    server: str
    toolsets: frozenset[str] = frozenset()
    enabled_tools: frozenset[str] = frozenset()
    disabled_tools: frozenset[str] = frozenset()
    writes_allowed: bool = False
    read_only: bool = False
    writes_setting: str = "AFU9_ALLOW_WRITES"

    @classmethod
    def from_settings(cls, server: str, settings: ServerSettings) -> ToolPolicy:
        return cls(
            server=server,
            toolsets=frozenset(settings.toolsets),
            enabled_tools=frozenset(settings.enabled_tools),
            disabled_tools=frozenset(settings.disabled_tools),
            writes_allowed=settings.allow_writes,
            read_only=settings.read_only,
            writes_setting=settings.source_of("allow_writes"),
        )

    def env(self, key: str) -> str:
        """The environment variable of this server's policy setting ``key`` (e.g. ``AFU9_FACTORY_TOOLSETS``)."""
        return f"AFU9_{self.server.upper()}_{key}"


@dataclass(frozen=True)
class Selection:
    """What a server serves under its policy, in declaration order."""

    toolsets: tuple[Toolset, ...]
    tools: tuple[ToolSpec, ...]
    prompts: tuple[PromptSpec, ...]
    resources: tuple[ResourceSpec, ...]

    @property
    def tool_names(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.tools)

    def instructions(self, intro: str) -> str:
        """The server's instructions: its intro plus one sentence per served toolset (never a hidden tool)."""
        parts = [intro.strip()]
        for toolset in self.toolsets:
            sentence = toolset.description.strip()
            if toolset.start_with and toolset.start_with in self.tool_names:
                sentence += f" Start with {toolset.start_with}."
            parts.append(sentence)
        return " ".join(part for part in parts if part)


def select(toolsets: Sequence[Toolset], policy: ToolPolicy) -> Selection:
    """What ``policy`` serves of ``toolsets``. Unknown names in the policy are a ConfigError naming the setting."""
    known_sets = {toolset.name for toolset in toolsets}
    for kind in ("tools", "prompts", "resources"):
        names = [spec.name for toolset in toolsets for spec in getattr(toolset, kind)]
        if len(set(names)) < len(names):
            twice = sorted({name for name in names if names.count(name) > 1})
            raise ValueError(
                f"{kind} {', '.join(twice)} declared in more than one toolset of the {policy.server} server"
            )
    known_tools = {spec.name for toolset in toolsets for spec in toolset.tools}
    _check_known(policy.env("TOOLSETS"), policy.toolsets - _TOOLSET_WORDS, known_sets)
    _check_known(policy.env("ENABLED_TOOLS"), policy.enabled_tools, known_tools)
    _check_known(policy.env("DISABLED_TOOLS"), policy.disabled_tools, known_tools)
    wanted = served_toolsets(toolsets, policy)
    served_sets = tuple(toolset for toolset in toolsets if toolset.name in wanted)
    tools = tuple(
        spec
        for toolset in served_sets
        for spec in toolset.tools
        if (not policy.enabled_tools or spec.name in policy.enabled_tools)
        and spec.name not in policy.disabled_tools
        and not (policy.read_only and not spec.read_only)
    )
    return Selection(
        toolsets=served_sets,
        tools=tools,
        prompts=tuple(spec for toolset in served_sets for spec in toolset.prompts),
        resources=tuple(spec for toolset in served_sets for spec in toolset.resources),
    )


_TOOLSET_WORDS = frozenset({"all", "default"})


def served_toolsets(toolsets: Sequence[Toolset], policy: ToolPolicy) -> frozenset[str]:
    """The toolsets ``policy`` asks for: the default ones when it names none; ``all``; ``default`` plus others."""
    defaults = {toolset.name for toolset in toolsets if toolset.default}
    if not policy.toolsets:
        return frozenset(defaults)
    if "all" in policy.toolsets:
        return frozenset(toolset.name for toolset in toolsets)
    named = policy.toolsets - _TOOLSET_WORDS
    return named | frozenset(defaults) if "default" in policy.toolsets else named


def _check_known(key: str, names: Iterable[str], known: set[str]) -> None:
    unknown = sorted(set(names) - known)
    if unknown:
        raise ConfigError(key, f"unknown name(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def unserved_reason(name: str, toolsets: Sequence[Toolset], policy: ToolPolicy, served: Iterable[str]) -> str:
    """Why ``name`` is not callable on this server, in a sentence that says what to do instead."""
    listed = ", ".join(served) or "none"
    spec = next((spec for toolset in toolsets for spec in toolset.tools if spec.name == name), None)
    if spec is None:
        return f"Unknown tool: {name}. This server's tools are: {listed}."
    if spec.toolset not in served_toolsets(toolsets, policy):
        if policy.toolsets:
            why = f"its toolset {spec.toolset} is not in {policy.env('TOOLSETS')}"
        else:
            setting = policy.env("TOOLSETS")
            why = f"its toolset {spec.toolset} is opt-in: add it to {setting} (e.g. default,{spec.toolset})"
    elif policy.enabled_tools and name not in policy.enabled_tools:
        why = f"it is not in {policy.env('ENABLED_TOOLS')}"
    elif name in policy.disabled_tools:
        why = f"it is listed in {policy.env('DISABLED_TOOLS')}"
    else:
        why = "read-only mode is on (AFU9_READ_ONLY=1) and it changes data"
    return f"{name} is not served here: {why}. This server's tools are: {listed}."


# -- binding the server's dependencies -------------------------------------------------------------------------


def bind_deps(fn: ToolFn, deps: object) -> ToolFn:
    """``fn`` with its ``deps`` parameter (if it has one) filled in; the signature the SDK reads omits it."""
    signature = inspect.signature(fn, eval_str=True)
    if _DEPS not in signature.parameters:
        return fn
    parameters = [p for name, p in signature.parameters.items() if name != _DEPS]

    @functools.wraps(fn)
    async def bound(*args: Any, **kwargs: Any) -> Any:
        return await fn(deps, *args, **kwargs)

    return _shows_signature(bound, signature.replace(parameters=parameters))


def _shows_signature(wrapper: ToolFn, signature: inspect.Signature) -> ToolFn:
    """Make the SDK read ``signature`` (and its annotations) for ``wrapper``, not the wrapped function's."""
    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    hints = {p.name: p.annotation for p in signature.parameters.values() if p.annotation is not inspect.Parameter.empty}
    if signature.return_annotation is not inspect.Signature.empty:
        hints["return"] = signature.return_annotation
    wrapper.__annotations__ = hints
    vars(wrapper).pop("__wrapped__", None)  # set by functools.wraps; inspect would follow it
    return wrapper


# -- tools --------------------------------------------------------------------------------------------------------


def compact_json(value: object) -> str:
    """JSON without indentation: every byte of an answer is read by a model."""
    return pydantic_core.to_json(value, fallback=str).decode()


class KitTool(Tool):
    """A tool as the kit runs it: unknown arguments refused, validation errors in short sentences, text that
    cannot be stored refused before it reaches a database, the audit outcome taken from the error's type,
    and the text of a structured answer written as compact JSON."""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        call = current_call.get()
        where = unstorable_text(arguments)
        if where is not None:
            error = InvalidArguments(
                f"Invalid arguments: {where} holds a NUL character or an unpaired surrogate, which cannot be "
                "stored; remove it and call again."
            )
            raise self._refuse(error, call)
        refusal = unknown_arguments(self.fn_metadata.arg_model, arguments)
        if refusal is not None:
            raise self._refuse(InvalidArguments(refusal), call)
        try:
            result = await super().run(arguments, context, convert_result=False)
        except UnexpectedToolError:
            if call is not None:
                call.outcome = "crashed"
            raise
        except ToolError as error:
            cause = error.__cause__
            if isinstance(cause, ValidationError):
                explained = InvalidArguments(explain(cause, argument_names(self.fn_metadata.arg_model)))
                raise self._refuse(explained, call) from None
            if call is not None:
                call.outcome = getattr(cause, "outcome", CallError.outcome)
            raise
        except MCPError:
            if call is not None:
                call.outcome = "protocol_error"
            raise
        if not convert_result:
            return result
        if type(result) is self.fn_metadata.output_model and self.fn_metadata.output_schema is not None:
            # The tool returned its declared model, already validated: dump it once, as structured content
            # and as its compact text (the SDK's conversion would re-validate it and indent a text copy).
            structured = cast("BaseModel", result).model_dump(mode="json", by_alias=True)
            return CallToolResult(
                content=[TextContent(type="text", text=compact_json(structured))], structured_content=structured
            )
        converted = self.fn_metadata.convert_result(result)
        if isinstance(converted, CallToolResult) and converted.structured_content is not None:
            converted.content = [TextContent(type="text", text=compact_json(converted.structured_content))]
        return converted

    def _refuse(self, error: CallError, call: Any) -> ToolError:
        """The SDK's error for a call refused before the tool ran (its text as for any tool error)."""
        if call is not None:
            call.outcome = error.outcome
        return ToolError(f"Error executing tool {self.name}: {error}")


class KitFuncMetadata(FuncMetadata):
    """The SDK's argument metadata, except that a text argument keeps its text.

    The SDK parses a string that looks like JSON for every argument not typed exactly ``str`` (to undo clients
    that send a list as JSON text), so an optional text (``str | None``) of ``{"a": 1}``, ``["x"]``, ``null`` or
    ``true``, such as an issue body, became an object, nothing, or a boolean: refused, or silently changed.
    """

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        parsed = super().pre_parse_json(data)
        fields = self.arg_model.model_fields
        for key, value in data.items():
            field = fields.get(key)
            if field is not None and isinstance(value, str) and _text_only(field.annotation):
                parsed[key] = value
        return parsed


def _text_only(annotation: object) -> bool:
    """Whether an argument takes text and nothing else (``None`` aside): ``str``, ``str | None``, a literal
    of strings."""
    if annotation is str:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _text_only(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) is typing.Literal:
        return all(isinstance(value, str) for value in typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        return bool(members) and all(_text_only(member) for member in members)
    return False


def build_tools(selection: Selection, deps: object, policy: ToolPolicy) -> list[Tool]:
    """The tools ``selection`` serves, bound to ``deps``; write tools refuse while the write gate is closed."""
    tools: list[Tool] = []
    for spec in selection.tools:
        fn = bind_deps(spec.fn, deps)
        if not (spec.read_only or policy.writes_allowed):
            fn = _closed_gate(spec, fn, policy)
        tool = KitTool.from_function(
            fn, name=spec.name, title=spec.title, description=spec.description, annotations=spec.annotations
        )
        output = tool.fn_metadata.output_schema
        metadata = KitFuncMetadata(
            arg_model=tool.fn_metadata.arg_model,
            output_schema=None if output is None else answer_schema(output),
            output_model=tool.fn_metadata.output_model,
            wrap_output=tool.fn_metadata.wrap_output,
        )
        # unknown arguments are refused by KitTool.run, before the SDK validates: the schema says so
        parameters = {**lean_schema(tool.parameters, optional_nulls=True), "additionalProperties": False}
        tools.append(tool.model_copy(update={"fn_metadata": metadata, "parameters": parameters}))
    return tools


def _closed_gate(spec: ToolSpec, fn: ToolFn, policy: ToolPolicy) -> ToolFn:
    message = (
        f"{spec.name} changes data, and writes are disabled on the {policy.server} server "
        f"({policy.writes_setting} is off). Nothing was changed. An operator can enable writes with "
        f"{policy.writes_setting}=1; the read tools keep working meanwhile."
    )

    @functools.wraps(fn)
    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise WritesDisabled(message)

    return refuse


# -- prompts, resources, completions ------------------------------------------------------------------------


def register_prompts_and_resources(server: MCPServer[Any], selection: Selection, deps: object) -> None:
    """Add ``selection``'s prompts and resources to ``server`` (deps bound), and their completions."""
    prompts: dict[str, Prompt] = {}
    for spec in selection.prompts:
        prompt = Prompt.from_function(
            _prompt_renderer(spec, deps), name=spec.name, title=spec.title, description=spec.description
        )
        server.add_prompt(prompt)
        prompts[spec.name] = prompt
    server.middleware.append(_prompt_requests(prompts))
    for spec in selection.resources:
        server.resource(
            spec.uri, name=spec.name, title=spec.title, description=spec.description, mime_type=spec.mime_type
        )(_resource_reader(spec, deps))
    if selection.resources:
        server.middleware.append(_blob_types)
    if selection.prompts or any(spec.is_template for spec in selection.resources):
        server.completion()(_completions(selection, deps))


def _prompt_renderer(spec: PromptSpec, deps: object) -> ToolFn:
    """The prompt function as the SDK calls it: deps bound, our errors shown as invalid params (not a crash)."""
    bound = bind_deps(spec.fn, deps)

    @functools.wraps(bound)
    async def render(*args: Any, **kwargs: Any) -> Any:
        try:
            return await bound(*args, **kwargs)
        except CallError as error:
            raise MCPError(code=INVALID_PARAMS, message=str(error)) from None

    return _shows_signature(render, inspect.signature(bound))


def _prompt_requests(prompts: Mapping[str, Prompt]) -> ServerMiddleware[Any]:
    """Middleware: an unknown prompt or a missing argument is a sentence (the SDK answers 'Internal error')."""

    async def check_prompt(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "prompts/get":
            params: Mapping[str, Any] = ctx.params or {}
            name: object = params.get("name")
            prompt = prompts.get(name) if isinstance(name, str) else None
            if prompt is None:
                known = ", ".join(prompts) or "none"
                raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt: {str(name)[:200]}. Prompts: {known}.")
            given: Mapping[str, Any] = params.get("arguments") or {}
            missing = [a.name for a in prompt.arguments or [] if a.required and a.name not in given]
            if missing:
                raise MCPError(
                    code=INVALID_PARAMS, message=f"{prompt.name} needs the argument(s) {', '.join(missing)}."
                )
        return await call_next(ctx)

    return check_prompt


def _resource_reader(spec: ResourceSpec, deps: object) -> ToolFn:
    """The resource function as the SDK calls it: deps bound, models as compact JSON, our errors shown."""
    bound = bind_deps(spec.fn, deps)

    @functools.wraps(bound)
    async def read(*args: Any, **kwargs: Any) -> Any:
        try:
            result = await bound(*args, **kwargs)
        except NotFound as error:
            raise ResourceNotFoundError(str(error)) from None
        except CallError as error:
            raise ResourceError(str(error)) from None
        if isinstance(result, BaseModel):
            return compact_json(result.model_dump(mode="json"))
        if isinstance(result, Blob):
            read_types = _read_blob_types.get()
            if read_types is not None:
                read_types.append(result.mime_type)
            return result.data
        return result

    return _shows_signature(read, inspect.signature(bound))


_read_blob_types: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("afu9_blob_types", default=None)


async def _blob_types(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Middleware: a resource read answered with a :class:`Blob` says the blob's own mime type (the SDK gives
    what a resource template answers the template's declared type)."""
    if ctx.method != "resources/read":
        return await call_next(ctx)
    read_types: list[str] = []
    token = _read_blob_types.set(read_types)
    try:
        result = await call_next(ctx)
    finally:
        _read_blob_types.reset(token)
    if read_types and isinstance(result, dict):  # the SDK's handler answers the wire form
        for content in cast("list[Any]", result.get("contents") or []):
            if isinstance(content, dict) and "blob" in content:
                cast("dict[str, Any]", content)["mimeType"] = read_types[-1]
    return result


def _completions(selection: Selection, deps: object) -> Callable[..., Awaitable[Any]]:
    from mcp.types import Completion, PromptReference, ResourceTemplateReference

    by_prompt = {spec.name: spec.complete for spec in selection.prompts}
    by_template = {spec.uri: spec.complete for spec in selection.resources if spec.is_template}

    async def complete(ref: Any, argument: Any, context: Any) -> Completion:
        completers: Mapping[str, Completer] = {}
        if isinstance(ref, PromptReference):
            completers = by_prompt.get(ref.name, {})
        elif isinstance(ref, ResourceTemplateReference):
            completers = by_template.get(ref.uri, {})
        completer = completers.get(argument.name)
        if completer is None:
            return Completion(values=[], total=0, has_more=False)
        resolved: Mapping[str, str] = (getattr(context, "arguments", None) or {}) if context is not None else {}
        values = list(await completer(deps, argument.value or "", resolved))
        return Completion(values=values[:100], total=len(values), has_more=len(values) > 100)

    return complete
