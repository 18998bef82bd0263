"""The KPI catalog toolset, through a real in-process MCP client, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from mcp import Client
from mcp.types import CallToolResult, TextContent

from servers.factory.deps import MIGRATIONS
from servers.factory.schema import kpi_definitions
from servers.factory.server import SERVER
from servers.factory.settings import FactorySettings
from shared.db import KIT_MIGRATIONS, Database

# (kpi_id, name, category, unit, target, direction), as the catalog is seeded.
CATALOG = [
    ("cycle_time", "Cycle time", "delivery", "hours", 24.0, "lower_is_better"),
    ("throughput", "Throughput", "delivery", "outcomes_per_day", 10.0, "higher_is_better"),
    ("success_rate", "Success rate", "quality", "percent", 95.0, "higher_is_better"),
    ("test_coverage", "Test coverage", "quality", "percent", 80.0, "higher_is_better"),
    ("code_review_score", "Code review score", "quality", "score_0_100", 85.0, "higher_is_better"),
    ("mtbf", "Mean time between failures", "reliability", "hours", 168.0, "higher_is_better"),
    ("mttr", "Mean time to recovery", "reliability", "minutes", 60.0, "lower_is_better"),
    ("availability", "Availability", "reliability", "percent", 99.9, "higher_is_better"),
    ("cost_per_outcome", "Cost per outcome", "efficiency", "usd", 5.0, "lower_is_better"),
    ("vulnerability_response_time", "Vulnerability response time", "security", "hours", 72.0, "lower_is_better"),
    ("security_incidents", "Security incidents", "security", "count", 0.0, "lower_is_better"),
    ("build_determinism", "Build determinism", "quality", "percent", 99.0, "higher_is_better"),
]
KNOWN_IDS = sorted(row[0] for row in CATALOG)
BAD_CURSOR = "The cursor is not valid: pass back next_cursor exactly as a previous call returned it."
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _summary(kpi_id: str, name: str, category: str, unit: str, target: float, direction: str) -> dict[str, Any]:
    return {
        "kpi_id": kpi_id,
        "name": name,
        "category": category,
        "unit": unit,
        "target": target,
        "direction": direction,
        "version": 1,
    }


# The catalog as list_kpis orders it: by category, then id.
SUMMARIES = sorted((_summary(*row) for row in CATALOG), key=lambda kpi: (kpi["category"], kpi["kpi_id"]))


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a call that must succeed."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def refused(result: CallToolResult) -> str:
    """The message of a call that must end in isError."""
    assert result.is_error, result.structured_content
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


def iso(moment: datetime) -> str:
    """How the tools write a UTC date-time."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cursor_of(position: dict[str, Any]) -> str:
    """A cursor in the server's own encoding, for tampering tests."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


async def record(client: Client, kpi_id: str, value: float, **extra: Any) -> dict[str, Any]:
    return ok(await client.call_tool("record_kpi_measurement", {"kpi_id": kpi_id, "value": value, **extra}))


async def every_page(client: Client, tool: str, arguments: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Every page of a list tool, following next_cursor to the end (bounded)."""
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        page = ok(await client.call_tool(tool, arguments | ({"cursor": cursor} if cursor else {})))
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert page[key], "a page with a next_cursor must not be empty"
    raise AssertionError("next_cursor never ran out")


async def add_definition_version(database_url: str, kpi_id: str, version: int, **changes: Any) -> None:
    """Store a new version of a KPI definition next to the seeded one (no tool writes definitions yet)."""
    database = Database(database_url, migrations=(KIT_MIGRATIONS, MIGRATIONS))
    try:
        async with database.connect() as connection:
            first = (
                await connection.execute(
                    sa.select(kpi_definitions).where(kpi_definitions.c.kpi_id == kpi_id, kpi_definitions.c.version == 1)
                )
            ).one()
            row = dict(first._mapping) | {"version": version} | changes
            await connection.execute(kpi_definitions.insert().values(**row))
    finally:
        await database.aclose()


# -- list_kpis ---------------------------------------------------------------------------------------------------


async def test_list_kpis_returns_the_twelve_factory_kpis(factory_client: Client) -> None:
    result = ok(await factory_client.call_tool("list_kpis", {"limit": 100}))
    assert result == {"kpis": SUMMARIES, "total": 12, "next_cursor": None}


