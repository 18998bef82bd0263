"""The official MCP conformance suite (``@modelcontextprotocol/conformance``) against every server.

The server runs as a real process over streamable HTTP, stateful (the default) and ``--stateless`` (JSON
responses, no session). Each scenario that applies to a real server is one test (see the README): most of the
suite's 32 scenarios call fixture tools and resources of a reference server (``test_simple_text``,
``test://static-text``, ...) that a product server does not have, so they are not run at all. In particular
``tools-call-simple-text`` and ``tools-call-error`` "pass" against any server (an unknown tool is an isError
result, and they only check its shape), so they are never counted.

A test passes only when the CLI exits 0 **and** every check it wrote to ``checks.json`` is SUCCESS (a WARNING
fails the test too).
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from processes import ServerProcess, subprocess_env

from conformance.node_tools import NodeTools, node_tools, server_http
from tests.suite import suite_servers

pytestmark = pytest.mark.node

# Apply to any server over HTTP (server-initialize ... prompts-list, server-sse-multiple-streams), to a
# local, unauthenticated one (dns-rebinding-protection: Host/Origin checks are on for every route), and to a
# server that offers logging and completions (every server on the kit does: MCP logging is the kit's, and the
# factory completes the arguments of its prompt and resource template, the github server those of its file
# resource templates, the deploy and observability servers the cluster and service of their prompts).
SCENARIOS = [
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
    "logging-set-level",
    "completion-complete",
]

# Scenarios that do not apply in --stateless mode, and why.
NOT_STATELESS = {
    # Stateless mode answers every POST with one JSON body and issues no session id, so there are no SSE
    # streams to run side by side: the harness records a single WARNING ("did not provide session ID")
    # and no check at all.
    "server-sse-multiple-streams": "stateless JSON mode has no session and no SSE streams",
}

MODES = {"stateful": (), "stateless": ("--stateless",)}
SERVERS = [server.name for server in suite_servers()]

CASES = [
    pytest.param(server, mode, scenario, id=f"{server}-{mode}-{scenario}")
    for server in SERVERS
    for mode in MODES
    for scenario in SCENARIOS
    if not (mode == "stateless" and scenario in NOT_STATELESS)
]

RUN_TIMEOUT = 60.0
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the CLI colours its report whatever the terminal


@pytest.fixture(scope="module")
def tools() -> NodeTools:
    return node_tools()


@pytest.fixture(scope="module")
def servers(
    tools: NodeTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[str, str], ServerProcess]]:
    """Each server in each mode for the whole module, each on its own SQLite data folder (github without
    credentials: the protocol does not need them)."""
    with contextlib.ExitStack() as stack:
        yield {
            (server, mode): stack.enter_context(
                server_http(server, tmp_path_factory.mktemp(f"{server}-{mode}"), *flags)
            )
            for server in SERVERS
            for mode, flags in MODES.items()
        }


def _run_scenario(tools: NodeTools, url: str, scenario: str, results: Path) -> list[dict[str, Any]]:
    """Run one scenario; return its checks (AssertionError with the CLI output when it did not pass)."""
    command = [*tools.conformance, "server", "--url", url, "--scenario", scenario, "-o", str(results)]
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=RUN_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    output = _ANSI.sub("", f"$ {' '.join(command)}\n{completed.stdout}\n{completed.stderr}")
    written = sorted(results.glob("*/checks.json"))
    assert len(written) == 1, f"expected one checks.json for {scenario}, found {written}\n{output}"
    checks: list[dict[str, Any]] = json.loads(written[0].read_text())
    assert checks, f"{scenario} ran no check\n{output}"
    failed = [
        f"{check['id']}: {check['status']} {check.get('errorMessage') or json.dumps(check.get('details'))[:500]}"
        for check in checks
        if check["status"] != "SUCCESS"
    ]
    assert not failed, f"{scenario}: checks not SUCCESS:\n" + "\n".join(failed) + f"\n{output}"
    assert completed.returncode == 0, f"{scenario}: conformance exited {completed.returncode}\n{output}"
    return checks


@pytest.mark.parametrize(("server", "mode", "scenario"), CASES)
def test_every_server_passes_the_conformance_scenario(
    tools: NodeTools,
    servers: dict[tuple[str, str], ServerProcess],
    tmp_path: Path,
    server: str,
    mode: str,
    scenario: str,
) -> None:
    _run_scenario(tools, servers[server, mode].url("/mcp"), scenario, tmp_path / "results")


async def _tool_names(url: str) -> list[str]:
    async with Client(url, mode="legacy") as client:
        return [tool.name for tool in (await client.list_tools()).tools]


def test_the_tools_list_scenario_checks_every_tool_the_server_serves(
    tools: NodeTools, servers: dict[tuple[str, str], ServerProcess], tmp_path: Path
) -> None:
    """Guards against a vacuous pass: the harness really saw the factory tools, all of them."""
    url = servers["factory", "stateful"].url("/mcp")
    checks = _run_scenario(tools, url, "tools-list", tmp_path / "results")

    served = anyio.run(_tool_names, url)
    assert {"list_kpis", "get_kpi", "record_kpi_measurement", "get_kpi_history"} <= set(served)
    assert checks[0]["details"]["tools"] == served
