"""The contract every tool of every server keeps with the models that call it, checked suite-wide.

Servers come from ``servers.registry`` (``tests/suite.py``), so a new server or tool is checked without editing
this file. Each tool is listed through a real in-process ``mcp.Client`` with every toolset and writes allowed.
"""

from __future__ import annotations

import json
import re
import typing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mcp.types import Tool, ToolAnnotations

from shared.toolset import ToolSpec
from tests.suite import SuiteServer, listed_surface, listed_tools, suite_servers
from tests.toolsnaps import (
    assert_matches_snapshot,
    snapshot_form,
    snapshot_path,
    stale_snapshots,
    update_requested,
)

NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MIN_DESCRIPTION = 60  # characters: what it does, when to use it, what to call next does not fit in fewer
_COMBINATORS = ("oneOf", "anyOf", "allOf", "not", "if", "then", "else")

SERVERS = [pytest.param(server, id=server.name) for server in suite_servers()]
TOOLS = [
    pytest.param(server.name, spec.name, id=f"{server.name}/{spec.name}")
    for server in suite_servers()
    for spec in server.specs
]


def _all_listed() -> list[tuple[str, Tool]]:
    return [(server.name, tool) for server in suite_servers() for tool in listed_tools(server.name)]


def _tool(server: str, name: str) -> Tool:
    found = [tool for tool in listed_tools(server) if tool.name == name]
    assert found, f"{server} declares {name} but tools/list does not show it"
    return found[0]


def _spec(server: str, name: str) -> ToolSpec:
    return next(spec for suite in suite_servers() if suite.name == server for spec in suite.specs if spec.name == name)


def _properties_without_description(schema: Any, where: str) -> list[str]:
    """Every property (at any depth, $defs included) that has no description, as a path."""
    missing: list[str] = []
    if isinstance(schema, dict):
        for key, value in schema.items():  # pyright: ignore[reportUnknownVariableType]
            if key == "properties" and isinstance(value, dict):
                for prop, sub in value.items():  # pyright: ignore[reportUnknownVariableType]
                    if not (isinstance(sub, dict) and str(sub.get("description", "")).strip()):  # pyright: ignore[reportUnknownMemberType]
                        missing.append(f"{where}.{prop}")
                    missing += _properties_without_description(sub, f"{where}.{prop}")
            else:
                missing += _properties_without_description(value, f"{where}.{key}")
    elif isinstance(schema, list):
        for index, item in enumerate(schema):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            missing += _properties_without_description(item, f"{where}[{index}]")
    return missing


# -- snapshots -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("server", "name"), TOOLS)
def test_every_tool_definition_matches_its_snapshot(server: str, name: str) -> None:
    assert_matches_snapshot(snapshot_path(server, name), snapshot_form(_tool(server, name)))


PROMPTS = [
    pytest.param(server.name, spec.name, id=f"{server.name}/prompt.{spec.name}")
    for server in suite_servers()
    for toolset in server.toolsets
    for spec in toolset.prompts
]
RESOURCES = [
    pytest.param(server.name, spec.name, id=f"{server.name}/resource.{spec.name}")
    for server in suite_servers()
    for toolset in server.toolsets
    for spec in toolset.resources
]


def _surface_item(server: str, name: str) -> Any:
    surface = listed_surface(server)
    found = [item for item in (*surface.prompts, *surface.resources, *surface.templates) if item.name == name]
    assert found, f"{server} declares {name} but it is not listed"
    return found[0]


@pytest.mark.parametrize(("server", "name"), PROMPTS)
def test_every_prompt_definition_matches_its_snapshot(server: str, name: str) -> None:
    prompt = _surface_item(server, name)
    assert_matches_snapshot(snapshot_path(server, f"prompt.{name}"), snapshot_form(prompt))


@pytest.mark.parametrize(("server", "name"), RESOURCES)
def test_every_resource_definition_matches_its_snapshot(server: str, name: str) -> None:
    resource = _surface_item(server, name)
    assert_matches_snapshot(snapshot_path(server, f"resource.{name}"), snapshot_form(resource))


def test_no_snapshot_is_left_for_a_tool_that_no_longer_exists() -> None:
    tools = {
        server.name: [tool.name for tool in listed_tools(server.name)]
        + [f"prompt.{p.name}" for p in listed_surface(server.name).prompts]
        + [
            f"resource.{r.name}"
            for r in (*listed_surface(server.name).resources, *listed_surface(server.name).templates)
        ]
        for server in suite_servers()
    }
    stale = stale_snapshots(tools)
    if update_requested():
        for path in stale:
            path.unlink()
        return
    assert stale == [], f"snapshots of tools that no longer exist (delete them): {[str(p) for p in stale]}"