async def test_list_kpis_filters_by_category(factory_client: Client) -> None:
    for category in ["delivery", "quality", "reliability", "efficiency", "security"]:
        result = ok(await factory_client.call_tool("list_kpis", {"category": category}))
        expected = [kpi for kpi in SUMMARIES if kpi["category"] == category]
        assert result == {"kpis": expected, "total": len(expected), "next_cursor": None}, category


async def test_list_kpis_pages_through_all_twelve_with_a_cursor_without_duplicates(factory_client: Client) -> None:
    pages = await every_page(factory_client, "list_kpis", {"limit": 5}, "kpis")

    assert [len(page["kpis"]) for page in pages] == [5, 5, 2]
    assert all(page["total"] == 12 for page in pages)
    assert [kpi for page in pages for kpi in page["kpis"]] == SUMMARIES


async def test_list_kpis_pages_within_a_category(factory_client: Client) -> None:
    pages = await every_page(factory_client, "list_kpis", {"category": "quality", "limit": 3}, "kpis")

    assert [[kpi["kpi_id"] for kpi in page["kpis"]] for page in pages] == [
        ["build_determinism", "code_review_score", "success_rate"],
        ["test_coverage"],
    ]
    assert [page["total"] for page in pages] == [4, 4]


async def test_list_kpis_refuses_a_cursor_it_did_not_make_with_a_clear_sentence(factory_client: Client) -> None:
    forged = {
        "garbage": "not-a-cursor",
        "a history cursor": cursor_of({"t": "2026-01-01T00:00:00+00:00", "id": "x"}),
        "offset not a number": cursor_of({"offset": "five"}),
        "negative offset": cursor_of({"offset": -3}),
        "offset past any integer column": cursor_of({"offset": 10**30}),
        "fractional offset": cursor_of({"offset": 2.5}),
        "null offset": cursor_of({"offset": None}),
        "boolean offset": cursor_of({"offset": True}),
    }
    for case, cursor in forged.items():
        result = await factory_client.call_tool("list_kpis", {"limit": 5, "cursor": cursor})
        assert refused(result) == f"Error executing tool list_kpis: {BAD_CURSOR}", case


async def test_list_kpis_takes_an_empty_cursor_as_the_first_page(factory_client: Client) -> None:
    result = ok(await factory_client.call_tool("list_kpis", {"limit": 5, "cursor": ""}))
    assert result["kpis"] == SUMMARIES[:5]


# -- get_kpi -------------------------------------------------------------------------------------------------------


async def test_get_kpi_returns_the_current_definition_and_its_versions(factory_client: Client) -> None:
    result = ok(await factory_client.call_tool("get_kpi", {"kpi_id": "mttr"}))

    effective_from = datetime.fromisoformat(result["definition"].pop("effective_from"))
    assert effective_from.utcoffset() == timedelta(0)
    assert result == {
        "definition": {
            "kpi_id": "mttr",
            "version": 1,
            "name": "Mean time to recovery",
            "category": "reliability",
            "unit": "minutes",
            "description": "How long it takes to restore service after a production failure.",
            "formula": "mean(restored_at - failed_at) over failures restored in the period, in minutes",
            "target": 60.0,
            "direction": "lower_is_better",
            "changelog": "v1: initial definition, carried over from the AFU-9 v0.4 factory KPI set.",
        },
        "versions": [1],
    }


async def test_get_kpi_reads_an_explicit_version_and_defaults_to_the_newest(
    factory_client: Client, database_url: str
) -> None:
    ok(await factory_client.call_tool("list_kpis", {}))  # the server creates the schema on first use
    await add_definition_version(
        database_url,
        "mttr",
        2,
        target=30.0,
        changelog="v2: target tightened to 30 minutes.",
        effective_from=datetime(2026, 6, 1, tzinfo=UTC),
    )

    current = ok(await factory_client.call_tool("get_kpi", {"kpi_id": "mttr"}))
    first = ok(await factory_client.call_tool("get_kpi", {"kpi_id": "mttr", "version": 1}))
    explicit = ok(await factory_client.call_tool("get_kpi", {"kpi_id": "mttr", "version": 2}))

    assert current == explicit
    assert current["versions"] == first["versions"] == [1, 2]
    assert (current["definition"]["version"], current["definition"]["target"]) == (2, 30.0)
    assert current["definition"]["changelog"] == "v2: target tightened to 30 minutes."
    assert current["definition"]["effective_from"] == "2026-06-01T00:00:00Z"
    assert (first["definition"]["version"], first["definition"]["target"]) == (1, 60.0)
    listed = ok(await factory_client.call_tool("list_kpis", {"category": "reliability"}))["kpis"]
    assert [kpi for kpi in listed if kpi["kpi_id"] == "mttr"] == [
        _summary("mttr", "Mean time to recovery", "reliability", "minutes", 30.0, "lower_is_better") | {"version": 2}
    ]
    recorded = await record(factory_client, "mttr", 45.0)
    assert (recorded["measurement"]["kpi_version"], recorded["measurement"]["meets_target"]) == (2, False)


