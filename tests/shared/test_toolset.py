"""Tool declaration and registration: the rules of a declaration, honest annotations, the serving policy, and
resources answering bytes."""

from __future__ import annotations

import base64
import typing
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import BlobResourceContents, TextResourceContents

from shared.errors import ConfigError
from shared.toolset import Blob, ToolPolicy, Toolset, build_tools, register_prompts_and_resources, select


def _demo_toolsets(store: list[str]) -> list[Toolset]:
    """Two small toolsets: notes (two reads, two writes) and clock (one read). Writes append to ``store``."""
    notes = Toolset("notes", "Notes")
    clock = Toolset("clock", "Clock")

    @notes.read(title="List notes")
    async def list_notes() -> list[str]:
        """List every note."""
        return list(store)

    @notes.write(title="Add a note", destructive=False, idempotent=False)
    async def add_note(text: str) -> str:
        """Add a note."""
        store.append(text)
        return text

    @notes.write(title="Delete notes", destructive=True, idempotent=True, open_world=True)
    async def delete_notes() -> int:
        """Delete every note."""
        count = len(store)
        store.clear()
        return count

    @notes.read(title="Count notes", open_world=True)
    async def count_notes() -> int:
        """Count the notes."""
        return len(store)

    @clock.read(title="Get the time")
    async def get_time() -> str:
        """The time."""
        return "12:00"

    return [notes, clock]


def _policy(**fields: Any) -> ToolPolicy:
    values: dict[str, Any] = {"server": "demo"}
    for key in ("toolsets", "enabled_tools", "disabled_tools"):
        if key in fields:
            values[key] = frozenset(fields.pop(key))
    return ToolPolicy(**(values | fields))


def _names(toolsets: list[Toolset], policy: ToolPolicy) -> list[str]:
    return [spec.name for spec in select(toolsets, policy).tools]


def _server(toolsets: list[Toolset], policy: ToolPolicy) -> MCPServer:
    return MCPServer("demo", tools=build_tools(select(toolsets, policy), None, policy))


# Declaration rules


def test_a_declared_tool_keeps_its_function_name_docstring_and_toolset() -> None:
    notes = _demo_toolsets([])[0]
    spec = notes.tools[0]
    assert spec.name == "list_notes"
    assert spec.description == "List every note."
    assert spec.toolset == "notes"
    assert [spec.name for spec in notes.tools] == ["list_notes", "add_note", "delete_notes", "count_notes"]


def test_a_sync_function_cannot_be_a_tool() -> None:
    demo = Toolset("demo", "Demo")
    with pytest.raises(TypeError, match="get_thing must be an async function"):

        @demo.read(title="Get a thing")  # pyright: ignore[reportArgumentType]
        def get_thing() -> str:  # pyright: ignore[reportUnusedFunction]
            """Get a thing."""
            return "thing"

    assert demo.tools == []


@pytest.mark.parametrize("name", ["getThing", "thing", "Get_thing", "_get_thing", "get__thing", "get_thing_", "2get_x"])
def test_a_tool_name_must_be_snake_case_verb_noun(name: str) -> None:
    demo = Toolset("demo", "Demo")

    async def tool() -> str:
        """Do it."""
        return "done"

    tool.__name__ = name
    with pytest.raises(ValueError, match="must be snake_case verb_noun"):
        demo.read(title="A tool")(tool)
    assert demo.tools == []


@pytest.mark.parametrize("doc", [None, "", "   \n  "])
def test_a_tool_needs_a_docstring(doc: str | None) -> None:
    demo = Toolset("demo", "Demo")

    async def get_thing() -> str:
        return "thing"

    get_thing.__doc__ = doc
    with pytest.raises(ValueError, match="get_thing needs a docstring"):
        demo.read(title="Get a thing")(get_thing)
    assert demo.tools == []


def test_a_tool_declared_twice_in_a_toolset_is_rejected() -> None:
    demo = Toolset("demo", "Demo")

    @demo.read(title="Get a thing")
    async def get_thing() -> str:
        """Get a thing."""
        return "thing"

    with pytest.raises(ValueError, match="get_thing is declared twice in toolset demo"):

        @demo.read(title="Get a thing again")
        async def get_thing() -> str:
            """Get a thing, again."""
            return "thing"

    assert len(demo.tools) == 1


def test_a_tool_name_used_by_two_toolsets_of_a_server_is_rejected() -> None:
    first, second = Toolset("first", "First"), Toolset("second", "Second")
    for toolset in (first, second):

        @toolset.read(title="Get a thing")
        async def get_thing() -> str:
            """Get a thing."""
            return "thing"

    with pytest.raises(ValueError, match="get_thing declared in more than one toolset"):
        select([first, second], _policy())