def test_a_missing_snapshot_is_written_locally_but_fails_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UPDATE_TOOLSNAPS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    definition = snapshot_form(listed_tools(suite_servers()[0].name)[0])
    path = snapshot_path("demo", "demo_tool", root=tmp_path)

    assert_matches_snapshot(path, definition)
    assert json.loads(path.read_text()) == definition
    assert path.read_text() == json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    path.unlink()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="is missing; create it with UPDATE_TOOLSNAPS=1"):
        assert_matches_snapshot(path, definition)
    assert not path.exists()


def test_a_changed_definition_fails_with_a_diff_until_snapshots_are_updated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UPDATE_TOOLSNAPS", raising=False)
    monkeypatch.setenv("CI", "true")
    definition = snapshot_form(listed_tools(suite_servers()[0].name)[0])
    path = snapshot_path("demo", "demo_tool", root=tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(definition, indent=2, sort_keys=True) + "\n")
    changed = definition | {"description": "A different description."}

    with pytest.raises(pytest.fail.Exception, match=r'\+  "description": "A different description\."'):
        assert_matches_snapshot(path, changed)

    monkeypatch.setenv("UPDATE_TOOLSNAPS", "1")
    assert_matches_snapshot(path, changed)
    assert json.loads(path.read_text()) == changed