async def test_get_kpi_with_an_unknown_version_lists_the_versions_that_exist(factory_client: Client) -> None:
    result = await factory_client.call_tool("get_kpi", {"kpi_id": "mttr", "version": 7})
    assert refused(result) == "Error executing tool get_kpi: KPI mttr has no version 7; its versions are [1]."


async def test_get_kpi_with_an_unknown_id_lists_the_kpis_that_exist(factory_client: Client) -> None:
    result = await factory_client.call_tool("get_kpi", {"kpi_id": "lead_time"})
    assert refused(result) == (
        f"Error executing tool get_kpi: There is no KPI 'lead_time'. Known KPIs: {', '.join(KNOWN_IDS)}. "
        "Call list_kpis for details."
    )


async def test_get_kpi_rejects_an_id_that_cannot_be_a_kpi_naming_the_field(factory_client: Client) -> None:
    for kpi_id in ["MTTR", "mttr; drop table kpi_definitions", "m", "1mttr"]:
        message = refused(await factory_client.call_tool("get_kpi", {"kpi_id": kpi_id}))
        assert message.startswith("Error executing tool get_kpi: Invalid arguments: kpi_id: "), kpi_id
        assert "https://" not in message


# -- record_kpi_measurement ----------------------------------------------------------------------------------------


async def test_recording_a_measurement_says_honestly_whether_it_meets_the_target(factory_client: Client) -> None:
    cases = [
        ("success_rate", 95.0, True),  # higher is better: the target itself meets it
        ("success_rate", 99.5, True),
        ("success_rate", 94.99, False),
        ("mttr", 60.0, True),  # lower is better: the target itself meets it
        ("mttr", 12.0, True),
        ("mttr", 60.5, False),
        ("security_incidents", 0.0, True),
        ("security_incidents", 1.0, False),
        ("availability", 99.89, False),
    ]
    for minute, (kpi_id, value, meets) in enumerate(cases):
        measured_at = iso(T0 + timedelta(minutes=minute))
        result = await record(factory_client, kpi_id, value, measured_at=measured_at, source="ci")
        measurement = result["measurement"]
        assert result == {
            "measurement": {
                "id": measurement["id"],
                "kpi_id": kpi_id,
                "kpi_version": 1,
                "value": value,
                "measured_at": measured_at,
                "scope": "factory",
                "source": "ci",
                "meets_target": meets,
            },
            "created": True,
        }
        window = {"kpi_id": kpi_id, "start": measured_at, "end": iso(T0 + timedelta(minutes=minute + 1))}
        history = ok(await factory_client.call_tool("get_kpi_history", window))
        assert history["measurements"] == [measurement]
        assert history["summary"]["latest_meets_target"] is meets


async def test_repeating_a_measurement_with_the_same_idempotency_key_records_it_once(factory_client: Client) -> None:
    arguments = {"measured_at": "2026-03-01T10:00:00Z", "idempotency_key": "run-42/mttr"}
    first = await record(factory_client, "mttr", 42.0, **arguments)
    again = await record(factory_client, "mttr", 42.0, **arguments)

    assert first["created"] is True
    assert again == first | {"created": False}
    history = ok(
        await factory_client.call_tool(
            "get_kpi_history", {"kpi_id": "mttr", "start": "2026-03-01T00:00:00Z", "end": "2026-03-02T00:00:00Z"}
        )
    )
    assert [m["id"] for m in history["measurements"]] == [first["measurement"]["id"]]