# Honest annotations


def test_read_and_write_declarations_carry_honest_annotations() -> None:
    declared = {spec.name: spec for toolset in _demo_toolsets([]) for spec in toolset.tools}
    specs = {name: spec.annotations for name, spec in declared.items()}

    assert specs["list_notes"].read_only_hint is True
    assert specs["list_notes"].destructive_hint is False
    assert specs["list_notes"].idempotent_hint is True
    assert specs["list_notes"].open_world_hint is False
    assert declared["list_notes"].title == "List notes"
    assert specs["list_notes"].title is None  # tools/list carries the title once, on the tool
    assert specs["count_notes"].open_world_hint is True

    assert specs["add_note"].read_only_hint is False
    assert specs["add_note"].destructive_hint is False
    assert specs["add_note"].idempotent_hint is False

    assert specs["delete_notes"].read_only_hint is False
    assert specs["delete_notes"].destructive_hint is True
    assert specs["delete_notes"].idempotent_hint is True
    assert specs["delete_notes"].open_world_hint is True


# The serving policy


def test_an_empty_policy_serves_every_tool_in_declaration_order() -> None:
    toolsets = _demo_toolsets([])
    assert _names(toolsets, _policy()) == ["list_notes", "add_note", "delete_notes", "count_notes", "get_time"]


def test_toolset_selection_serves_only_the_named_toolsets() -> None:
    toolsets = _demo_toolsets([])
    assert _names(toolsets, _policy(toolsets={"clock"})) == ["get_time"]
    assert _names(toolsets, _policy(toolsets={"clock", "notes"})) == [
        "list_notes",
        "add_note",
        "delete_notes",
        "count_notes",
        "get_time",
    ]


def test_enabled_tools_serve_only_those_and_disabled_tools_are_never_served() -> None:
    toolsets = _demo_toolsets([])
    assert _names(toolsets, _policy(enabled_tools={"get_time", "add_note"})) == ["add_note", "get_time"]
    assert _names(toolsets, _policy(disabled_tools={"delete_notes"})) == [
        "list_notes",
        "add_note",
        "count_notes",
        "get_time",
    ]
    both = _policy(enabled_tools={"get_time", "add_note"}, disabled_tools={"add_note"})
    assert _names(toolsets, both) == ["get_time"]
    assert _names(toolsets, _policy(toolsets={"clock"}, enabled_tools={"add_note"})) == []


def test_read_only_mode_hides_every_write_tool_and_keeps_every_read_tool() -> None:
    toolsets = _demo_toolsets([])
    served = select(toolsets, _policy(read_only=True, writes_allowed=True)).tools
    assert [spec.name for spec in served] == ["list_notes", "count_notes", "get_time"]
    reads = [spec.name for toolset in toolsets for spec in toolset.tools if spec.read_only]
    assert [spec.name for spec in served] == reads


@pytest.mark.parametrize(
    ("field", "env", "known"),
    [
        ("toolsets", "AFU9_DEMO_TOOLSETS", "clock"),
        ("enabled_tools", "AFU9_DEMO_ENABLED_TOOLS", "get_time"),
        ("disabled_tools", "AFU9_DEMO_DISABLED_TOOLS", "get_time"),
    ],
)
def test_an_unknown_name_in_the_policy_is_a_config_error_naming_the_variable(field: str, env: str, known: str) -> None:
    toolsets = _demo_toolsets([])
    with pytest.raises(ConfigError) as raised:
        select(toolsets, _policy(**{field: {known, "no_such_thing"}}))
    assert raised.value.key == env
    message = str(raised.value)
    assert message.startswith(f"invalid setting {env}: unknown name(s) no_such_thing; known: ")
    assert known in message.split("; known: ")[1]


# The write gate


async def test_with_writes_allowed_a_write_tool_runs() -> None:
    store: list[str] = []
    async with Client(_server(_demo_toolsets(store), _policy(writes_allowed=True))) as client:
        result = await client.call_tool("add_note", {"text": "hello"})
    assert not result.is_error
    assert store == ["hello"]


