"""The factory server under the serving policy: annotations, read-only mode, toolset selection, write gate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.factory.server import SERVER
from servers.factory.settings import FactorySettings
from servers.factory.tools import TOOLSETS as FACTORY_TOOLSETS
from shared.errors import ConfigError
from shared.settings import load_settings

FACTORY_READS = ["list_kpis", "get_kpi", "get_kpi_history"]
build_server = SERVER.build


async def test_clients_see_every_annotation_set_explicitly(
    factory_settings: Callable[..., FactorySettings],
) -> None:
    async with Client(build_server(factory_settings())) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == {"list_kpis", "get_kpi", "record_kpi_measurement", "get_kpi_history"}
    for tool in tools.values():
        annotations = tool.annotations
        assert annotations is not None
        hints = (
            annotations.read_only_hint,
            annotations.destructive_hint,
            annotations.idempotent_hint,
            annotations.open_world_hint,
        )
        assert None not in hints, tool.name
        assert tool.title, tool.name  # the title is the tool's own, not repeated in its annotations
    assert tools["list_kpis"].annotations.read_only_hint is True  # type: ignore[union-attr]
    record = tools["record_kpi_measurement"].annotations
    assert record is not None
    assert (record.read_only_hint, record.destructive_hint, record.idempotent_hint) == (False, False, False)


async def test_read_only_mode_on_the_factory_lists_every_read_tool_and_no_write_tool(
    factory_settings: Callable[..., FactorySettings],
) -> None:
    async with Client(build_server(factory_settings(read_only=True, allow_writes=True))) as client:
        listed = [tool.name for tool in (await client.list_tools()).tools]
        history = await client.call_tool("get_kpi_history", {"kpi_id": "mttr"})
    assert listed == FACTORY_READS
    assert not history.is_error


def test_a_factory_server_with_an_unknown_toolset_does_not_build(
    factory_settings: Callable[..., FactorySettings],
) -> None:
    with pytest.raises(ConfigError) as raised:
        build_server(factory_settings(toolsets=["kpi"]))
    assert raised.value.key == "AFU9_FACTORY_TOOLSETS"
    assert "known: kpis" in str(raised.value)


async def test_a_gated_write_tool_shows_clients_the_same_schema_as_an_open_one(
    factory_settings: Callable[..., FactorySettings],
) -> None:
    async def listed(settings: FactorySettings) -> dict[str, Any]:
        async with Client(build_server(settings)) as client:
            return {tool.name: tool.model_dump() for tool in (await client.list_tools()).tools}

    assert await listed(factory_settings(allow_writes=False)) == await listed(factory_settings(allow_writes=True))


async def test_the_factory_refuses_to_record_a_measurement_while_writes_are_off(
    factory_settings: Callable[..., FactorySettings],
) -> None:
    async with Client(build_server(factory_settings(allow_writes=False))) as client:
        refused = await client.call_tool("record_kpi_measurement", {"kpi_id": "mttr", "value": 42.0})
        history = await client.call_tool("get_kpi_history", {"kpi_id": "mttr"})

    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    assert "record_kpi_measurement changes data, and writes are disabled on the factory server" in text
    assert "AFU9_ALLOW_WRITES=1" in text
    assert not history.is_error
    assert history.structured_content is not None
    assert history.structured_content["measurements"] == []
    assert history.structured_content["summary"]["count"] == 0


async def test_the_per_server_write_setting_opens_the_factory_gate(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("AFU9_ALLOW_WRITES", "0")
    monkeypatch.setenv("AFU9_FACTORY_ALLOW_WRITES", "1")
    monkeypatch.setenv("AFU9_DATABASE_URL", database_url)
    monkeypatch.setenv("AFU9_DATA_DIR", str(tmp_path))
    async with Client(build_server(load_settings(FactorySettings))) as client:
        recorded = await client.call_tool("record_kpi_measurement", {"kpi_id": "mttr", "value": 42.0})
        history = await client.call_tool("get_kpi_history", {"kpi_id": "mttr"})

    assert not recorded.is_error
    assert history.structured_content is not None
    assert [m["value"] for m in history.structured_content["measurements"]] == [42.0]


def test_the_factory_declares_its_tools_through_toolsets() -> None:
    names = [spec.name for toolset in FACTORY_TOOLSETS for spec in toolset.tools]
    assert names == ["list_kpis", "get_kpi", "record_kpi_measurement", "get_kpi_history"]


async def test_a_closed_per_server_gate_is_named_in_the_refusal(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("AFU9_ALLOW_WRITES", "1")
    monkeypatch.setenv("AFU9_FACTORY_ALLOW_WRITES", "0")
    monkeypatch.setenv("AFU9_DATABASE_URL", database_url)
    monkeypatch.setenv("AFU9_DATA_DIR", str(tmp_path))
    async with Client(build_server(load_settings(FactorySettings))) as client:
        refused = await client.call_tool("record_kpi_measurement", {"kpi_id": "mttr", "value": 42.0})

    assert refused.is_error
    text = refused.content[0].text  # type: ignore[union-attr]
    assert "(AFU9_FACTORY_ALLOW_WRITES is off)" in text
    assert "enable writes with AFU9_FACTORY_ALLOW_WRITES=1" in text
