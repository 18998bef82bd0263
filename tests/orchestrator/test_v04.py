"""AFU-9 v0.4 definitions are accepted: up-converted to orchestrator/v1 (GitHub tool names mapped), and a
v0.4 document calling existing tools validates as it is."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.catalog import Catalog
from orchestrator.documents import prepare
from orchestrator.problems import WorkflowInvalid
from orchestrator.v04 import GITHUB_TOOLS, is_v04, upconvert

ISSUE_TO_PR: dict[str, Any] = {
    "name": "issue_to_pr",
    "description": "Fix an issue and open a pull request",
    "config": {"continueOnError": False, "timeoutMs": 300000, "maxRetries": 2},
    "steps": [
        {
            "name": "Fetch issue",
            "tool": "github.getIssue",
            "params": {"owner": "${repo.owner}", "repo": "${repo.name}", "number": "${input.issue_number}"},
            "assign": "issue",
        },
        {
            "name": "Create branch",
            "tool": "github.createBranch",
            "params": {
                "owner": "${repo.owner}",
                "repo": "${repo.name}",
                "branch": "fix/${input.issue_number}",
                "from": "main",
            },
            "condition": "${issue.state} === 'open' && ${issue.labels.length} > 0",
            "retry": {
                "maxAttempts": 3,
                "backoff": "exponential",
                "backoffMultiplier": 2,
                "initialDelayMs": 1000,
                "maxDelayMs": 30000,
            },
        },
        {
            "name": "Open PR",
            "tool": "github.createPullRequest",
            "params": {
                "owner": "${repo.owner}",
                "repo": "${repo.name}",
                "title": "Fix #${input.issue_number}: ${issue.title}",
                "head": "fix/${input.issue_number}",
                "base": "main",
            },
            "assign": "pr",
        },
        {
            "name": "Merge",
            "tool": "github.mergePullRequest",
            "if": "${input.autoMerge}",
            "params": {
                "owner": "${repo.owner}",
                "repo": "${repo.name}",
                "pull_number": "${pr.number}",
                "merge_method": "squash",
            },
        },
    ],
}

REPO = {"owner": "${{ inputs.repo.owner }}", "repo": "${{ inputs.repo.name }}"}


@pytest.mark.parametrize("legacy", sorted(GITHUB_TOOLS))
def test_each_v04_github_tool_maps_onto_a_served_tool_whose_required_arguments_are_all_covered(
    legacy: str, catalog: Catalog
) -> None:
    entry = GITHUB_TOOLS[legacy]
    tool = catalog.tool("github", entry.tool)
    assert tool is not None, entry.tool
    properties = set(tool.input_schema["properties"])
    targets = set(entry.arguments.values()) | set(entry.fixed) | set(entry.needs)
    assert targets <= properties, targets - properties
    assert set(tool.input_schema.get("required", [])) <= targets


def test_a_v04_github_workflow_is_up_converted_with_our_tool_names_and_arguments(catalog: Catalog) -> None:
    converted = upconvert(ISSUE_TO_PR, catalog)
    assert converted["metadata"] == {
        "name": "issue_to_pr",
        "version": "1.0.0",
        "compat": "afu9/v0.4",
        "description": "Fix an issue and open a pull request",
    }
    assert converted["defaults"] == {"retry": {"max_attempts": 3}}
    assert converted["deadline"] == "5m"
    assert converted["steps"] == [
        {
            "id": "issue",
            "name": "Fetch issue",
            "type": "tool",
            "server": "github",
            "tool": "get_issue",
            "arguments": {**REPO, "number": "${{ inputs.issue_number }}"},
        },
        {
            "id": "create_branch",
            "name": "Create branch",
            "if": "steps.issue.output.state == 'open' && length(steps.issue.output.labels) > `0`",
            "retry": {"max_attempts": 3, "initial_interval": "1s", "max_interval": "30s", "backoff_rate": 2},
            "type": "tool",
            "server": "github",
            "tool": "create_branch",
            "write": True,
            "arguments": {**REPO, "branch": "fix/${{ inputs.issue_number }}", "from_ref": "main"},
        },
        {
            "id": "pr",
            "name": "Open PR",
            "type": "tool",
            "server": "github",
            "tool": "create_pull_request",
            "write": True,
            "idempotency_key": "${{ execution.id }}-pr",
            "arguments": {
                "draft": False,
                **REPO,
                "title": "Fix #${{ inputs.issue_number }}: ${{ steps.issue.output.title }}",
                "head": "fix/${{ inputs.issue_number }}",
                "base": "main",
            },
        },
        {
            "id": "merge_head",
            "name": "Read the pull request's head before merging",
            "if": "inputs.autoMerge",
            "type": "tool",
            "server": "github",
            "tool": "get_pull_request",
            "arguments": {**REPO, "number": "${{ steps.pr.output.number }}"},
        },
        {
            "id": "merge",
            "name": "Merge",
            "if": "inputs.autoMerge",
            "type": "tool",
            "server": "github",
            "tool": "merge_pull_request",
            "write": True,
            "idempotency_key": "${{ execution.id }}-merge",
            "arguments": {
                "method": "squash",
                **REPO,
                "number": "${{ steps.pr.output.number }}",
                "expected_head_sha": "${{ steps.merge_head.output.head_sha }}",
            },
        },
    ]


def test_the_up_converted_github_workflow_validates_against_the_github_servers_tools(catalog: Catalog) -> None:
    prepared = prepare(ISSUE_TO_PR, catalog)
    assert prepared.from_v04
    assert prepared.workflow.metadata.compat == "afu9/v0.4"
    assert [step.id for step in prepared.workflow.steps] == ["issue", "create_branch", "pr", "merge_head", "merge"]


def test_a_v04_document_that_only_calls_factory_tools_runs_as_it_is(catalog: Catalog) -> None:
    document = {
        "name": "daily_kpis",
        "steps": [
            {"name": "catalog", "tool": "factory.list_kpis", "params": {"limit": 10}, "assign": "kpis"},
            {
                "name": "record",
                "tool": "factory.record_kpi_measurement",
                "params": {"kpi_id": "${input.kpi}", "value": "${input.value}", "source": "v0.4"},
            },
        ],
    }
    prepared = prepare(document, catalog)
    record = prepared.document["steps"][1]
    assert record == {
        "id": "record",
        "type": "tool",
        "server": "factory",
        "tool": "record_kpi_measurement",
        "write": True,
        "idempotency_key": "${{ execution.id }}-record",
        "arguments": {"kpi_id": "${{ inputs.kpi }}", "value": "${{ inputs.value }}", "source": "v0.4"},
    }


@pytest.mark.parametrize(
    ("condition", "expression"),
    [
        ("${input.deploy}", "inputs.deploy"),
        ("${input.env} === 'production'", "inputs.env == 'production'"),
        ("'${input.env}' !== \"staging\"", "inputs.env != 'staging'"),
        ("!(${issue.locked}) || ${input.force} == true", "! ( inputs.issue.locked ) || inputs.force == `true`"),
        ("${pr.items.0.name} >= 2.5", "steps.pr.output.items[0].name >= `2.5`"),
        ("${input.note} != undefined", "inputs.note != `null`"),
        ("${input.count} + 1 > 2", None),
        (True, "`true`"),
    ],
)
def test_v04_conditions_become_jmespath(condition: Any, expression: str | None) -> None:
    document = {
        "name": "c",
        "steps": [
            {"name": "pr", "tool": "factory.list_kpis", "assign": "pr"},
            {"name": "x", "tool": "factory.list_kpis", "condition": condition},
        ],
    }
    if expression is None:
        with pytest.raises(WorkflowInvalid) as caught:
            upconvert(document)
        assert [str(p) for p in caught.value.problems] == [
            "steps[1].condition: cannot convert '${input.count} + 1 > 2' at '+ 1 > 2': rewrite it as JMESPath"
        ]
        return
    assert upconvert(document)["steps"][1]["if"] == expression


def test_placeholders_read_inputs_and_earlier_results_never_later_ones() -> None:
    document = {
        "name": "p",
        "steps": [
            {"name": "a", "tool": "factory.get_kpi", "params": {"kpi_id": "${later.kpi_id}", "version": "${input.v}"}},
            {"name": "b", "tool": "factory.get_kpi", "params": {"kpi_id": "${variables.kpi-id}"}, "assign": "later"},
            {"name": "c", "tool": "github.getIssue", "params": {"owner": "o", "repo": "r", "issue": 1}},
            {"name": "d", "tool": "list_kpis"},
            "not a step",
        ],
    }
    with pytest.raises(WorkflowInvalid) as caught:
        upconvert(document)
    assert [str(p) for p in caught.value.problems] == [
        "steps[0].params.kpi_id: ${later.kpi_id} reads 'later', which only a later step assigns",
        "steps[2].params.issue: github.getIssue has no parameter 'issue'; it takes owner, repo, number",
        "steps[3].tool: 'list_kpis' is not server.tool (e.g. github.getIssue)",
        "steps[4]: a v0.4 step is a mapping (name, tool, params, assign, condition)",
    ]
    document["steps"] = document["steps"][1:2]
    assert upconvert(document)["steps"][0]["arguments"] == {"kpi_id": '${{ inputs.variables."kpi-id" }}'}


def test_v04_config_becomes_defaults_and_deadline() -> None:
    document = {
        "name": "cfg",
        "version": 3,
        "config": {"continueOnError": True, "timeoutMs": 5_400_250},
        "steps": [
            {
                "name": "a",
                "tool": "factory.list_kpis",
                "retry": {"maxAttempts": 4, "backoff": "linear", "initialDelayMs": 500},
            }
        ],
    }
    converted = upconvert(document)
    assert converted["metadata"]["version"] == "3.0.0"
    assert converted["defaults"] == {"on_error": "continue"}
    assert converted["deadline"] == "1h30m250ms"
    assert converted["steps"][0]["retry"] == {
        "max_attempts": 4,
        "initial_interval": "500ms",
        "backoff_rate": 1,
        "max_interval": "60s",
    }


def test_agent_pseudo_tools_become_agent_steps() -> None:
    document = {
        "name": "a",
        "steps": [
            {
                "name": "plan",
                "tool": "agent.execute",
                "params": {
                    "prompt": "Plan a fix for ${issue.title}",
                    "config": {"model": "claude-sonnet-4-5"},
                    "serverNames": ["github", "observability"],
                },
            }
        ],
    }
    assert upconvert(document)["steps"][0] == {
        "id": "plan",
        "type": "agent",
        "prompt": "Plan a fix for ${{ inputs.issue.title }}",
        "model": "claude-sonnet-4-5",
        "tools": ["github/*", "observability/*"],
    }


def test_problems_found_after_up_conversion_are_marked_as_such(catalog: Catalog) -> None:
    document = {"name": "later", "steps": [{"name": "a", "tool": "factory.get_kpi", "params": {"kpi": "mttr"}}]}
    with pytest.raises(WorkflowInvalid) as caught:
        prepare(document, catalog)
    assert [str(p) for p in caught.value.problems] == [
        "(up-converted) steps[0].arguments.kpi: factory.get_kpi has no argument 'kpi'; did you mean 'kpi_id'? "
        "(it takes kpi_id, version)",
        "(up-converted) steps[0].arguments.kpi_id: missing required argument 'kpi_id' of factory.get_kpi",
    ]


def test_only_documents_without_apiversion_and_kind_are_v04() -> None:
    assert is_v04({"name": "x", "steps": []})
    assert not is_v04({"apiVersion": "orchestrator/v1", "kind": "Workflow", "steps": []})
    assert not is_v04({"name": "x"})
