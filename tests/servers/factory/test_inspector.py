"""The MCP Inspector CLI, a client nobody here wrote, lists and calls factory tools over stdio and HTTP.

The Inspector runs on Node 22 from ``scripts/install-node-tools``; its catalog and client config point into a
temporary folder so it writes nothing under the home directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conformance.node_tools import ROOT, NodeTools, factory_http, node_tools
from processes import subprocess_env

pytestmark = pytest.mark.node

FACTORY_TOOLS = {"list_kpis", "get_kpi", "record_kpi_measurement", "get_kpi_history"}
RUN_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def tools() -> NodeTools:
    return node_tools()


@pytest.fixture(scope="module")
def http_url(tools: NodeTools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with factory_http(tmp_path_factory.mktemp("http-data")) as server:
        yield server.url("/mcp")


@pytest.fixture(params=["stdio", "http"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """What follows ``--cli``: the server command (stdio, on its own SQLite folder) or the HTTP URL."""
    if request.param == "http":
        return [request.getfixturevalue("http_url")]
    data_dir = tmp_path / "stdio-data"
    return ["-e", f"AFU9_DATA_DIR={data_dir}", "--cwd", str(ROOT), sys.executable, "-m", "servers.factory"]


def inspector(tools: NodeTools, folder: Path, target: list[str], *method: str) -> dict[str, Any]:
    """Run ``mcp-inspector --cli <target> --method ...``; the JSON it prints (AssertionError if it failed)."""
    command = [*tools.inspector, "--cli", *target, *method]
    env = subprocess_env(
        {
            "MCP_CATALOG_PATH": str(folder / "inspector" / "catalog.json"),
            "MCP_CLIENT_CONFIG_PATH": str(folder / "inspector" / "client.json"),
        }
    )
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=RUN_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = f"$ {' '.join(command)}\nstdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    assert completed.returncode == 0, f"inspector exited {completed.returncode}\n{output}"
    try:
        result = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"inspector printed no JSON\n{output}") from None
    assert isinstance(result, dict), output
    return result


def test_inspector_lists_the_four_factory_tools(tools: NodeTools, target: list[str], tmp_path: Path) -> None:
    result = inspector(tools, tmp_path, target, "--method", "tools/list")

    listed = {tool["name"]: tool for tool in result["tools"]}
    assert set(listed) == FACTORY_TOOLS
    assert listed["list_kpis"]["annotations"]["readOnlyHint"] is True
    assert listed["record_kpi_measurement"]["annotations"]["readOnlyHint"] is False


def test_inspector_calls_list_kpis_and_gets_the_structured_catalog(
    tools: NodeTools, target: list[str], tmp_path: Path
) -> None:
    result = inspector(tools, tmp_path, target, "--method", "tools/call", "--tool-name", "list_kpis")

    assert result["isError"] is False
    catalog = result["structuredContent"]
    assert catalog["total"] == 12
    assert {"cycle_time", "mttr", "build_determinism"} <= {kpi["kpi_id"] for kpi in catalog["kpis"]}
    assert json.loads(result["content"][0]["text"]) == catalog


def test_inspector_calls_get_kpi_with_json_arguments(tools: NodeTools, target: list[str], tmp_path: Path) -> None:
    result = inspector(
        tools,
        tmp_path,
        target,
        "--method",
        "tools/call",
        "--tool-name",
        "get_kpi",
        "--tool-args-json",
        json.dumps({"kpi_id": "mttr"}),
    )

    assert result["isError"] is False
    definition = result["structuredContent"]["definition"]
    assert (definition["kpi_id"], definition["unit"], definition["direction"]) == ("mttr", "minutes", "lower_is_better")
    assert result["structuredContent"]["versions"] == [1]
