"""Fuzz every tool of every server with arguments drawn from its own input schema, valid and invalid.

Whatever a model sends, a tool must answer with a well-formed ``CallToolResult``: a success whose structured
content matches the tool's output schema, or ``isError`` with a sentence saying why. Never an exception or a
JSON-RPC error, never the SDK's bare "Error executing tool X" (which means a bug: the SDK hides the exception),
never a hang. Arguments the schema accepts must not be rejected as invalid arguments either: the schema a
model reads has to tell the truth.

Servers and tools come from ``servers.registry`` (``tests/suite.py``): a new tool is fuzzed without editing this
file. Each tool gets one real in-process ``mcp.Client`` against a server with writes allowed, on a fresh SQLite
file and on a fresh PostgreSQL database (where NUL characters, out-of-range numbers and long strings are
refused by the database itself); hypothesis runs synchronously and sends each call through an anyio blocking
portal. Every call must also reach the audit trail, and no audit record may be refused.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator
from mcp import Client, MCPError
from mcp.types import CallToolResult, TextContent, Tool

from tests.suite import SuiteServer, list_every_tool, suite_servers

CALL_TIMEOUT = 10.0  # seconds; a tool that takes longer on a local SQLite file hangs
MAX_EXAMPLES = 40
VOCABULARY_SIZE = 200

_BARE_CRASH = re.compile(r"^Error executing tool [\w-]+:?\s*$")
_REJECTED_ARGUMENTS = re.compile(r"Invalid arguments: ")
# The kit refuses text no database or API can store, which JSON Schema cannot say without bloating every schema.
_UNSTORABLE = "holds a NUL character or an unpaired surrogate"

TOOLS = [
    pytest.param(server, spec.name, id=f"{server.name}/{spec.name}")
    for server in suite_servers()
    for spec in server.specs
]

# -- strategies ------------------------------------------------------------------------------------------------

_NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "\ud800",  # a lone surrogate: valid in a JSON string escape, not encodable as UTF-8
    "\udfff tail",
    "\u202eevil",  # right-to-left override
    "a\u200bb",  # zero-width space
    "\ufeff",
    "🙂" * 64,
    "e\u0301" * 32,  # combining marks
    "'; DROP TABLE kpi_measurements; --",
    "../../etc/passwd",
    "%s%n%x",
    "${jndi:ldap://x}",
    "null",
    "NaN",
    "-1",
    "1e999",
    "9999-12-31T23:59:59.999999-23:59",
    "0001-01-01T00:00:00+23:59",
    "2024-02-30T00:00:00Z",
    "line\nbreak",
    "eyJvZmZzZXQiOi0xfQ",  # a base64 JSON object, like a cursor
]
_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# RFC 3339 date-times, with the edges of the calendar and of the offset range drawn often.
_date_times = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+23:59",
            "0001-01-31T12:00:00-01:00",
            "9999-12-31T23:59:59.999999Z",
            "9999-12-31T23:59:59-23:59",
            "1970-01-01T00:00:00Z",
            "2000-02-29T00:00:00+05:30",
        ]
    ),
    st.datetimes(timezones=_offsets).map(lambda moment: moment.isoformat()),
)
_weird_text = st.one_of(
    st.sampled_from(_NASTY_STRINGS),
    st.text(st.characters(exclude_categories=()), max_size=40),  # surrogates and control characters included
)
_huge_text = st.sampled_from([1_000, 70_000, 300_000]).map(lambda n: "x" * n)
_extreme_numbers = st.one_of(
    st.sampled_from([0, -1, -(2**31), 2**31, -(2**63), 2**63, 2**100, -(2**100)]),
    st.integers(),
    st.floats(),  # NaN and infinities included
    st.sampled_from([-0.0, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan]),
)
_junk = st.one_of(
    st.none(),
    st.booleans(),
    _extreme_numbers,
    _weird_text,
    _huge_text,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _from_schema(schema: Any, defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values ``schema`` accepts. Objects, arrays, ``$ref`` and ``anyOf`` are built here, leaves by
    hypothesis-jsonschema (its own object generation uses Hypothesis internals that changed in 6.17x)."""
    if not isinstance(schema, dict):
        return from_schema(schema)
    if "$ref" in schema:
        return st.deferred(lambda: _from_schema(defs[str(schema["$ref"]).rsplit("/", 1)[-1]], defs))
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return st.one_of([_from_schema(branch, defs) for branch in branches])
    if schema.get("type") == "object" or "properties" in schema:
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {key: _from_schema(sub, defs) for key, sub in properties.items() if key in required},
            optional={key: _from_schema(sub, defs) for key, sub in properties.items() if key not in required},
        )
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return st.lists(
            _from_schema(schema["items"], defs),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 5), 5),
            unique_by=(lambda item: json.dumps(item, sort_keys=True)) if schema.get("uniqueItems") else None,
        )
    if schema.get("type") == "string" and schema.get("format") == "date-time":
        return _date_times
    return from_schema({key: value for key, value in schema.items() if key not in ("title", "description")})


