"""``afu9 workflow validate | publish | list`` as a user runs them: real subprocesses, the suite's servers as the
catalog (in-process, or a running server over HTTP), SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.documents import load_source, prepare
from tests.orchestrator.conftest import EXAMPLE, ROOT
from tests.orchestrator.test_v04 import ISSUE_TO_PR
from tests.processes import afu9_http, closed_port, run_afu9

EXAMPLE_ARG = str(EXAMPLE.relative_to(ROOT))
BROKEN = """\
apiVersion: orchestrator/v1
kind: Workflow
metadata: {name: broken, version: 1.0.0}
steps:
  - id: read
    type: tool
    server: factory
    tool: list_kpi
  - id: write
    type: tool
    server: factory
    tool: record_kpi_measurement
    arguments:
      kpi_id: Cycle Time
      value: "${{ steps.read.output.total }}"
"""


def _example_hash() -> str:
    return prepare(load_source(EXAMPLE.read_text()).data).content_hash


def _afu9(database_url: str, tmp_path: Path, *args: str) -> Any:
    env = {"AFU9_DATABASE_URL": database_url} if database_url.startswith("postgresql") else {}
    return run_afu9("workflow", *args, env=env, data_dir=tmp_path)


def test_validate_says_the_example_is_valid(tmp_path: Path) -> None:
    result = run_afu9("workflow", "validate", EXAMPLE_ARG, data_dir=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"{EXAMPLE_ARG}: valid: kpi_report 1.0.0, 6 steps (sha256 {_example_hash()[:12]})\n"
    assert result.stderr == ""


def test_validate_lists_every_problem_with_its_line_and_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)

    result = run_afu9("workflow", "validate", str(broken), data_dir=tmp_path)

    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{broken}:8: steps[0].tool: server 'factory' has no tool 'list_kpi'; did you mean 'list_kpis'?",
        f"{broken}:9: steps[1].idempotency_key: factory.record_kpi_measurement is not idempotent: give "
        'idempotency_key (e.g. "${{ execution.id }}-<step id>") so a retried or resumed step does not write twice',
        f"{broken}:9: steps[1].write: factory.record_kpi_measurement writes (tools/list does not mark it "
        "read-only): mark the step write: true",
        f"{broken}:14: steps[1].arguments.kpi_id: 'Cycle Time' does not match '^[a-z][a-z0-9_]{{1,63}}$'",
        "4 problems",
    ]


def test_validate_up_converts_a_v04_document_and_prints_what_would_be_stored(tmp_path: Path) -> None:
    legacy = tmp_path / "issue_to_pr.json"
    legacy.write_text(json.dumps(ISSUE_TO_PR))

    checked = run_afu9("workflow", "validate", str(legacy), data_dir=tmp_path)
    printed = run_afu9("workflow", "validate", str(legacy), "--print", data_dir=tmp_path)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith(f"{legacy}: valid: issue_to_pr 1.0.0, 5 steps, up-converted from AFU-9 v0.4")
    document = json.loads(printed.stdout)
    assert document["metadata"]["compat"] == "afu9/v0.4"
    assert [step["tool"] for step in document["steps"]] == [
        "get_issue",
        "create_branch",
        "create_pull_request",
        "get_pull_request",
        "merge_pull_request",
    ]


def test_a_file_that_cannot_be_read_or_parsed_is_one_line(tmp_path: Path) -> None:
    missing = run_afu9("workflow", "validate", str(tmp_path / "nope.yaml"), data_dir=tmp_path)
    (tmp_path / "bad.json").write_text("{")
    unparsable = run_afu9("workflow", "validate", str(tmp_path / "bad.json"), data_dir=tmp_path)

    assert missing.returncode == 2
    assert missing.stderr == f"afu9: cannot read {tmp_path / 'nope.yaml'}: No such file or directory\n"
    assert unparsable.returncode == 1
    assert unparsable.stdout.splitlines() == [
        f"{tmp_path / 'bad.json'}: (document): not valid JSON: Expecting property name enclosed in double quotes "
        "(line 1)",
        "1 problem",
    ]


def test_publish_is_immutable_per_version_and_list_shows_it(database_url: str, tmp_path: Path) -> None:
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE.read_text().replace("deadline: 2d", "deadline: 3d"))
    broken = tmp_path / "broken.yaml"
    broken.write_text(BROKEN)
    digest = _example_hash()

    first = _afu9(database_url, tmp_path, "publish", EXAMPLE_ARG)
    again = _afu9(database_url, tmp_path, "publish", EXAMPLE_ARG)
    refused = _afu9(database_url, tmp_path, "publish", str(changed))
    invalid = _afu9(database_url, tmp_path, "publish", str(broken))
    bumped = _afu9(database_url, tmp_path, "publish", str(changed), "--version", "1.1.0")
    listed = _afu9(database_url, tmp_path, "list")
    as_json = _afu9(database_url, tmp_path, "list", "--json", "--name", "kpi_report")

    assert first.returncode == 0, first.stderr
    assert first.stdout == f"published kpi_report 1.0.0 (sha256 {digest[:12]}, publication 1)\n"
    assert again.returncode == 0, again.stderr
    assert (
        again.stdout == f"kpi_report 1.0.0 (sha256 {digest[:12]}, publication 1) is already published with this "
        "content; nothing changed\n"
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("afu9: kpi_report 1.0.0 is already published with other content (sha256 ")
    assert refused.stderr.endswith("Nothing was published.\n")
    assert invalid.returncode == 1
    assert invalid.stdout.splitlines()[-1] == "4 problems; nothing was published"
    assert bumped.returncode == 0, bumped.stderr
    assert bumped.stdout.startswith("published kpi_report 1.1.0 (sha256 ")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["kpi_report", "1.1.0", "published"],
        ["kpi_report", "1.0.0", "published"],
    ]
    assert f"sha256:{digest[:12]}" in lines[1]
    assert lines[1].endswith("  Read the KPI catalog and a KPI's latest value, ask for approval, record the new…")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(r["version"], r["publication"], r["content_hash"] == digest) for r in rows] == [
        ("1.1.0", 2, False),
        ("1.0.0", 1, True),
    ]


def test_list_on_an_empty_database_says_so(tmp_path: Path, sqlite_url: str) -> None:
    result = _afu9(sqlite_url, tmp_path, "list")
    assert (result.returncode, result.stdout) == (0, "no workflows are published\n")


def test_validate_asks_a_running_server_for_its_tools(tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{closed_port()}/mcp"
    with afu9_http("serve", "factory", "--transport", "http", data_dir=tmp_path) as server:
        live = run_afu9("workflow", "validate", EXAMPLE_ARG, "--server", f"factory={server.url()}", data_dir=tmp_path)
    unreachable = run_afu9("workflow", "validate", EXAMPLE_ARG, "--server", f"factory={down}", data_dir=tmp_path)

    assert live.returncode == 0, live.stdout + live.stderr
    assert live.stdout.startswith(f"{EXAMPLE_ARG}: valid: kpi_report 1.0.0")
    assert unreachable.returncode == 1
    first = unreachable.stdout.splitlines()[0]
    assert first.startswith(
        f"{EXAMPLE_ARG}:36: steps[0].branches.catalog[0].server: server 'factory' could not be "
        f"listed: tools/list at {down} failed: "
    )
