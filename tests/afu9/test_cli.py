"""The `afu9` command as a user runs it: real subprocesses, real databases, real MCP clients."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from mcp import Client

from tests.processes import afu9_http, free_port, json_lines, run_afu9, start, wait_until

TOOLS = ["list_kpis", "get_kpi", "record_kpi_measurement", "get_kpi_history"]
TABLES = {
    "workflows",
    "workflow_executions",
    "workflow_steps",
    "mcp_servers",
    "repositories",
    "agent_runs",
    "mcp_tool_calls",
    "kpi_definitions",
    "kpi_measurements",
}


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


# --- afu9 up ------------------------------------------------------------------------------------------------


def _client_config(stdout: str) -> dict[str, object]:
    """The VS Code block `afu9 up` prints (``servers`` shape), parsed."""
    after = stdout.split("VS Code (.vscode/mcp.json):", 1)[1].split("\n", 1)[1]
    config, _ = json.JSONDecoder().raw_decode(after.lstrip())
    return config


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_up_on_a_fresh_folder_serves_factory_prints_how_to_connect_and_stops_cleanly(
    sig: signal.Signals, tmp_path: Path
) -> None:
    # No AFU9_DATA_DIR: the embedded default (.afu9 under the working folder) is created on first run.
    other_ports = {
        "AFU9_GITHUB_PORT": str(free_port()),
        "AFU9_DEPLOY_PORT": str(free_port()),
        "AFU9_OBSERVABILITY_PORT": str(free_port()),
    }
    with afu9_http("up", cwd=tmp_path, env=other_ports, port_env="AFU9_FACTORY_PORT") as server:
        stdout = wait_until(
            lambda: "Press Ctrl+C" in server.stdout() and server.stdout(), timeout=30, what="the banner of afu9 up"
        )
        assert f"http://127.0.0.1:{server.port}/mcp" in stdout
        assert f"http://127.0.0.1:{server.port}/health" in stdout
        config = _client_config(stdout)
        assert config["servers"]["afu9-factory"] == {"type": "http", "url": server.url()}  # type: ignore[index]
        github_url = f"http://127.0.0.1:{other_ports['AFU9_GITHUB_PORT']}/mcp"
        assert config["servers"]["afu9-github"] == {"type": "http", "url": github_url}  # type: ignore[index]
        observability_url = f"http://127.0.0.1:{other_ports['AFU9_OBSERVABILITY_PORT']}/mcp"
        assert config["servers"]["afu9-observability"] == {"type": "http", "url": observability_url}  # type: ignore[index]
        assert f"claude mcp add --transport http afu9-factory {server.url()}" in stdout
        assert "not ready: github is not configured; set GITHUB_TOKEN, or GITHUB_APP_ID" in stdout

        async with Client(server.url()) as client:
            assert [tool.name for tool in (await client.list_tools()).tools] == TOOLS
            assert not (await client.call_tool("list_kpis", {})).is_error

        assert server.stop(sig) == 0, server.stderr()
    assert (tmp_path / ".afu9" / "afu9.db").is_file()


def test_up_tells_clients_to_send_a_token_when_tokens_are_configured(tmp_path: Path) -> None:
    env = {
        "AFU9_HTTP_TOKENS": "ci:secret-1-secret-1-secret-1",
        "AFU9_GITHUB_PORT": str(free_port()),
        "AFU9_DEPLOY_PORT": str(free_port()),
        "AFU9_OBSERVABILITY_PORT": str(free_port()),
    }
    with afu9_http("up", cwd=tmp_path, data_dir=tmp_path, env=env, port_env="AFU9_FACTORY_PORT") as server:
        stdout = wait_until(lambda: "Press Ctrl+C" in server.stdout() and server.stdout(), timeout=30, what="banner")
    config = _client_config(stdout)
    entry = config["servers"]["afu9-factory"]  # type: ignore[index]
    assert entry["headers"] == {"Authorization": "Bearer ${input:afu9-token}"}
    assert config["inputs"][0]["password"] is True  # type: ignore[index]
    assert '--header "Authorization: Bearer $AFU9_TOKEN"' in stdout
    assert "secret-1" not in stdout


def test_config_prints_a_claude_desktop_block_that_starts_each_server_from_any_folder() -> None:
    result = run_afu9("config", "--client", "claude-desktop", cwd=Path("/"))

    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)["mcpServers"]["afu9-factory"]
    assert entry["command"] == "uv"
    directory = entry["args"][entry["args"].index("--directory") + 1]
    assert Path(directory).is_absolute()
    assert (Path(directory) / "pyproject.toml").is_file()
    assert entry["args"][-3:] == ["afu9", "serve", "factory"]


def test_a_taken_port_names_the_option_and_the_setting_that_change_it(tmp_path: Path) -> None:
    with afu9_http("serve", "factory", "--transport", "http", data_dir=tmp_path / "first") as first:
        result = run_afu9("serve", "factory", "--transport", "http", "--port", str(first.port), data_dir=tmp_path)
    assert result.returncode == 1
    messages = " ".join(entry["msg"] for entry in json_lines(result.stderr))
    assert "--port or AFU9_FACTORY_PORT" in messages


def test_serve_over_http_prints_the_mcp_url(tmp_path: Path) -> None:
    with afu9_http("serve", "factory", "--transport", "http", data_dir=tmp_path) as server:
        printed = wait_until(lambda: server.stdout(), timeout=30, what="the URL on stdout")
    assert printed.strip() == f"afu9 factory: serving MCP at http://127.0.0.1:{server.port}/mcp"


def test_up_exits_1_with_a_logged_reason_when_the_factory_port_is_taken(tmp_path: Path) -> None:
    with afu9_http("serve", "factory", "--transport", "http", data_dir=tmp_path / "first") as first:
        env = {
            "AFU9_FACTORY_PORT": str(first.port),
            "AFU9_GITHUB_PORT": str(free_port()),
            "AFU9_DEPLOY_PORT": str(free_port()),
            "AFU9_OBSERVABILITY_PORT": str(free_port()),
        }
        result = run_afu9("up", data_dir=tmp_path / "second", env=env)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    messages = [entry["msg"] for entry in json_lines(result.stderr)]
    assert any("address already in use" in message for message in messages)
    assert any(m.startswith(f"could not serve factory on 127.0.0.1:{first.port}") for m in messages)
    assert "Press Ctrl+C" not in result.stdout


# --- malformed settings ---------------------------------------------------------------------------------------


COMMANDS = {
    "serve http": ["serve", "factory", "--transport", "http", "--port", "0"],
    "serve stdio": ["serve", "factory"],
    "up": ["up"],
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize(("key", "value"), [("AFU9_FACTORY_PORT", "abc"), ("AFU9_MAX_REQUEST_BYTES", "x")])
def test_a_malformed_setting_exits_2_with_one_line_naming_the_key(
    command: list[str], key: str, value: str, tmp_path: Path
) -> None:
    result = run_afu9(*command, env={key: value}, data_dir=tmp_path, timeout=30)

    assert result.returncode == 2
    line = _one_line(result.stderr)
    assert key in line
    assert result.stdout == ""


# --- afu9 tools -----------------------------------------------------------------------------------------------


def test_tools_prints_the_factory_tool_table() -> None:
    result = run_afu9("tools", "factory")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "| tool | toolset | kind | what it does |"
    rows = {line.split("|")[1].strip(" `"): line.split("|")[3].strip() for line in lines[2:]}
    assert rows == {
        "list_kpis": "read",
        "get_kpi": "read",
        "record_kpi_measurement": "write",
        "get_kpi_history": "read",
    }


def test_tools_marks_the_github_toolsets_that_are_opt_in() -> None:
    result = run_afu9("tools", "github")

    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[1].strip(" `"): line.split("|")[2].strip() for line in result.stdout.splitlines()[2:]}
    assert rows["get_issue"] == "issues"
    assert rows["merge_pull_request"] == "pulls"
    assert rows["get_job_log"] == "actions (opt-in)"


def test_tools_names_the_known_servers_for_an_unknown_one() -> None:
    result = run_afu9("tools", "nope")

    assert result.returncode == 2
    assert "factory" in result.stderr
    assert "Traceback" not in result.stderr


# --- afu9 db upgrade ------------------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_in_a_fresh_sqlite_folder_and_is_repeatable(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    first = run_afu9("db", "upgrade", data_dir=data_dir)
    second = run_afu9("db", "upgrade", data_dir=data_dir)

    for result in (first, second):
        assert result.returncode == 0, result.stderr
        assert "schema is current" in result.stdout
        assert "sqlite" in result.stdout
    with sqlite3.connect(data_dir / "afu9.db") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        kpis = connection.execute("SELECT count(DISTINCT kpi_id) FROM kpi_definitions").fetchone()[0]
    assert tables >= TABLES
    assert kpis == 12


@pytest.mark.postgres
def test_db_upgrade_creates_the_schema_in_a_fresh_postgresql_database(postgres_url: str, tmp_path: Path) -> None:
    result = run_afu9("db", "upgrade", env={"AFU9_DATABASE_URL": postgres_url}, data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "schema is current" in result.stdout
    assert "postgresql" in result.stdout

    async def inspect() -> tuple[set[str], int]:
        import asyncpg  # pyright: ignore[reportMissingTypeStubs]

        connection = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
        try:
            rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            kpis = await connection.fetchval("SELECT count(DISTINCT kpi_id) FROM kpi_definitions")
        finally:
            await connection.close()
        return {row["tablename"] for row in rows}, kpis

    tables, kpis = asyncio.run(inspect())
    assert tables >= TABLES
    assert kpis == 12
    assert not (tmp_path / "afu9.db").exists()


def test_db_upgrade_against_a_closed_port_exits_with_one_clear_line(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://afu9:pw-not-shown-93@127.0.0.1:{free_port()}/afu9"
    result = run_afu9("db", "upgrade", env={"AFU9_DATABASE_URL": url}, data_dir=tmp_path)

    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert "cannot reach the database" in line
    assert "AFU9_DATABASE_URL" in line
    assert "pw-not-shown-93" not in line
    assert result.stdout == ""


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "mysql://afu9:pw-not-shown-93@127.0.0.1/afu9",
        "postgresql://afu9:pw-not-shown-93@127.0.0.1:notaport/afu9",
        "postgresql://afu9:pw-not-shown-93@127.0.0.1:5432/",
    ],
)
def test_db_upgrade_with_an_unusable_database_url_names_the_setting(url: str, tmp_path: Path) -> None:
    result = run_afu9("db", "upgrade", env={"AFU9_DATABASE_URL": url}, data_dir=tmp_path)

    assert result.returncode == 2
    line = _one_line(result.stderr)
    assert "AFU9_DATABASE_URL" in line
    assert "pw-not-shown-93" not in line


# --- serve via the CLI and via python -m ------------------------------------------------------------------------


def test_python_m_servers_factory_serves_http_like_afu9_serve(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "servers.factory", "--transport", "http", "--port", str(port)]
    with start(command, data_dir=tmp_path, port=port) as server:
        server.wait_for_health()
        assert server.stop(signal.SIGTERM) == 0, server.stderr()