@pytest.mark.parametrize(
    "changed",
    [{"value": 43.0}, {"scope": "repo:acme/shop"}, {"kpi_id": "cycle_time"}],
)
async def test_reusing_an_idempotency_key_for_a_different_measurement_is_refused(
    factory_client: Client, changed: dict[str, Any]
) -> None:
    arguments = {"kpi_id": "mttr", "value": 42.0, "idempotency_key": "run-42/mttr"}
    ok(await factory_client.call_tool("record_kpi_measurement", arguments))

    message = refused(await factory_client.call_tool("record_kpi_measurement", arguments | changed))

    assert message == (
        "Error executing tool record_kpi_measurement: Idempotency key 'run-42/mttr' was already used for a "
        "record_kpi_measurement call with different values; use a new key for a different write."
    )
    history = ok(await factory_client.call_tool("get_kpi_history", {"kpi_id": "mttr"}))
    assert history["summary"]["count"] == 1


async def test_concurrent_calls_with_one_key_and_the_same_values_all_answer_with_the_one_stored_result(
    factory_client: Client,
) -> None:
    arguments = {"kpi_id": "mttr", "value": 42.0, "idempotency_key": "race-1"}
    results = await asyncio.gather(*(factory_client.call_tool("record_kpi_measurement", arguments) for _ in range(6)))

    answers = [ok(result) for result in results]
    assert len({answer["measurement"]["id"] for answer in answers}) == 1
    assert sorted(answer["created"] for answer in answers) == [False] * 5 + [True]
    history = ok(await factory_client.call_tool("get_kpi_history", {"kpi_id": "mttr"}))
    assert history["summary"]["count"] == 1


async def test_concurrent_calls_with_one_key_and_different_values_write_once_and_refuse_the_rest_clearly(
    factory_client: Client,
) -> None:
    results = await asyncio.gather(
        *(
            factory_client.call_tool(
                "record_kpi_measurement", {"kpi_id": "mttr", "value": float(n), "idempotency_key": "race-2"}
            )
            for n in range(6)
        )
    )

    written = [result for result in results if not result.is_error]
    refusals = [refused(result) for result in results if result.is_error]
    assert len(written) == 1
    assert len(refusals) == 5
    assert all("was already used for a record_kpi_measurement call with different values" in r for r in refusals)
    history = ok(await factory_client.call_tool("get_kpi_history", {"kpi_id": "mttr"}))
    assert history["summary"]["count"] == 1


async def test_recording_without_an_idempotency_key_stores_every_call(factory_client: Client) -> None:
    first = await record(factory_client, "mttr", 42.0, measured_at="2026-03-01T10:00:00Z")
    second = await record(factory_client, "mttr", 42.0, measured_at="2026-03-01T10:00:00Z")

    assert first["created"] is second["created"] is True
    assert first["measurement"]["id"] != second["measurement"]["id"]


@pytest.mark.parametrize(
    ("measured_at", "stored"),
    [
        ("2026-03-01T10:00:00+02:00", "2026-03-01T08:00:00Z"),
        ("2026-03-01T10:00:00-05:30", "2026-03-01T15:30:00Z"),
        ("2026-03-01T23:30:00-01:00", "2026-03-02T00:30:00Z"),
        ("2026-03-01T10:00:00.250000+00:00", "2026-03-01T10:00:00.250000Z"),
        ("2026-03-01T10:00:00", "2026-03-01T10:00:00Z"),  # no offset: taken as UTC
    ],
)
async def test_measured_at_with_any_offset_is_stored_and_returned_in_utc(
    factory_client: Client, measured_at: str, stored: str
) -> None:
    recorded = await record(factory_client, "throughput", 12.0, measured_at=measured_at)
    assert recorded["measurement"]["measured_at"] == stored

    history = ok(
        await factory_client.call_tool(
            "get_kpi_history",
            {"kpi_id": "throughput", "start": "2026-03-01T00:00:00+00:00", "end": "2026-03-03T00:00:00+00:00"},
        )
    )
    assert [m["measured_at"] for m in history["measurements"]] == [stored]


async def test_measured_at_defaults_to_now_in_utc(factory_client: Client) -> None:
    before = datetime.now(UTC)
    recorded = await record(factory_client, "throughput", 12.0)
    after = datetime.now(UTC)

    moment = datetime.fromisoformat(recorded["measurement"]["measured_at"])
    assert moment.utcoffset() == timedelta(0)
    assert before <= moment <= after