async def test_a_closed_write_gate_lists_the_write_tool_but_refuses_it_and_changes_nothing() -> None:
    store = ["keep me"]
    async with Client(_server(_demo_toolsets(store), _policy())) as client:
        listed = [tool.name for tool in (await client.list_tools()).tools]
        added = await client.call_tool("add_note", {"text": "hello"})
        deleted = await client.call_tool("delete_notes", {})
        read = await client.call_tool("list_notes", {})

    assert listed == ["list_notes", "add_note", "delete_notes", "count_notes", "get_time"]
    for result in (added, deleted):
        assert result.is_error
        text = result.content[0].text  # type: ignore[union-attr]
        assert "writes are disabled on the demo server (AFU9_ALLOW_WRITES is off). Nothing was changed." in text
        assert "enable writes with AFU9_ALLOW_WRITES=1" in text
    assert store == ["keep me"]
    assert not read.is_error
    assert read.structured_content == {"result": ["keep me"]}


def _with_opt_in() -> list[Toolset]:
    notes, clock = _demo_toolsets([])
    extra = Toolset("extra", "Extra", default=False)

    @extra.read(title="Get an extra")
    async def get_extra() -> str:
        """Get the extra thing."""
        return "extra"

    return [notes, clock, extra]


def test_an_opt_in_toolset_is_served_only_when_named_or_all_are_asked_for() -> None:
    toolsets = _with_opt_in()
    assert "get_extra" not in _names(toolsets, _policy())
    assert _names(toolsets, _policy(toolsets={"extra"})) == ["get_extra"]
    assert "get_extra" in _names(toolsets, _policy(toolsets={"all"}))
    assert _names(toolsets, _policy(toolsets={"default", "extra"})) == _names(toolsets, _policy(toolsets={"all"}))


def test_an_opt_in_tool_says_how_to_turn_its_toolset_on() -> None:
    from shared.toolset import unserved_reason

    toolsets = _with_opt_in()
    policy = _policy()
    served = _names(toolsets, policy)
    assert unserved_reason("get_extra", toolsets, policy, served).startswith(
        "get_extra is not served here: its toolset extra is opt-in: add it to AFU9_DEMO_TOOLSETS (e.g. default,extra)."
    )


# Resources


async def test_a_resource_answering_a_blob_is_read_as_base64_with_the_blob_s_own_mime_type() -> None:
    files = Toolset("files", "Files")

    @files.resource("file://{name}", title="A file", mime_type="text/plain")
    async def read_file(name: str) -> str | Blob:
        """A file: text, or bytes typed by its name."""
        return Blob(b"\x89PNG\x00", "image/png") if name.endswith(".png") else f"text of {name}"

    @files.resource("blob://fixed", title="A fixed blob", mime_type="application/octet-stream")
    async def read_fixed() -> Blob:
        """Fixed bytes."""
        return Blob(b"\x00\x01", "application/x-demo")

    server = MCPServer("demo")
    register_prompts_and_resources(server, select([files], _policy()), None)
    async with Client(server) as client:
        image = (await client.read_resource("file://logo.png")).contents[0]
        text = (await client.read_resource("file://notes.md")).contents[0]
        fixed = (await client.read_resource("blob://fixed")).contents[0]

    assert isinstance(image, BlobResourceContents)
    assert (base64.b64decode(image.blob), image.mime_type) == (b"\x89PNG\x00", "image/png")
    assert isinstance(text, TextResourceContents)
    assert (text.text, text.mime_type) == ("text of notes.md", "text/plain")  # the declared type
    assert isinstance(fixed, BlobResourceContents)
    assert (base64.b64decode(fixed.blob), fixed.mime_type) == (b"\x00\x01", "application/x-demo")


@pytest.mark.parametrize("value", ['{"a": 1}', '["x", "y"]', "null", "true", "42", '"quoted"', "plain"])
async def test_a_text_argument_keeps_text_that_looks_like_json(value: str) -> None:
    """The SDK parses JSON-looking strings for arguments not typed exactly ``str``; a text stays text."""
    echo = Toolset("echo", "Echo")
    seen: list[object] = []

    @echo.read(title="Echo a note")
    async def echo_note(
        note: str | None = None, mood: typing.Literal["calm", "null"] | None = None, tags: list[str] | None = None
    ) -> str:
        """Echo the note back."""
        seen.append((note, mood, tags))
        return "ok"

    policy = _policy()
    async with Client(MCPServer("demo", tools=build_tools(select([echo], policy), None, policy))) as client:
        kept = await client.call_tool("echo_note", {"note": value, "mood": "null"})
        listed = await client.call_tool("echo_note", {"tags": '["a", "b"]'})  # a list sent as JSON text: parsed

    assert not kept.is_error, kept.content
    assert not listed.is_error, listed.content
    assert seen == [(value, "null", None), (None, None, ["a", "b"])]