def _valid_arguments(
    schema: dict[str, Any], vocabulary: list[str], pinned: dict[str, list[Any]] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments the schema accepts; often with real values the server handed out (ids, names, cursors), and
    for the arguments its stand-in world pins (a repository's owner and name) mostly with those, so that valid
    calls reach past "not found" into the tool's real work."""
    defs = schema.get("$defs", {})
    known: dict[str, list[str]] = {}
    for key, sub in schema.get("properties", {}).items():
        slot = Draft202012Validator({**sub, "$defs": defs}, format_checker=Draft202012Validator.FORMAT_CHECKER)
        fitting = [word for word in vocabulary if slot.is_valid(word)]
        if fitting:
            known[key] = fitting
    base = _from_schema(schema, defs)

    @st.composite
    def draw(draw_fn: st.DrawFn) -> dict[str, Any]:
        arguments: dict[str, Any] = dict(draw_fn(base))
        for key, words in sorted(known.items()):
            if key in arguments and draw_fn(st.sampled_from(["known", "generated"])) == "known":
                arguments[key] = draw_fn(st.sampled_from(words))
        for key, values in sorted((pinned or {}).items()):
            if key in arguments and draw_fn(st.sampled_from(["pinned", "pinned", "pinned", "drawn"])) == "pinned":
                arguments[key] = draw_fn(st.sampled_from(values))
        return arguments

    return draw()


def _invalid_arguments(schema: dict[str, Any], valid: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Valid arguments broken in the ways models and attackers break them."""
    properties = sorted(schema.get("properties", {}))
    required = sorted(schema.get("required", []))

    @st.composite
    def draw(draw_fn: st.DrawFn) -> dict[str, Any]:
        arguments: dict[str, Any] = dict(draw_fn(valid))
        kinds = ["extra_key", "nulls"] + (["wrong_value"] if properties else []) + (["missing"] if required else [])
        for kind in draw_fn(st.lists(st.sampled_from(kinds), min_size=1, max_size=3)):
            if kind == "missing":
                arguments.pop(draw_fn(st.sampled_from(required)), None)
            elif kind == "wrong_value":
                arguments[draw_fn(st.sampled_from(properties))] = draw_fn(_junk)
            elif kind == "extra_key":
                arguments[draw_fn(st.one_of(_weird_text, st.sampled_from(["__proto__", "_meta", "arguments"])))] = (
                    draw_fn(_junk)
                )
            else:
                arguments = dict.fromkeys(arguments)
        return arguments

    return draw()


# -- calling and judging -------------------------------------------------------------------------------------------


@dataclass
class _Session:
    """One client of one server, driven from hypothesis' synchronous world through a portal."""

    portal: BlockingPortal
    client: Client
    calls: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {"ok": 0, "error": 0})

    def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        self.calls += 1
        return self.portal.call(self._call, name, arguments)

    async def _call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        with anyio.fail_after(CALL_TIMEOUT):
            return await self.client.call_tool(name, arguments)


def _texts(result: CallToolResult) -> list[str]:
    return [block.text for block in result.content if isinstance(block, TextContent)]


def _check(tool: Tool, arguments: dict[str, Any], schema_valid: bool, result: CallToolResult) -> None:
    shown = _show(arguments)
    assert isinstance(result, CallToolResult), f"{tool.name}({shown}) returned {type(result).__name__}"
    texts = _texts(result)
    if result.is_error:
        message = " ".join(texts).strip()
        assert message, f"{tool.name}({shown}) failed with no message"
        assert not _BARE_CRASH.match(message), f"{tool.name}({shown}) crashed (the SDK hid the exception): {message}"
        assert "Traceback" not in message, f"{tool.name}({shown}) leaked a traceback: {message}"
        if schema_valid and _UNSTORABLE not in message:
            assert not _REJECTED_ARGUMENTS.search(message), (
                f"{tool.name}({shown}) rejected arguments its input schema accepts:\n{message}"
            )
        return
    assert result.structured_content is not None, f"{tool.name}({shown}) succeeded without structured content"
    assert tool.output_schema is not None
    errors = sorted(
        Draft202012Validator(tool.output_schema, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(
            result.structured_content
        ),
        key=str,
    )
    assert errors == [], f"{tool.name}({shown}) returned content its output schema rejects: {errors[0].message}"
    assert texts, f"{tool.name}({shown}) succeeded without a text block for clients that ignore structured content"
    compact = json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False)
    assert texts == [compact], f"{tool.name}({shown}): the text of a structured answer must be compact JSON of it"


def _show(arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, default=repr, ensure_ascii=True)
    return text if len(text) <= 400 else text[:400] + "...(truncated)"


def _strings(value: Any, into: set[str]) -> None:
    if isinstance(value, str):
        if 0 < len(value) <= 100:
            into.add(value)
    elif isinstance(value, dict):
        for item in value.values():  # pyright: ignore[reportUnknownVariableType]
            _strings(item, into)
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            _strings(item, into)


def _harvest_vocabulary(session: _Session, tools: list[Tool]) -> list[str]:
    """Strings the server itself hands out (ids, names, cursors) from read tools that need no arguments."""
    found: set[str] = set()
    for tool in tools:
        readonly = tool.annotations is not None and tool.annotations.read_only_hint
        if readonly and not tool.input_schema.get("required"):
            result = session.call(tool.name, {})
            if not result.is_error:
                _strings(result.structured_content, found)
    return sorted(found)[:VOCABULARY_SIZE]


def _fuzz(session: _Session, tool: Tool, vocabulary: list[str], pinned: dict[str, list[Any]]) -> None:
    schema = tool.input_schema
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    valid = _valid_arguments(schema, vocabulary, pinned)
    # Tagged by origin: only what the valid strategy drew (and the schema accepts) must never be refused as
    # invalid arguments. A mutation can land on a value the schema happens to accept but that no model would
    # send (9.2e18 for an integer), where the stricter validator may disagree; those get the general checks.
    tagged = st.one_of(
        valid.map(lambda drawn: (True, drawn)),
        _invalid_arguments(schema, valid).map(lambda drawn: (False, drawn)),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        print_blob=False,
    )
    @given(tagged)
    def any_arguments_get_a_well_formed_answer(case: tuple[bool, dict[str, Any]]) -> None:
        from_valid, arguments = case
        try:
            result = session.call(tool.name, arguments)
        except MCPError as error:
            raise AssertionError(
                f"{tool.name}({_show(arguments)}) answered with a JSON-RPC error {error.code}: {error.message}"
            ) from error
        except TimeoutError as error:
            raise AssertionError(f"{tool.name}({_show(arguments)}) hung: no answer in {CALL_TIMEOUT}s") from error
        session.outcomes["error" if result.is_error else "ok"] += 1
        _check(tool, arguments, from_valid and validator.is_valid(arguments), result)

    any_arguments_get_a_well_formed_answer()


def _drive(
    server: SuiteServer, data_dir: Path, database_url: str, body: Callable[[_Session, list[Tool]], None]
) -> _Session:
    """Run ``body`` against one client of ``server``; then check every call reached the audit trail."""
    app = server.build(data_dir, database_url)
    failure: BaseException | None = None
    with start_blocking_portal("asyncio") as portal, portal.wrap_async_context_manager(Client(app)) as client:
        session = _Session(portal, client)
        try:
            body(session, portal.call(list_every_tool, client))
        except BaseException as error:  # noqa: BLE001 - re-raised below, outside the client's task group
            failure = error
    if failure is not None:
        raise failure
    assert app.audit.dropped == 0
    assert app.audit.rejected == 0, "the database refused audit records"
    assert app.audit.pending == 0, "audit records were lost at shutdown"
    assert app.audit.written == session.calls, "every tools/call must reach the audit trail"
    return session


# -- the test ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("server", "name"), TOOLS)
def test_every_tool_answers_any_arguments_with_a_well_formed_result(
    server: SuiteServer, name: str, tmp_path: Path, database_url: str
) -> None:
    def fuzz(session: _Session, tools: list[Tool]) -> None:
        tool = next(tool for tool in tools if tool.name == name)
        _fuzz(session, tool, _harvest_vocabulary(session, tools), server.pinned_arguments)

    session = _drive(server, tmp_path, database_url, fuzz)
    assert session.outcomes["error"] > 0, f"{name}: no fuzzed call was refused; the invalid strategies are broken"