async def test_recording_invalid_arguments_is_refused_naming_the_field_and_stores_nothing(
    factory_client: Client,
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kpi_id": "mttr", "value": "fast"}, "value"),
        ({"kpi_id": "mttr", "value": float("nan")}, "value"),
        ({"kpi_id": "mttr", "value": float("inf")}, "value"),
        ({"kpi_id": "mttr"}, "value"),
        ({"kpi_id": "mttr", "value": 1.0, "measured_at": "yesterday"}, "measured_at"),
        ({"kpi_id": "mttr", "value": 1.0, "scope": ""}, "scope"),
        ({"kpi_id": "mttr", "value": 1.0, "scope": "s" * 256}, "scope"),
        ({"kpi_id": "mttr", "value": 1.0, "idempotency_key": ""}, "idempotency_key"),
        ({"kpi_id": "mttr", "value": 1e308}, "value"),
        ({"kpi_id": "mttr", "value": -1e13}, "value"),
        ({"kpi_id": "mttr", "value": 1.0, "scope": "fac\x00tory"}, "scope"),
        ({"kpi_id": "mttr", "value": 1.0, "sauce": "x"}, "sauce"),
    ]
    for arguments, named in cases:
        message = refused(await factory_client.call_tool("record_kpi_measurement", arguments))
        assert message.startswith("Error executing tool record_kpi_measurement: Invalid arguments: "), arguments
        assert f" {named}" in message, arguments
        assert "\n" not in message
    history = ok(await factory_client.call_tool("get_kpi_history", {"kpi_id": "mttr"}))
    assert history["summary"]["count"] == 0


