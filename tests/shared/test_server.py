"""The server kit, on the demo server: the definition, injected dependencies, dependencies that are not
configured, unknown and hidden tools, instructions, prompts, resources and completions, compact answers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from mcp import Client, MCPError
from mcp.types import PromptReference, ResourceTemplateReference, TextContent
from starlette.applications import Starlette

from shared.deps import Health
from shared.transports import http_app
from tests.demo.server import SERVER, DemoDeps, DemoSettings, WeatherPart


def _text(result: object) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))  # type: ignore[attr-defined]


async def test_an_unknown_tool_is_answered_with_the_list_of_tools_the_server_has(demo_client: Client) -> None:
    result = await demo_client.call_tool("get_notes", {})
    assert result.is_error
    assert _text(result) == (
        "Unknown tool: get_notes. This server's tools are: "
        "list_notes, get_note, add_note, log_levels, wait_seconds, get_forecast."
    )


@pytest.mark.parametrize(
    ("overrides", "tool", "reason"),
    [
        ({"read_only": True}, "add_note", "read-only mode is on (AFU9_READ_ONLY=1)"),
        ({"disabled_tools": ["get_note"]}, "get_note", "it is listed in AFU9_DEMO_DISABLED_TOOLS"),
        ({"enabled_tools": ["list_notes"]}, "get_note", "it is not in AFU9_DEMO_ENABLED_TOOLS"),
        ({"toolsets": ["weather"]}, "get_note", "its toolset notes is not in AFU9_DEMO_TOOLSETS"),
    ],
)
async def test_a_tool_hidden_by_policy_says_which_setting_hides_it(
    demo_settings: Callable[..., DemoSettings], overrides: dict[str, object], tool: str, reason: str
) -> None:
    async with Client(SERVER.build(demo_settings(**overrides))) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool(tool, {"note_id": "x", "text": "y"})
    assert tool not in listed
    assert result.is_error
    assert _text(result).startswith(f"{tool} is not served here: {reason}")
    assert all(name in _text(result) for name in listed)


async def test_a_server_built_through_its_definition_uses_the_dependencies_it_is_given(
    demo_settings: Callable[..., DemoSettings],
) -> None:
    settings = demo_settings()
    fake = replace(DemoDeps.from_settings(settings), weather=WeatherPart("http://weather.test"))
    async with Client(SERVER.build(settings, deps=fake)) as client:
        result = await client.call_tool("get_forecast", {"city": "Oslo"})
    assert not result.is_error
    assert result.structured_content == {"text": "sunny in Oslo"}


async def test_a_tool_whose_dependency_is_not_configured_names_the_setting_and_the_others_keep_working(
    demo_settings: Callable[..., DemoSettings],
) -> None:
    server = SERVER.build(demo_settings())
    async with Client(server) as client:
        forecast = await client.call_tool("get_forecast", {"city": "Oslo"})
        notes = await client.call_tool("list_notes", {})
    assert forecast.is_error
    assert "set AFU9_DEMO_WEATHER_URL" in _text(forecast)
    assert "The tools that do not need it keep working." in _text(forecast)
    assert not notes.is_error


@contextlib.asynccontextmanager
async def _http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of ``app`` in-process, with the app's lifespan running."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3999") as http,
    ):
        yield http


async def test_health_is_ok_and_ready_names_each_dependency_state_without_detail(
    demo_settings: Callable[..., DemoSettings],
) -> None:
    settings = demo_settings()
    async with _http(http_app(SERVER.build(settings), settings, stateless=True)) as http:
        health = await http.get("/health")
        ready = await http.get("/ready")

    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["server"] == "demo"
    # The weather service is not configured: not ready, and the answer says which setting would fix it.
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "server": "demo",
        "checks": {
            "database": {"state": "ok"},
            "weather": {"state": "not_configured", "setting": "AFU9_DEMO_WEATHER_URL"},
            "audit": {"state": "ok"},
        },
    }


async def test_ready_shows_the_detail_to_a_caller_with_a_valid_token(
    demo_settings: Callable[..., DemoSettings],
) -> None:
    token = "ops:" + "r" * 24
    settings = demo_settings(weather_url="http://weather.test", http_tokens=[token])
    async with _http(http_app(SERVER.build(settings), settings, stateless=True)) as http:
        anonymous = await http.get("/ready")
        wrong = await http.get("/ready", headers={"Authorization": "Bearer " + "w" * 24})
        detailed = await http.get("/ready", headers={"Authorization": "Bearer " + "r" * 24})

    assert anonymous.status_code == wrong.status_code == detailed.status_code == 200
    assert "detail" not in json.dumps(anonymous.json())
    assert "detail" not in json.dumps(wrong.json())
    body = detailed.json()
    assert body["checks"]["database"] == {"state": "ok", "detail": "sqlite: reachable, schema current"}
    assert body["checks"]["weather"]["detail"] == "weather from http://weather.test"
    assert body["audit"] == {"pending": 0, "written": 0, "dropped": 0, "rejected": 0}


@pytest.mark.parametrize(
    ("overrides", "mentioned", "absent"),
    [
        ({}, ["list_notes"], []),
        ({"toolsets": ["weather"]}, [], ["list_notes"]),
        ({"disabled_tools": ["list_notes"]}, [], ["list_notes"]),
    ],
)
async def test_the_instructions_come_from_the_served_toolsets_and_never_name_a_hidden_tool(
    demo_settings: Callable[..., DemoSettings], overrides: dict[str, object], mentioned: list[str], absent: list[str]
) -> None:
    async with Client(SERVER.build(demo_settings(**overrides))) as client:
        instructions = client.instructions or ""
    assert instructions.startswith("Demo server of the AFU-9 kit.")
    for name in mentioned:
        assert name in instructions
    for name in absent:
        assert name not in instructions
    if "toolsets" in overrides:
        assert "Notes kept by the demo server." not in instructions


async def test_prompts_resources_and_their_completions_are_served_with_the_dependencies_bound(
    demo_client: Client,
) -> None:
    added = await demo_client.call_tool("add_note", {"text": "buy milk"})
    note_id = added.structured_content["id"]  # type: ignore[index]

    prompts = (await demo_client.list_prompts()).prompts
    templates = (await demo_client.list_resource_templates()).resource_templates
    prompt = await demo_client.get_prompt("summarise_note", {"note_id": note_id})
    resource = await demo_client.read_resource(f"note://{note_id}")
    by_prompt = await demo_client.complete(
        PromptReference(type="ref/prompt", name="summarise_note"), {"name": "note_id", "value": note_id[:4]}
    )
    by_template = await demo_client.complete(
        ResourceTemplateReference(type="ref/resource", uri="note://{note_id}"), {"name": "note_id", "value": ""}
    )
    unknown = await demo_client.complete(PromptReference(type="ref/prompt", name="nope"), {"name": "x", "value": ""})

    assert [p.name for p in prompts] == ["summarise_note"]
    assert [t.uri_template for t in templates] == ["note://{note_id}"]
    assert prompt.messages[0].content.text == "Summarise this note in one sentence: buy milk"  # type: ignore[union-attr]
    assert json.loads(resource.contents[0].text) == {"id": note_id, "text": "buy milk"}  # type: ignore[union-attr]
    assert resource.contents[0].text == json.dumps({"id": note_id, "text": "buy milk"}, separators=(",", ":"))  # type: ignore[union-attr]
    assert by_prompt.completion.values == [note_id]
    assert by_template.completion.values == [note_id]
    assert unknown.completion.values == []


async def test_a_missing_resource_is_a_not_found_error_with_the_server_s_sentence(demo_client: Client) -> None:
    with pytest.raises(MCPError) as raised:
        await demo_client.read_resource("note://nope")
    assert "There is no note 'nope'" in raised.value.message


async def test_the_text_of_a_structured_answer_is_compact_json(demo_client: Client) -> None:
    await demo_client.call_tool("add_note", {"text": "one"})
    result = await demo_client.call_tool("list_notes", {})
    text = _text(result)
    assert json.loads(text) == result.structured_content
    assert text == json.dumps(result.structured_content, separators=(",", ":"), ensure_ascii=False)


async def test_a_dependency_check_that_hangs_or_raises_is_reported_down_without_stopping_readiness(
    demo_settings: Callable[..., DemoSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from shared import deps

    class Hanging(WeatherPart):
        async def check(self) -> Health:
            await asyncio.sleep(3600)
            return Health.up()

    monkeypatch.setattr(deps, "CHECK_TIMEOUT", 0.2)
    settings = demo_settings()
    fake = replace(DemoDeps.from_settings(settings), weather=Hanging("http://weather.test"))
    server = SERVER.build(settings, deps=fake)
    try:
        results = await server.parts.readiness()
    finally:
        await fake.database.aclose()
    assert results["weather"].state.value == "down"
    assert "no answer within" in results["weather"].detail
    assert results["database"].ok


def test_the_definition_reads_name_and_port_from_its_settings(tmp_path: Path) -> None:
    assert (SERVER.name, SERVER.port, SERVER.env_prefix) == ("demo", 3999, "AFU9_DEMO_")
    assert DemoSettings(data_dir=tmp_path).port == 3999


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("summarise_note", {"note_id": "nope"}, "There is no note 'nope'; call list_notes for the ids."),
        ("summarise_note", {}, "summarise_note needs the argument(s) note_id."),
        ("no_such_prompt", {}, "Unknown prompt: no_such_prompt. Prompts: summarise_note."),
    ],
)
async def test_a_prompt_that_cannot_be_rendered_answers_invalid_params_with_a_sentence(
    demo_client: Client, name: str, arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(MCPError) as raised:
        await demo_client.get_prompt(name, arguments)
    assert raised.value.code == -32602
    assert raised.value.message == message
