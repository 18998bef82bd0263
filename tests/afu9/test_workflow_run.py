"""``afu9 workflow run | status | logs | approve | reject | cancel | resume`` and ``afu9 worker`` as a user runs
them: real subprocesses, the factory server started over stdio by the run's own process (an ``mcp.json`` naming
this interpreter), approvals, cancellations and resumptions from other processes. SQLite, and PostgreSQL too
where processes meet in the database (the read model, DBOS messages, recovery); the worker on both databases
is in tests/orchestrator/test_durability.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.orchestrator.engines import suite_environment
from tests.processes import AFU9, ServerProcess, json_lines, run_afu9, start, wait_until

KPI_REPORT = "examples/workflows/kpi-report.yaml"
TIMEOUT = 60.0  # any one command, and any one wait
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

SMALL: dict[str, Any] = {
    "apiVersion": "orchestrator/v1",
    "kind": "Workflow",
    "metadata": {"name": "small_report", "version": "1.0.0"},
    "inputs": {"type": "object", "required": ["value"], "properties": {"value": {"type": "number"}}},
    "steps": [
        {"id": "look", "type": "tool", "server": "factory", "tool": "list_kpis", "arguments": {"limit": 2}},
        {
            "id": "write",
            "type": "tool",
            "server": "factory",
            "tool": "record_kpi_measurement",
            "write": True,
            "arguments": {"kpi_id": "cycle_time", "value": "${{ inputs.value }}", "source": "small_report"},
            "idempotency_key": "${{ execution.id }}-write",
        },
    ],
    "outputs": {
        "listed": "${{ length(steps.look.output.kpis) }}",
        "kpi": "${{ steps.write.output.measurement.kpi_id }}",
        "recorded": "${{ steps.write.output.measurement.value }}",
    },
}


def _guarded(name: str) -> dict[str, Any]:
    """A write with a compensation, then an approval, then a read: cancelled or resumed while it waits."""
    return {
        "apiVersion": "orchestrator/v1",
        "kind": "Workflow",
        "metadata": {"name": name, "version": "1.0.0"},
        "steps": [
            {
                "id": "write",
                "type": "tool",
                "server": "factory",
                "tool": "record_kpi_measurement",
                "write": True,
                "arguments": {"kpi_id": "mttr", "value": 42, "source": f"{name} write"},
                "idempotency_key": "${{ execution.id }}-write",
                "compensate": {
                    "server": "factory",
                    "tool": "record_kpi_measurement",
                    "write": True,
                    "arguments": {"kpi_id": "mttr", "value": 0, "source": f"{name} undo"},
                    "idempotency_key": "${{ execution.id }}-undo",
                },
            },
            {"id": "confirm", "type": "approval", "message": "Keep 42 for mttr?"},
            {"id": "after", "type": "tool", "server": "factory", "tool": "list_kpis", "arguments": {"limit": 1}},
        ],
        "outputs": {"after": "${{ length(steps.after.output.kpis) }}"},
    }


# -- the suite's configuration, commands, reads -------------------------------------------------------------


@pytest.fixture
def suite_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of every command: the test's database (SQLite and PostgreSQL), writes allowed, the
    factory server over stdio."""
    return suite_environment(database_url, tmp_path)


@pytest.fixture
def sqlite_env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    """As ``suite_env``, on SQLite only (for what does not depend on the database)."""
    return suite_environment(sqlite_url, tmp_path)


def _workflow(env: dict[str, str], *args: str) -> Any:
    return run_afu9("workflow", *args, env=env, timeout=TIMEOUT)


def _document(tmp_path: Path, name: str, document: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document) if name.endswith(".json") else yaml.safe_dump(document, sort_keys=False))
    return str(path)


def _started(stderr: str) -> tuple[str, str]:
    """The execution id and ``name version (status)`` of a run's first stderr line."""
    match = re.match(rf"execution ({_UUID}): (.+)\n", stderr)
    assert match, f"no `execution <id>: ...` first line:\n{stderr}"
    return match.group(1), match.group(2)


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


