"""The workflow format: documents in YAML or JSON become one model, shape problems come with their paths, the
canonical form and content hash, and the committed JSON Schema."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import yaml
from jsonschema.validators import Draft202012Validator

from orchestrator.documents import load_source
from orchestrator.format import (
    Goto,
    Retry,
    ToolStep,
    canonical,
    content_hash,
    json_schema,
    parse_duration,
    parse_workflow,
)
from orchestrator.problems import WorkflowInvalid
from tests.orchestrator.conftest import EXAMPLE, ROOT, tool, workflow


def _problems(document: Any) -> list[tuple[str, str]]:
    with pytest.raises(WorkflowInvalid) as caught:
        parse_workflow(document)
    return [(str(p).split(": ", 1)[0], p.message) for p in caught.value.problems]


def test_a_yaml_document_and_its_json_twin_are_one_workflow_with_one_hash() -> None:
    text = EXAMPLE.read_text()
    from_yaml = parse_workflow(load_source(text).data)
    from_json = parse_workflow(load_source(json.dumps(yaml.safe_load(text)), json_only=True).data)
    assert from_yaml == from_json
    assert content_hash(canonical(from_yaml)) == content_hash(canonical(from_json))


def test_writing_a_default_out_or_wrapping_an_expression_is_the_same_document() -> None:
    plain = parse_workflow(workflow(tool("read", **{"if": "inputs.go"})))
    spelled = parse_workflow(
        workflow(tool("read", **{"if": "${{ inputs.go }}", "arguments": {}, "write": False, "outputs": {}}))
    )
    changed = parse_workflow(workflow(tool("read", **{"if": "inputs.go", "write": True})))
    assert canonical(plain) == canonical(spelled)
    assert canonical(plain)["steps"][0] == {
        "id": "read",
        "if": "inputs.go",
        "type": "tool",
        "server": "factory",
        "tool": "list_kpis",
    }
    assert content_hash(canonical(plain)) == content_hash(canonical(spelled)) != content_hash(canonical(changed))


def test_the_content_hash_is_sha256_of_sorted_compact_utf8_json() -> None:
    import hashlib

    document = {"b": [1, "é"], "a": {"y": None, "x": True}}
    expected = hashlib.sha256('{"a":{"x":true,"y":null},"b":[1,"é"]}'.encode()).hexdigest()
    assert content_hash(document) == expected


def test_every_step_type_parses_with_its_policies() -> None:
    document = workflow(
        tool(
            "read",
            retry={"max_attempts": 4, "initial_interval": "500ms", "max_interval": "10s", "jitter": "none"},
            timeout="30s",
            on_error={"goto": "later"},
            outputs={"count": "length(result.kpis)"},
        ),
        {"id": "both", "type": "parallel", "join": "quorum", "quorum": 1, "branches": {"a": [tool("a1")]}},
        {
            "id": "each",
            "type": "map",
            "items": "steps.read.output.kpis",
            "as": "kpi",
            "max_concurrency": 4,
            "steps": [tool("one", "get_kpi", arguments={"kpi_id": "${{ kpi.kpi_id }}"})],
        },
        {"id": "route", "type": "switch", "cases": [{"when": "inputs.fast", "goto": "later"}], "default": "later"},
        {
            "id": "poll",
            "type": "loop",
            "until": "steps.probe.output.total > `0`",
            "max_iterations": 5,
            "steps": [tool("probe"), {"id": "pause", "type": "wait", "duration": "10s"}],
        },
        {"id": "ok", "type": "approval", "message": "Go?", "approvers": {"roles": ["owner"]}, "timeout": "1d"},
        {"id": "later", "type": "wait", "until": "${{ inputs.at }}"},
        {"id": "child", "type": "workflow", "workflow": "other", "version": "2.0.0", "inputs": {"x": 1}},
        {"id": "think", "type": "agent", "prompt": {"ref": "plan_fix", "version": 3}, "tools": ["github/get_*"]},
        defaults={"retry": {}, "on_error": "continue", "timeout": "1m"},
    )
    parsed = parse_workflow(document)
    read = parsed.steps[0]
    assert isinstance(read, ToolStep)
    assert read.retry == Retry(max_attempts=4, initial_interval="500ms", max_interval="10s", jitter="none")
    assert read.retry is not None
    assert read.retry.retry_on == ["timeout", "transport", "unavailable", "rate_limited"]
    assert read.on_error == Goto(goto="later")
    assert [step.type for step in parsed.steps] == [
        "tool",
        "parallel",
        "map",
        "switch",
        "loop",
        "approval",
        "wait",
        "workflow",
        "agent",
    ]


def test_every_shape_problem_is_listed_at_once_with_its_path() -> None:
    document = {
        "apiVersion": "orchestrator/v2",
        "kind": "Workflow",
        "metadata": {"name": "Bad Name", "version": "1.0"},
        "steps": [
            {
                "id": "a",
                "type": "tool",
                "server": "factory",
                "if": "a ==",
                "on_error": "explode",
                "retry": {"initial_interval": "1h", "max_interval": "1m"},
            },
            {"id": "b", "type": "tol"},
            {"id": "c"},
            {"id": "d", "type": "wait", "duration": "5 minutes"},
            {"id": "e", "type": "agent", "prompt": "x", "bogus": 1},
            {"id": "f", "type": "parallel", "branches": {"x": [{"id": "g", "type": "tool", "tool": "list_kpis"}]}},
            {"id": "h", "type": "wait"},
            {"id": "9", "type": "wait", "duration": "1s"},
        ],
    }
    assert _problems(document) == [
        ("apiVersion", "Input should be 'orchestrator/v1'"),
        (
            "metadata.name",
            "'Bad Name' is not a workflow name (lowercase letters, digits, _ and -, starting with a letter)",
        ),
        ("metadata.version", "'1.0' is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.2.0 or 2.0.0-rc.1)"),
        ("steps[0].if", "not a JMESPath expression: 'a ==' (Invalid jmespath expression: Incomplete expression:)"),
        ("steps[0].on_error", "on_error is fail, continue, compensate or {goto: <step id>}"),
        ("steps[0].retry", "initial_interval 1h is longer than max_interval 1m"),
        ("steps[0].tool", "missing required field 'tool'"),
        (
            "steps[1].type",
            "unknown step type 'tol'; one of: tool, agent, parallel, map, switch, loop, approval, wait, workflow",
        ),
        ("steps[2]", "a step needs a type: one of tool, agent, parallel, map, switch, loop, approval, wait, workflow"),
        ("steps[3].duration", "'5 minutes' is not a duration: use e.g. 30s, 5m, 1h30m, 250ms or 2d"),
        ("steps[4].bogus", "unknown field 'bogus'"),
        ("steps[5].branches.x[0].server", "missing required field 'server'"),
        ("steps[6]", "give exactly one of duration and until"),
        ("steps[7].id", "'9' is not a step id (a letter or _, then letters, digits or _; at most 64)"),
    ]


def test_a_document_that_is_not_a_mapping_is_refused_at_its_root() -> None:
    assert _problems(["steps"]) == [
        ("(document)", "a workflow document is a mapping (apiVersion, kind, metadata, steps)")
    ]


def test_a_quorum_needs_join_quorum_and_no_more_than_the_branches() -> None:
    branches = {"a": [tool("a1")], "b": [tool("b1")]}
    assert _problems(workflow({"id": "p", "type": "parallel", "branches": branches, "quorum": 1})) == [
        ("steps[0]", "give quorum: N exactly when join is quorum")
    ]
    assert _problems(
        workflow({"id": "p", "type": "parallel", "branches": branches, "join": "quorum", "quorum": 3})
    ) == [("steps[0]", "quorum 3 is more than the 2 branches")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1m30s", timedelta(seconds=90)),
        ("0s", timedelta(0)),
    ],
)
def test_durations_read_days_hours_minutes_seconds_milliseconds(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "1.5s", "5 m", "1s1h", "PT5M", "-1s"])
def test_other_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_yaml_times_stay_text_and_a_key_given_twice_is_refused() -> None:
    assert load_source("until: 2026-01-01T00:00:00Z\n").data == {"until": "2026-01-01T00:00:00Z"}
    with pytest.raises(WorkflowInvalid, match="the key 'id' is given twice"):
        load_source("steps:\n  - id: a\n    id: b\n")


def test_a_problem_points_at_its_line_in_the_yaml_file() -> None:
    source = load_source(EXAMPLE.read_text())
    lines = source.text.splitlines()
    assert "tool: record_kpi_measurement" in lines[source.line(("steps", 2, "tool")) - 1]  # type: ignore[operator]
    assert "arguments:" in lines[source.line(("steps", 2, "arguments", "missing")) - 1]  # type: ignore[operator]


def test_the_committed_json_schema_is_the_one_the_models_generate() -> None:
    committed = json.loads((ROOT / "orchestrator" / "schemas" / "workflow.schema.json").read_text())
    assert committed == json_schema(), "run `uv run afu9 generate`"


def test_the_json_schema_accepts_the_example_and_refuses_a_step_without_a_type() -> None:
    validator = Draft202012Validator(json_schema())
    example = yaml.safe_load(EXAMPLE.read_text())
    assert list(validator.iter_errors(example)) == []
    broken = workflow({"id": "x", "server": "factory", "tool": "list_kpis"})
    assert list(validator.iter_errors(broken))


def test_the_docs_show_the_example_file_as_it_is() -> None:
    docs = (ROOT / "docs" / "workflows.md").read_text()
    shown = docs.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert shown == EXAMPLE.read_text()