def test_a_snapshot_of_a_removed_tool_or_server_is_reported_stale(tmp_path: Path) -> None:
    for server, tool in [("alpha", "kept_tool"), ("alpha", "removed_tool"), ("gone", "any_tool")]:
        path = snapshot_path(server, tool, root=tmp_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")

    assert stale_snapshots({"alpha": ["kept_tool"]}, root=tmp_path) == [
        snapshot_path("alpha", "removed_tool", root=tmp_path),
        snapshot_path("gone", "any_tool", root=tmp_path),
    ]


# -- the contract ------------------------------------------------------------------------------------------------


def test_every_server_of_the_registry_serves_tools() -> None:
    assert suite_servers(), "the registry lists no server"
    for server in suite_servers():
        assert listed_tools(server.name), f"{server.name} lists no tool"


def test_tool_names_are_snake_case_and_unique_across_every_server() -> None:
    listed = _all_listed()
    bad = [f"{server}/{tool.name}" for server, tool in listed if not NAME.match(tool.name)]
    assert bad == [], f"tool names must match {NAME.pattern}"
    counts = Counter(tool.name for _, tool in listed)
    owners = {
        name: sorted(server for server, tool in listed if tool.name == name) for name, n in counts.items() if n > 1
    }
    assert owners == {}, "the orchestrator sees every server at once, so tool names must be unique suite-wide"


@pytest.mark.parametrize(("server", "name"), TOOLS)
def test_every_tool_has_a_description_written_for_a_model(server: str, name: str) -> None:
    description = (_tool(server, name).description or "").strip()
    assert len(description) >= MIN_DESCRIPTION, f"{server}/{name}: description too short: {description!r}"
    assert _tool(server, name).title, f"{server}/{name} has no title"


@pytest.mark.parametrize(("server", "name"), TOOLS)
def test_every_tool_declares_its_read_write_nature_honestly(server: str, name: str) -> None:
    annotations = _tool(server, name).annotations
    assert isinstance(annotations, ToolAnnotations), f"{server}/{name} has no annotations"
    assert annotations.read_only_hint is not None, f"{server}/{name}: readOnlyHint must be set explicitly"
    assert annotations.destructive_hint is not None, f"{server}/{name}: destructiveHint must be set explicitly"
    assert annotations.idempotent_hint is not None, f"{server}/{name}: idempotentHint must be set explicitly"
    assert annotations.open_world_hint is not None, f"{server}/{name}: openWorldHint must be set explicitly"
    if annotations.read_only_hint:
        assert annotations.destructive_hint is False, f"{server}/{name} reads only, so it cannot be destructive"
        assert annotations.idempotent_hint is True, f"{server}/{name} reads only, so repeating it is harmless"


@pytest.mark.parametrize(("server", "name"), TOOLS)
def test_every_input_schema_is_a_flat_object_with_described_properties(server: str, name: str) -> None:
    schema = _tool(server, name).input_schema
    assert schema.get("type") == "object", f"{server}/{name}: input schema must be an object"
    combinators = [key for key in _COMBINATORS if key in schema]
    assert combinators == [], f"{server}/{name}: many clients reject top-level {combinators} in an input schema"
    assert isinstance(schema.get("properties", {}), dict)
    assert set(schema.get("required", [])) <= set(schema.get("properties", {})), f"{server}/{name}"
    assert _properties_without_description(schema, "input") == [], f"{server}/{name}: undescribed arguments"


@pytest.mark.parametrize(("server", "name"), TOOLS)
def test_every_input_schema_refuses_arguments_it_does_not_declare(server: str, name: str) -> None:
    assert _tool(server, name).input_schema.get("additionalProperties") is False, f"{server}/{name}"


@pytest.mark.parametrize(("server", "name"), PROMPTS)
def test_every_prompt_says_what_it_does_and_describes_its_arguments(server: str, name: str) -> None:
    prompt = _surface_item(server, name)
    assert len((prompt.description or "").strip()) >= MIN_DESCRIPTION, f"{server}/{name}"
    assert prompt.title, f"{server}/{name} has no title"
    for argument in prompt.arguments or []:
        assert (argument.description or "").strip(), f"{server}/{name}: argument {argument.name} is undescribed"


@pytest.mark.parametrize(("server", "name"), RESOURCES)
def test_every_resource_says_what_it_holds_and_its_media_type(server: str, name: str) -> None:
    resource = _surface_item(server, name)
    assert len((resource.description or "").strip()) >= 40, f"{server}/{name}"
    assert resource.title, f"{server}/{name} has no title"
    assert resource.mime_type, f"{server}/{name} has no media type"


def test_prompt_and_resource_names_are_unique_across_every_server() -> None:
    names = [
        item.name
        for server in suite_servers()
        for item in (
            *listed_surface(server.name).prompts,
            *listed_surface(server.name).resources,
            *listed_surface(server.name).templates,
        )
    ]
    assert [name for name, count in Counter(names).items() if count > 1] == []


@pytest.mark.parametrize("server", SERVERS)
def test_the_instructions_never_name_a_tool_the_server_does_not_serve(server: SuiteServer, tmp_path: Path) -> None:
    declared = {spec.name for spec in server.specs}
    policies: list[dict[str, Any]] = [{"read_only": True}]
    policies += [{"toolsets": [toolset.name]} for toolset in server.toolsets]
    policies += [{"disabled_tools": [name]} for name in sorted(declared)]
    assert listed_surface(server.name).instructions
    for policy in policies:
        built = server.build(tmp_path, **policy)
        served = {spec.name for spec in built.selection.tools}
        mentioned = {name for name in declared if re.search(rf"\b{name}\b", built.instructions or "")}
        assert mentioned <= served, (policy, mentioned - served)


@pytest.mark.parametrize(("server", "name"), TOOLS)
def test_every_tool_returns_structured_output_with_described_fields(server: str, name: str) -> None:
    schema = _tool(server, name).output_schema
    assert schema is not None, f"{server}/{name} must return a pydantic model (structured output)"
    assert schema.get("type") == "object", f"{server}/{name}: output schema must be an object"
    # tools/list carries the answer's shape only; the fields are described on the model the tool returns, where the
    # generated reference and a reader of the code find them
    returned = typing.get_type_hints(_spec(server, name).fn)["return"]
    described = returned.model_json_schema()
    assert _properties_without_description(described, "output") == [], f"{server}/{name}: undescribed result fields"


@pytest.mark.parametrize(("server", "name"), TOOLS)
def test_every_write_that_a_repeat_would_do_twice_takes_an_optional_idempotency_key(server: str, name: str) -> None:
    spec = _spec(server, name)
    if spec.read_only or spec.idempotent:
        return  # a repeat reads again, or leaves the same state: nothing to deduplicate
    schema = _tool(server, name).input_schema
    assert "idempotency_key" in schema["properties"], f"{server}/{name}"
    assert "idempotency_key" not in schema.get("required", []), f"{server}/{name}"


@pytest.mark.parametrize("server", SERVERS)
def test_the_toolset_registry_and_tools_list_agree(server: SuiteServer) -> None:
    declared = [
        {
            "name": spec.name,
            "title": spec.title,
            "description": spec.description,
            "annotations": spec.annotations,
        }
        for spec in server.specs
    ]
    listed = [
        {"name": tool.name, "title": tool.title, "description": tool.description, "annotations": tool.annotations}
        for tool in listed_tools(server.name)
    ]
    assert listed == declared