def _status_json(env: dict[str, str], execution_id: str) -> dict[str, Any]:
    result = _workflow(env, "status", execution_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _by_path(body: dict[str, Any], *, compensation: bool = False) -> dict[str, dict[str, Any]]:
    return {step["path"]: step for step in body["steps"] if step["compensation"] is compensation}


def _read(env: dict[str, str], execution_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The execution's row and steps, read from this process (faster than a `status` subprocess when polling)."""
    from orchestrator.readmodel import ReadModel
    from orchestrator.schema import MIGRATIONS
    from shared.db import KIT_MIGRATIONS, Database

    async def read() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        database = Database(env["AFU9_DATABASE_URL"], migrations=(KIT_MIGRATIONS, MIGRATIONS))
        try:
            readmodel = ReadModel(database)
            return await readmodel.execution(execution_id), await readmodel.steps(execution_id)
        finally:
            await database.aclose()

    return asyncio.run(read())


def _executions(env: dict[str, str]) -> list[str]:
    """The ids of every execution stored (read from this process)."""
    from orchestrator.readmodel import ReadModel
    from orchestrator.schema import MIGRATIONS
    from shared.db import KIT_MIGRATIONS, Database

    async def read() -> list[str]:
        database = Database(env["AFU9_DATABASE_URL"], migrations=(KIT_MIGRATIONS, MIGRATIONS))
        try:
            return [str(row["id"]) for row in await ReadModel(database).executions(limit=1000)]
        finally:
            await database.aclose()

    return asyncio.run(read())


def _measurements(env: dict[str, str], source_prefix: str) -> list[tuple[str, float]]:
    """(source, value) of the factory's stored measurements whose source starts with ``source_prefix``."""
    import sqlalchemy as sa

    from orchestrator.schema import MIGRATIONS
    from shared.db import KIT_MIGRATIONS, Database

    async def read() -> list[tuple[str, float]]:
        database = Database(env["AFU9_DATABASE_URL"], migrations=(KIT_MIGRATIONS, MIGRATIONS))
        try:
            async with database.connect() as connection:
                rows = await connection.execute(
                    sa.text("SELECT source, value FROM kpi_measurements WHERE source LIKE :p ORDER BY measured_at"),
                    {"p": source_prefix + "%"},
                )
                return [(row[0], float(row[1])) for row in rows]
        finally:
            await database.aclose()

    return asyncio.run(read())


@pytest.fixture
def background(suite_env: dict[str, str]) -> Iterator[Any]:
    """Start ``afu9 <args>`` processes in the background (killed at the end of the test whatever happened)."""
    with contextlib.ExitStack() as stack:

        def begin(*args: str) -> ServerProcess:
            return stack.enter_context(start([*AFU9, *args], env=suite_env))

        yield begin


def _wait_for_approval(run: ServerProcess, step: str) -> str:
    """The execution id, once the run process has printed ``step`` waiting for a decision."""

    def waiting() -> bool:
        if run.returncode is not None:
            raise AssertionError(f"the run exited with {run.returncode}:\n{run.stdout()}\n{run.stderr()}")
        return re.search(rf"^\s+\? {re.escape(step)}\s+waiting for approval", run.stderr(), re.MULTILINE) is not None

    wait_until(waiting, timeout=TIMEOUT, what=f"{step} waiting", interval=0.1)
    return _started(run.stderr())[0]


def _exit_code(process: ServerProcess) -> int:
    try:
        return process.process.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the process did not end:\n{process.stderr()}") from None


def _outputs(stdout: str) -> tuple[str, Any]:
    """The final status line of a run and the outputs printed after it."""
    first, _, rest = stdout.partition("\n")
    return first, json.loads(rest) if rest.strip() else None


# -- run, status, logs ----------------------------------------------------------------------------------------


def test_run_prints_outputs_and_progress_and_status_and_logs_show_it(suite_env: dict[str, str], tmp_path: Path) -> None:
    path = _document(tmp_path, "small.yaml", SMALL)

    result = _workflow(suite_env, "run", path, "--input", '{"value": 3}')

    assert result.returncode == 0, result.stdout + result.stderr
    assert _outputs(result.stdout) == ("completed", {"listed": 2, "kpi": "cycle_time", "recorded": 3.0})
    execution_id, what = _started(result.stderr)
    assert what == "small_report 1.0.0 (published)"
    progress = result.stderr.splitlines()[1:]
    assert any(re.fullmatch(r"\s+… look\s+running", line) for line in progress), result.stderr
    assert any(re.fullmatch(r"\s+✓ look\s+completed \(\d+ ms\)", line) for line in progress), result.stderr
    assert any(re.fullmatch(r"\s+✓ write\s+completed \(\d+ ms\)", line) for line in progress), result.stderr
    assert "Traceback" not in result.stderr

    with ThreadPoolExecutor(4) as pool:  # readers only: they may run at once
        detail, listed, logs, logs_json = pool.map(
            lambda args: _workflow(suite_env, *args),
            [
                ("status", execution_id, "--json"),
                ("status",),
                ("logs", execution_id),
                ("logs", execution_id, "--json"),
            ],
        )

    assert detail.returncode == 0, detail.stderr
    body = json.loads(detail.stdout)
    assert body["execution_id"] == execution_id
    assert (body["workflow"], body["version"], body["status"], body["error"]) == (
        "small_report",
        "1.0.0",
        "completed",
        None,
    )
    assert body["output"] == {"listed": 2, "kpi": "cycle_time", "recorded": 3.0}
    steps = _by_path(body)
    assert list(steps) == ["look", "write"]
    assert all(step["status"] == "completed" and step["attempt"] == 1 for step in steps.values())
    assert steps["write"]["input"]["arguments"] == {"kpi_id": "cycle_time", "value": 3, "source": "small_report"}
    assert steps["write"]["output"]["measurement"]["value"] == 3.0

    assert listed.returncode == 0, listed.stderr
    assert re.match(rf"{execution_id}  completed  small_report 1.0.0 +\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d$", listed.stdout)

    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    headings = [line for line in lines if not line.startswith("    ")]
    assert len(headings) == 3, logs.stdout
    assert re.fullmatch(r"\d\d:\d\d:\d\d look completed", headings[0]), logs.stdout
    assert re.fullmatch(r"\d\d:\d\d:\d\d write completed", headings[1]), logs.stdout
    assert headings[2] == "execution completed"
    inputs = [json.loads(line.removeprefix("    input: ")) for line in lines if line.startswith("    input: ")]
    assert inputs[0] == {"server": "factory", "tool": "list_kpis", "arguments": {"limit": 2}}

    assert logs_json.returncode == 0, logs_json.stderr
    entries = json_lines(logs_json.stdout)
    assert [(entry["path"], entry["status"]) for entry in entries] == [("look", "completed"), ("write", "completed")]
    assert entries[1]["output"]["measurement"]["kpi_id"] == "cycle_time"


def test_inputs_that_are_not_json_or_do_not_fit_are_refused_and_nothing_starts(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    path = _document(tmp_path, "small.yaml", SMALL)

    with ThreadPoolExecutor(3) as pool:  # none of them starts anything
        not_json, unreadable, wrong_type = pool.map(
            lambda given: _workflow(sqlite_env, "run", path, "--input", given),
            ["{value: 7}", f"@{tmp_path / 'missing.json'}", '{"value": "seven"}'],
        )
    nothing = _workflow(sqlite_env, "status")

    assert not_json.returncode == 2
    assert _one_line(not_json.stderr).startswith("afu9: --input is not JSON: Expecting property name")
    assert unreadable.returncode == 2
    assert _one_line(unreadable.stderr) == (
        f"afu9: --input @{tmp_path / 'missing.json'}: cannot read it (No such file or directory)"
    )
    assert wrong_type.returncode == 2
    assert _one_line(wrong_type.stderr) == (
        "afu9: the inputs do not fit the workflow's inputs schema: value: 'seven' is not of type 'number'"
    )
    for refused in (not_json, unreadable, wrong_type):
        assert refused.stdout == ""
    assert nothing.returncode == 0, nothing.stderr
    assert nothing.stdout == "no executions\n"  # nothing was started


def test_an_invalid_document_lists_its_problems_and_runs_nothing(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "apiVersion: orchestrator/v1\nkind: Workflow\nmetadata: {name: broken, version: 1.0.0}\nsteps:\n"
        "  - id: read\n    type: tool\n    server: factory\n    tool: list_kpi\n"
        "  - id: write\n    type: tool\n    server: factory\n    tool: record_kpi_measurement\n"
        "    arguments: {kpi_id: cycle_time, value: 1}\n"
    )

    result = _workflow(sqlite_env, "run", str(broken))

    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{broken}:8: steps[0].tool: server 'factory' has no tool 'list_kpi'; did you mean 'list_kpis'?"
    assert any(f"{broken}:9: steps[1].write: " in line for line in lines), result.stdout
    assert any(f"{broken}:9: steps[1].idempotency_key: " in line for line in lines), result.stdout
    assert lines[-1] == "3 problems; nothing was run"
    assert "execution" not in result.stderr
    assert _executions(sqlite_env) == []


def test_run_by_published_name_and_version_with_inputs_from_a_file(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    path = _document(tmp_path, "small.yaml", SMALL)
    (tmp_path / "inputs.json").write_text('{"value": 5}')
    changed = _document(tmp_path, "small-1.1.yaml", {**SMALL, "outputs": {"listed": SMALL["outputs"]["listed"]}})

    first = _workflow(sqlite_env, "publish", path)
    second = _workflow(sqlite_env, "publish", changed, "--version", "1.1.0")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr

    with ThreadPoolExecutor(4) as pool:  # two runs at once, as two users would
        latest, pinned, unknown, file_version = pool.map(
            lambda args: _workflow(sqlite_env, "run", *args),
            [
                ("small_report", "--input", '{"value": 4}'),
                ("small_report", "--version", "1.0.0", "--input", f"@{tmp_path / 'inputs.json'}"),
                ("no_such_workflow",),
                (path, "--version", "1.0.0"),
            ],
        )

    assert latest.returncode == 0, latest.stdout + latest.stderr
    assert _started(latest.stderr)[1] == "small_report 1.1.0 (published)"
    assert _outputs(latest.stdout) == ("completed", {"listed": 2})
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert _started(pinned.stderr)[1] == "small_report 1.0.0 (published)"
    assert _outputs(pinned.stdout) == ("completed", {"listed": 2, "kpi": "cycle_time", "recorded": 5.0})
    row, _ = _read(sqlite_env, _started(pinned.stderr)[0])
    assert row is not None
    assert row["input"] == {"value": 5}
    assert unknown.returncode == 2
    assert _one_line(unknown.stderr) == (
        "afu9: no published workflow no_such_workflow; `afu9 workflow list` shows what is published"
    )
    assert file_version.returncode == 2
    assert _one_line(file_version.stderr).startswith("afu9: --version is for a published workflow's name")


def test_a_failing_step_fails_the_run_with_its_error(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    path = _document(
        tmp_path,
        "failing.yaml",
        {
            "apiVersion": "orchestrator/v1",
            "kind": "Workflow",
            "metadata": {"name": "failing", "version": "1.0.0"},
            "steps": [
                {
                    "id": "lookup",
                    "type": "tool",
                    "server": "factory",
                    "tool": "get_kpi",
                    "arguments": {"kpi_id": "no_kpi"},
                },
                {"id": "after", "type": "tool", "server": "factory", "tool": "list_kpis"},
            ],
        },
    )

    result = _workflow(sqlite_env, "run", path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("failed: lookup: ")
    assert "There is no KPI 'no_kpi'. Known KPIs: " in result.stdout
    assert re.search(r"^\s+✗ lookup\s+failed: .*There is no KPI 'no_kpi'", result.stderr, re.MULTILINE), result.stderr
    execution_id, _ = _started(result.stderr)
    row, steps = _read(sqlite_env, execution_id)
    assert row is not None
    assert row["status"] == "failed"
    assert {step["step_path"]: step["status"] for step in steps} == {"lookup": "failed"}  # `after` never ran


def test_a_v04_document_runs_with_a_v04_context(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    path = _document(
        tmp_path,
        "legacy.json",
        {
            "name": "kpi_v04",
            "description": "list the KPIs, then read the first",
            "steps": [
                {"name": "List", "tool": "factory.list_kpis", "params": {"limit": "${input.limit}"}, "assign": "kpis"},
                {"name": "First", "tool": "factory.get_kpi", "params": {"kpi_id": "${kpis.kpis.0.kpi_id}"}},
            ],
        },
    )

    result = _workflow(sqlite_env, "run", path, "--input", '{"input": {"limit": 2}}', "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    final = json.loads(result.stdout)
    assert (final["workflow"], final["version"], final["status"]) == ("kpi_v04", "1.0.0", "completed")
    row, steps = _read(sqlite_env, final["execution_id"])
    assert row is not None
    assert row["input"] == {"limit": 2}
    by_path = {step["step_path"]: step for step in steps}
    assert [by_path[path]["status"] for path in ("kpis", "first")] == ["completed", "completed"]
    listed = by_path["kpis"]["output"]["kpis"]
    assert len(listed) == 2
    assert by_path["first"]["input"]["arguments"] == {"kpi_id": listed[0]["kpi_id"]}


# -- approvals, cancellation, resumption from other processes -------------------------------------------------


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite: the rejection below
def test_an_approval_from_another_process_lets_the_run_finish(suite_env: dict[str, str], background: Any) -> None:
    run = background("workflow", "run", KPI_REPORT, "--input", '{"kpi_id": "cycle_time", "value": 3}')
    execution_id = _wait_for_approval(run, "approve")

    with ThreadPoolExecutor(2) as pool:  # neither changes anything
        detail = pool.submit(_status_json, suite_env, execution_id)
        early = pool.submit(_workflow, suite_env, "approve", execution_id, "gather").result()
        body = detail.result()
    steps = _by_path(body)
    assert body["status"] == "running"
    assert steps["approve"]["status"] == "waiting"
    assert steps["approve"]["input"]["message"].startswith("Record 3 for cycle_time? The latest value is ")
    assert steps["gather/catalog/catalog"]["status"] == "completed"
    assert "record" not in steps

    approved = _workflow(suite_env, "approve", execution_id, "approve", "--reason", "ok", "--as", "owner")

    assert early.returncode == 2
    assert _one_line(early.stderr) == (
        f"afu9: step gather of execution {execution_id} is not waiting for a decision (it is completed); "
        "nothing was sent"
    )
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == f"approved approve of {execution_id} as owner\n"
    assert _exit_code(run) == 0, run.stdout() + run.stderr()
    status, outputs = _outputs(run.stdout())
    assert status == "completed"
    assert outputs["recorded"]["value"] == 3.0
    assert outputs["latest"] == 3.0

    _, rows = _read(suite_env, execution_id)
    done = {row["step_path"]: row for row in rows if not row["is_compensation"]}
    assert done["approve"]["output"]["decision"] == "approved"
    assert (done["approve"]["output"]["actor"], done["approve"]["output"]["reason"]) == ("owner", "ok")
    assert (done["record"]["status"], done["verify"]["status"]) == ("completed", "completed")
    assert [value for _, value in _measurements(suite_env, "workflow kpi_report")] == [3.0]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_rejection_skips_the_write_and_the_run_completes(suite_env: dict[str, str], background: Any) -> None:
    run = background("workflow", "run", KPI_REPORT, "--input", '{"kpi_id": "cycle_time", "value": 4}')
    execution_id = _wait_for_approval(run, "approve")

    rejected = _workflow(suite_env, "reject", execution_id, "approve", "--reason", "wrong value")

    assert rejected.returncode == 0, rejected.stderr
    assert re.fullmatch(rf"rejected approve of {execution_id} as cli:\S+\n", rejected.stdout)
    # The example records only what was approved: the write and its check are skipped, the execution completes.
    assert _exit_code(run) == 0, run.stdout() + run.stderr()
    assert _outputs(run.stdout()) == ("completed", {"recorded": None, "meets_target": None, "latest": None})
    row, steps = _read(suite_env, execution_id)
    assert row is not None
    assert row["status"] == "completed"
    by_path = {step["step_path"]: step for step in steps if not step["is_compensation"]}
    assert by_path["approve"]["output"]["decision"] == "rejected"
    assert by_path["approve"]["output"]["reason"] == "wrong value"
    assert (by_path["record"]["status"], by_path["verify"]["status"]) == ("skipped", "skipped")
    assert _measurements(suite_env, "workflow kpi_report") == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # both, in-process: test_engine.py
def test_cancel_from_another_process_compensates_and_the_run_exits_3(
    suite_env: dict[str, str], background: Any, tmp_path: Path
) -> None:
    path = _document(tmp_path, "guarded.yaml", _guarded("guarded"))
    run = background("workflow", "run", path)
    execution_id = _wait_for_approval(run, "confirm")

    cancelled = _workflow(suite_env, "cancel", execution_id)

    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout == f"cancelled {execution_id}; compensated (newest first): write\n"
    assert _exit_code(run) == 3, run.stdout() + run.stderr()
    assert re.fullmatch(r"cancelled: cancelled by cli:\S+\n", run.stdout())
    again = _workflow(suite_env, "cancel", execution_id)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"execution {execution_id} already ended cancelled; nothing changed\n"
    row, steps = _read(suite_env, execution_id)
    assert row is not None
    assert row["status"] == "cancelled"
    done = {("undo:" if step["is_compensation"] else "") + step["step_path"]: step["status"] for step in steps}
    assert done == {"write": "completed", "confirm": "cancelled", "undo:write": "completed"}
    assert _measurements(suite_env, "guarded") == [("guarded write", 42.0), ("guarded undo", 0.0)]


def test_an_execution_whose_process_was_killed_is_approved_and_resumed(
    suite_env: dict[str, str], background: Any, tmp_path: Path
) -> None:
    path = _document(tmp_path, "guarded.yaml", _guarded("resumable"))
    run = background("workflow", "run", path)
    execution_id = _wait_for_approval(run, "confirm")
    run.kill()
    assert run.returncode == -signal.SIGKILL

    approved = _workflow(suite_env, "approve", execution_id, "confirm", "--reason", "later")
    resumed = _workflow(suite_env, "resume", execution_id)

    assert approved.returncode == 0, approved.stderr  # stored as a DBOS message: the process is gone
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"execution {execution_id}: resumed\n" in resumed.stderr
    assert _outputs(resumed.stdout) == ("completed", {"after": 1})
    row, steps = _read(suite_env, execution_id)
    assert row is not None
    assert row["status"] == "completed"
    by_path = {step["step_path"]: step for step in steps if not step["is_compensation"]}
    assert {path: step["status"] for path, step in by_path.items()} == {
        "write": "completed",
        "confirm": "completed",
        "after": "completed",
    }
    assert by_path["confirm"]["output"]["reason"] == "later"
    assert _measurements(suite_env, "resumable") == [("resumable write", 42.0)]  # written once, not undone


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # both: tests/orchestrator/test_durability.py
def test_a_detached_run_is_run_by_a_worker(suite_env: dict[str, str], background: Any, tmp_path: Path) -> None:
    path = _document(tmp_path, "small.yaml", SMALL)

    detached = _workflow(suite_env, "run", path, "--detach", "--input", '{"value": 6}')

    assert detached.returncode == 4, detached.stdout + detached.stderr
    assert re.fullmatch(rf"{_UUID}\n", detached.stdout)
    execution_id = detached.stdout.strip()
    assert _started(detached.stderr)[0] == execution_id
    row, _ = _read(suite_env, execution_id)
    assert row is not None
    assert row["status"] == "pending"

    worker = background("worker", "--id", "t1")

    def completed() -> bool:
        if worker.returncode is not None:
            raise AssertionError(f"the worker exited with {worker.returncode}:\n{worker.stderr()}")
        found, _ = _read(suite_env, execution_id)
        return found is not None and found["status"] == "completed"

    wait_until(completed, timeout=TIMEOUT, what="the worker to complete the execution", interval=0.5)
    assert worker.stop(signal.SIGTERM) == 0, worker.stderr()
    assert "afu9 worker t1: stopping" in worker.stderr()
    row, _ = _read(suite_env, execution_id)
    assert row is not None
    assert row["executor_id"] == "t1"
    assert row["output"] == {"listed": 2, "kpi": "cycle_time", "recorded": 6.0}


# -- found while writing these tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_step_after_an_approval_starts_after_the_decision(
    suite_env: dict[str, str], background: Any, tmp_path: Path
) -> None:
    guarded = _guarded("clock")
    path = _document(tmp_path, "approve-first.yaml", {**guarded, "steps": guarded["steps"][1:]})
    run = background("workflow", "run", path)
    execution_id = _wait_for_approval(run, "confirm")
    approved = _workflow(suite_env, "approve", execution_id, "confirm")
    assert approved.returncode == 0, approved.stderr
    assert _exit_code(run) == 0, run.stdout() + run.stderr()

    _, steps = _read(suite_env, execution_id)
    by_path = {step["step_path"]: step for step in steps if not step["is_compensation"]}
    decided = datetime.fromisoformat(by_path["confirm"]["output"]["at"])  # when `approve` sent the decision
    assert _aware(by_path["after"]["started_at"]) >= decided
    assert by_path["after"]["duration_ms"] < 5000  # one list_kpis call, not the wait for the decision


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