@pytest.mark.parametrize("measured_at", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"])
async def test_a_measured_at_outside_the_calendar_in_utc_is_refused_with_a_sentence(
    factory_client: Client, measured_at: str
) -> None:
    message = refused(
        await factory_client.call_tool(
            "record_kpi_measurement", {"kpi_id": "mttr", "value": 1.0, "measured_at": measured_at}
        )
    )
    assert message.endswith(
        "falls outside the years 1 to 9999 once converted to UTC; pass a date-time inside that range."
    )


async def test_recording_for_an_unknown_kpi_lists_the_kpis_that_exist(factory_client: Client) -> None:
    message = refused(await factory_client.call_tool("record_kpi_measurement", {"kpi_id": "lead_time", "value": 1.0}))
    assert f"There is no KPI 'lead_time'. Known KPIs: {', '.join(KNOWN_IDS)}." in message


async def test_recording_is_refused_while_the_write_gate_is_closed(
    factory_settings: Callable[..., FactorySettings],
) -> None:
    async with Client(SERVER.build(factory_settings(allow_writes=False))) as client:
        message = refused(await client.call_tool("record_kpi_measurement", {"kpi_id": "mttr", "value": 1.0}))
        history = ok(await client.call_tool("get_kpi_history", {"kpi_id": "mttr"}))

    assert "writes are disabled on the factory server (AFU9_ALLOW_WRITES is off). Nothing was changed." in message
    assert "AFU9_ALLOW_WRITES=1" in message
    assert history["summary"]["count"] == 0


# -- get_kpi_history -----------------------------------------------------------------------------------------------


async def test_history_pages_through_a_range_in_order_with_summary_over_the_whole_range(
    factory_client: Client,
) -> None:
    # 23 values inside [T0, T0 + 1 day), three pairs sharing a timestamp; noise outside the range, scope and KPI.
    inside: list[dict[str, Any]] = []
    for i in range(20):
        moment = T0 + timedelta(minutes=60 * i + 1)
        inside.append(
            (await record(factory_client, "success_rate", 90.0 + i / 2, measured_at=iso(moment)))["measurement"]
        )
    for i in (3, 7, 11):
        moment = T0 + timedelta(minutes=60 * i + 1)
        inside.append((await record(factory_client, "success_rate", 99.0, measured_at=iso(moment)))["measurement"])
    inside.append((await record(factory_client, "success_rate", 97.0, measured_at=iso(T0)))["measurement"])
    await record(factory_client, "success_rate", 1.0, measured_at=iso(T0 - timedelta(microseconds=1)))
    await record(factory_client, "success_rate", 2.0, measured_at=iso(T0 + timedelta(days=1)))  # end is exclusive
    await record(factory_client, "success_rate", 3.0, measured_at=iso(T0 + timedelta(hours=5)), scope="repo:acme/shop")
    await record(factory_client, "test_coverage", 4.0, measured_at=iso(T0 + timedelta(hours=5)))
    inside.sort(key=lambda m: (m["measured_at"], m["id"]))
    values = [m["value"] for m in inside]
    summary = {
        "count": 24,
        "min": min(values),
        "max": max(values),
        "mean": pytest.approx(statistics.fmean(values)),
        "latest": inside[-1]["value"],
        "latest_meets_target": inside[-1]["value"] >= 95.0,
    }
    window = {"kpi_id": "success_rate", "start": iso(T0), "end": iso(T0 + timedelta(days=1))}

    pages = await every_page(factory_client, "get_kpi_history", window | {"limit": 5}, "measurements")

    assert [len(page["measurements"]) for page in pages] == [5, 5, 5, 5, 4]
    assert [m for page in pages for m in page["measurements"]] == inside
    for page in pages:
        assert page["summary"] == summary
        assert {key: page[key] for key in ("kpi_id", "unit", "target", "direction", "scope", "start", "end")} == {
            "kpi_id": "success_rate",
            "unit": "percent",
            "target": 95.0,
            "direction": "higher_is_better",
            "scope": "factory",
            "start": iso(T0),
            "end": iso(T0 + timedelta(days=1)),
        }
    single = ok(await factory_client.call_tool("get_kpi_history", window | {"limit": 500}))
    assert single["measurements"] == inside
    assert single["next_cursor"] is None


async def test_history_is_separate_per_scope(factory_client: Client) -> None:
    factory = await record(factory_client, "mttr", 30.0, measured_at=iso(T0 + timedelta(hours=1)))
    repo = await record(factory_client, "mttr", 90.0, measured_at=iso(T0 + timedelta(hours=2)), scope="repo:acme/shop")
    window = {"kpi_id": "mttr", "start": iso(T0), "end": iso(T0 + timedelta(days=1))}

    of_factory = ok(await factory_client.call_tool("get_kpi_history", window))
    of_repo = ok(await factory_client.call_tool("get_kpi_history", window | {"scope": "repo:acme/shop"}))
    of_other = ok(await factory_client.call_tool("get_kpi_history", window | {"scope": "repo:acme/other"}))

    assert of_factory["measurements"] == [factory["measurement"]]
    assert of_repo["measurements"] == [repo["measurement"]]
    assert (of_repo["scope"], of_repo["summary"]["latest"], of_repo["summary"]["latest_meets_target"]) == (
        "repo:acme/shop",
        90.0,
        False,
    )
    assert of_other["measurements"] == []


async def test_history_of_an_empty_range_has_an_empty_summary(factory_client: Client) -> None:
    result = ok(
        await factory_client.call_tool(
            "get_kpi_history", {"kpi_id": "availability", "start": iso(T0), "end": iso(T0 + timedelta(days=1))}
        )
    )
    assert result == {
        "kpi_id": "availability",
        "unit": "percent",
        "target": 99.9,
        "direction": "higher_is_better",
        "scope": "factory",
        "start": "2026-03-01T00:00:00Z",
        "end": "2026-03-02T00:00:00Z",
        "measurements": [],
        "summary": {
            "count": 0,
            "min": None,
            "max": None,
            "mean": None,
            "latest": None,
            "latest_meets_target": None,
        },
        "next_cursor": None,
    }


async def test_history_defaults_to_the_last_thirty_days(factory_client: Client) -> None:
    now = datetime.now(UTC)
    recent = await record(factory_client, "mttr", 20.0, measured_at=iso(now - timedelta(days=29)))
    await record(factory_client, "mttr", 25.0, measured_at=iso(now - timedelta(days=31)))

    result = ok(await factory_client.call_tool("get_kpi_history", {"kpi_id": "mttr"}))

    assert result["measurements"] == [recent["measurement"]]
    end = datetime.fromisoformat(result["end"])
    assert end - datetime.fromisoformat(result["start"]) == timedelta(days=30)
    assert now <= end <= datetime.now(UTC)


async def test_history_with_an_end_not_after_its_start_is_refused_with_a_sentence(factory_client: Client) -> None:
    cases = [
        ("2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
        ("2026-03-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
        # the same instant, written two ways
        ("2026-03-01T02:00:00+02:00", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
    ]
    for start, end, start_utc, end_utc in cases:
        arguments = {"kpi_id": "mttr", "start": start, "end": end}
        assert refused(await factory_client.call_tool("get_kpi_history", arguments)) == (
            f"Error executing tool get_kpi_history: end ({end_utc}) must be after start ({start_utc})."
        )


async def test_history_of_an_unknown_kpi_lists_the_kpis_that_exist(factory_client: Client) -> None:
    message = refused(await factory_client.call_tool("get_kpi_history", {"kpi_id": "lead_time"}))
    assert f"There is no KPI 'lead_time'. Known KPIs: {', '.join(KNOWN_IDS)}." in message


async def test_history_refuses_a_cursor_it_did_not_make_with_a_clear_sentence(factory_client: Client) -> None:
    zero = str(uuid.UUID(int=0))
    forged = {
        "garbage": "not-a-cursor",
        "a list cursor": cursor_of({"offset": 5}),
        "time not iso": cursor_of({"t": "yesterday", "id": zero}),
        "id not a uuid": cursor_of({"t": "2026-03-01T00:00:00+00:00", "id": "not-a-uuid"}),
        "time off the calendar in utc": cursor_of({"t": "0001-01-01T00:00:00+05:00", "id": zero}),
        "numbers": cursor_of({"t": 12, "id": 34}),
        "nulls": cursor_of({"t": None, "id": None}),
    }
    window = {"kpi_id": "mttr", "start": iso(T0), "end": iso(T0 + timedelta(days=1))}
    for case, cursor in forged.items():
        message = refused(await factory_client.call_tool("get_kpi_history", window | {"cursor": cursor}))
        assert message == f"Error executing tool get_kpi_history: {BAD_CURSOR}", case


async def test_a_measurement_is_judged_against_the_definition_version_it_was_recorded_under(
    factory_client: Client, database_url: str
) -> None:
    before = await record(factory_client, "mttr", 45.0, idempotency_key="before-v2")
    await add_definition_version(database_url, "mttr", 2, target=30.0, changelog="v2: target tightened to 30 minutes.")
    after = await record(factory_client, "mttr", 45.0)
    replay = ok(
        await factory_client.call_tool(
            "record_kpi_measurement", {"kpi_id": "mttr", "value": 45.0, "idempotency_key": "before-v2"}
        )
    )
    history = ok(await factory_client.call_tool("get_kpi_history", {"kpi_id": "mttr"}))

    assert (before["measurement"]["kpi_version"], before["measurement"]["meets_target"]) == (1, True)
    assert (after["measurement"]["kpi_version"], after["measurement"]["meets_target"]) == (2, False)
    assert replay == {"measurement": before["measurement"], "created": False}
    assert [(m["kpi_version"], m["meets_target"]) for m in history["measurements"]] == [(1, True), (2, False)]
    assert (history["target"], history["summary"]["latest_meets_target"]) == (30.0, False)


async def test_the_largest_values_a_kpi_holds_keep_its_history_and_summary_exact(factory_client: Client) -> None:
    for n, value in enumerate([1e12, 1e12, 1e12, -1e12]):
        await record(factory_client, "cost_per_outcome", value, measured_at=iso(T0 + timedelta(hours=n)))
    history = ok(
        await factory_client.call_tool(
            "get_kpi_history",
            {"kpi_id": "cost_per_outcome", "start": iso(T0), "end": iso(T0 + timedelta(days=1))},
        )
    )
    assert history["summary"] | {"latest_meets_target": None} == {
        "count": 4,
        "min": -1e12,
        "max": 1e12,
        "mean": 5e11,
        "latest": -1e12,
        "latest_meets_target": None,
    }


async def test_a_value_beyond_what_a_kpi_holds_is_refused_naming_the_range_and_history_keeps_working(
    factory_client: Client,
) -> None:
    message = refused(await factory_client.call_tool("record_kpi_measurement", {"kpi_id": "mttr", "value": 1e308}))
    assert "value: should be less than or equal to 1000000000000" in message
    history = ok(await factory_client.call_tool("get_kpi_history", {"kpi_id": "mttr"}))
    assert history["summary"]["count"] == 0
