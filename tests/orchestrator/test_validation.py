"""Validation on publish: every rule with the exact path it reports, several problems at once, and the catalog
checks against the real servers' tools/list."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.catalog import Catalog
from orchestrator.documents import load_source, prepare
from orchestrator.format import parse_workflow
from orchestrator.problems import WorkflowInvalid, render_path
from orchestrator.validation import validate
from tests.orchestrator.conftest import EXAMPLE, tool, workflow

RECORD_ARGS = {"kpi_id": "cycle_time", "value": 3}


def _check(document: dict[str, Any], catalog: Catalog | None = None, **options: Any) -> set[tuple[str, str]]:
    return {(render_path(p.path), p.message) for p in validate(parse_workflow(document), catalog, **options)}


def _record(step_id: str = "record", **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"write": True, "idempotency_key": "${{ execution.id }}", "arguments": RECORD_ARGS}
    return tool(step_id, "record_kpi_measurement", **(values | fields))


# --- the example ----------------------------------------------------------------------------------------------


def test_the_example_validates_against_the_real_factory_server(catalog: Catalog) -> None:
    prepared = prepare(load_source(EXAMPLE.read_text()).data, catalog)
    assert prepared.name == "kpi_report"
    assert prepared.version == "1.0.0"
    assert len(prepared.content_hash) == 64


def test_a_valid_document_has_no_problems_without_a_catalog_either() -> None:
    assert _check(workflow(tool("read"), tool("again", needs=["read"]))) == set()


# --- ids, needs and goto --------------------------------------------------------------------------------------


def test_a_step_id_used_twice_is_reported_where_it_is_used_again() -> None:
    document = workflow(tool("read"), {"id": "p", "type": "parallel", "branches": {"x": [tool("read")]}})
    assert _check(document) == {("steps[1].branches.x[0].id", "step id 'read' is used twice (first at steps[0])")}


def test_a_cycle_in_needs_is_reported_once_with_its_links() -> None:
    document = workflow(tool("a", needs=["c"]), tool("b", needs=["a"]), tool("c", needs=["b"]))
    assert _check(document) == {("steps[0].needs", "the needs form a cycle: a needs c, c needs b, b needs a")}


def test_a_cycle_through_list_order_says_so() -> None:
    document = workflow(tool("a", needs=["b"]), tool("b"))
    assert _check(document) == {
        ("steps[0].needs", "the needs form a cycle: a needs b, b needs a (the step before it in the list)")
    }


def test_needs_name_existing_siblings_other_than_the_step_itself() -> None:
    document = workflow(
        tool("a"),
        tool("b", needs=["b", "nope", "inner"]),
        {"id": "p", "type": "parallel", "branches": {"x": [tool("inner", needs=["a"])]}},
    )
    assert _check(document) == {
        ("steps[1].needs[0]", "a step cannot need itself"),
        ("steps[1].needs[1]", "no step 'nope' in this workflow"),
        (
            "steps[1].needs[2]",
            "'inner' is not in the same step list; a step needs only its siblings (a, p), and the steps holding "
            "them order the rest",
        ),
        (
            "steps[2].branches.x[0].needs[0]",
            "'a' is not in the same step list; a step needs only its siblings (none), and the steps holding them "
            "order the rest",
        ),
    }


def test_goto_jumps_forward_to_a_step_of_the_same_list() -> None:
    document = workflow(
        tool("a"),
        {
            "id": "s",
            "type": "switch",
            "cases": [{"when": "inputs.x", "goto": "a"}, {"when": "inputs.y", "goto": "z"}],
            "default": "inner",
        },
        tool("b", on_error={"goto": "c"}),
        {"id": "m", "type": "loop", "until": "inputs.done", "max_iterations": 2, "steps": [tool("inner")]},
        tool("c"),
    )
    assert _check(document) == {
        ("steps[1].cases[0].goto", "'a' comes before this step: goto jumps forward (use a loop step to repeat)"),
        ("steps[1].cases[1].goto", "no step 'z' in this workflow"),
        ("steps[1].default", "'inner' is not in the same step list: goto jumps only within one list"),
    }


# --- expressions and what they read ----------------------------------------------------------------------------


def test_bad_expressions_and_templates_are_reported_where_they_are_written() -> None:
    document = workflow(
        tool("a", arguments={"category": "${{ inputs.c ==  }}", "cursor": "x ${{ inputs.c"}, outputs={"n": "kpis"}),
        {"id": "w", "type": "approval", "message": "ok ${{ steps.a.output[ }}?"},
    )
    assert _check(document) == {
        (
            "steps[0].arguments.category",
            "not a JMESPath expression: 'inputs.c ==' (Invalid jmespath expression: Incomplete expression:)",
        ),
        ("steps[0].arguments.cursor", "template at character 3 is not closed with }}: '${{ inputs.c'"),
        ("steps[0].outputs.n", "unknown name 'kpis': expressions read inputs, steps, execution, result"),
        (
            "steps[1].message",
            "not a JMESPath expression: 'steps.a.output[' (Invalid jmespath expression: Incomplete expression:)",
        ),
    }


def test_references_to_steps_must_exist_and_have_run_before() -> None:
    document = workflow(
        tool("first", **{"if": "steps.later.status == 'completed'"}),
        tool("second", arguments={"cursor": "${{ steps.nope.output }}"}, needs=[]),
        tool("third", needs=["second"], arguments={"cursor": "${{ steps.first.output.next_cursor }}"}),
        tool("later", **{"if": "steps.later.output"}),
    )
    assert _check(document) == {
        ("steps[0].if", "steps.later may not have run before this step: add 'later' to its needs"),
        ("steps[1].arguments.cursor", "no step 'nope' in this workflow"),
        ("steps[2].arguments.cursor", "steps.first may not have run before this step: add 'first' to its needs"),
        ("steps[3].if", "step 'later' reads its own result: use outputs (over `result`) or a later step"),
    }


def test_steps_in_a_parallel_branch_see_neither_the_other_branches_nor_after_it_the_map_items() -> None:
    document = workflow(
        {
            "id": "p",
            "type": "parallel",
            "branches": {
                "x": [tool("x1")],
                "y": [tool("y1", arguments={"cursor": "${{ steps.x1.output.next_cursor }}"})],
            },
        },
        {
            "id": "m",
            "type": "map",
            "items": "steps.p.output.x.kpis",
            "steps": [tool("each", "get_kpi", arguments={"kpi_id": "${{ item.kpi_id }}", "version": "${{ index }}"})],
        },
        tool(
            "after", arguments={"cursor": "${{ steps.x1.output.next_cursor }}", "category": "${{ steps.each.output }}"}
        ),
    )
    assert _check(document) == {
        (
            "steps[0].branches.y[0].arguments.cursor",
            "steps.x1 is not certain to have run before this step (it runs in another branch or later)",
        ),
        ("steps[2].arguments.category", "'each' runs once per item inside map step 'm': read steps.m.output instead"),
    }


def test_named_outputs_step_fields_inputs_and_execution_must_exist() -> None:
    document = workflow(
        tool("read", outputs={"count": "length(result.kpis)"}),
        tool(
            "use",
            arguments={
                "cursor": "${{ steps.read.outputs.total }}",
                "category": "${{ steps.read.result }}",
                "limit": "${{ inputs.limt }}",
            },
            **{"if": "execution.user && item && input.x && null"},
        ),
        inputs={"type": "object", "properties": {"limit": {"type": "integer"}}},
        outputs={"count": "steps.read.outputs.count", "id": "execution.id"},
    )
    assert _check(document) == {
        ("steps[1].arguments.cursor", "step 'read' declares no output 'total' (its outputs: count)"),
        ("steps[1].arguments.category", "steps.read has output, outputs, status, error; not 'result'"),
        ("steps[1].arguments.limit", "inputs.limt is not declared in inputs.properties; did you mean 'limit'?"),
        (
            "steps[1].if",
            "execution has no field 'user' (it has id, name, version, content_hash, started_at, triggered_by)",
        ),
        ("steps[1].if", "unknown name 'item': expressions read inputs, steps, execution"),
        ("steps[1].if", "unknown name 'input': expressions read inputs, steps, execution; did you mean inputs?"),
        (
            "steps[1].if",
            "unknown name 'null': expressions read inputs, steps, execution; a JMESPath literal is written in "
            "backticks: `null`",
        ),
    }


def test_output_fields_are_checked_against_the_tools_output_schema(catalog: Catalog) -> None:
    document = workflow(
        tool("history", "get_kpi_history", arguments={"kpi_id": "mttr"}),
        tool(
            "use",
            arguments={
                "cursor": "${{ steps.history.output.summary.lastest }}",
                "category": "${{ steps.history.output.measurements.value }}",
                "limit": "${{ steps.history.output.summary.latest }}",
            },
        ),
        {"id": "ok", "type": "approval", "message": "${{ steps.history.output.unit }}", "needs": ["history"]},
        tool("after", arguments={"cursor": "${{ steps.ok.output.decison }}"}, needs=["ok"]),
    )
    assert _check(document, catalog) == {
        (
            "steps[1].arguments.cursor",
            "the output of history (factory.get_kpi_history) has no field summary.lastest; did you mean 'latest'? "
            "(fields of summary: count, min, max, mean, latest, latest_meets_target)",
        ),
        (
            "steps[1].arguments.category",
            "the output of history (factory.get_kpi_history): measurements is a list; read its elements with "
            "measurements[] or measurements[0]",
        ),
        (
            "steps[3].arguments.cursor",
            "the output of ok (an approval) has decision, approved, actor, reason, at; not 'decison'",
        ),
    }


def test_the_negation_pitfall_is_reported() -> None:
    assert _check(workflow(tool("a", **{"if": "!inputs.dry_run"}))) == {
        ("steps[0].if", "`!a.b` reads as `(!a).b` in JMESPath: write `!(a.b)`")
    }


def test_an_invalid_inputs_schema_is_reported() -> None:
    assert _check(workflow(tool("a"), inputs={"type": "thing"})) == {
        ("inputs.type", "not a valid JSON Schema: 'thing' is not valid under any of the given schemas")
    }


# --- the catalog ----------------------------------------------------------------------------------------------


def test_unknown_servers_and_tools_are_named_with_a_suggestion(catalog: Catalog) -> None:
    document = workflow(
        {"id": "a", "type": "tool", "server": "factry", "tool": "list_kpis"},
        tool("b", "list_kpi"),
        {"id": "c", "type": "tool", "server": "runner", "tool": "run"},
    )
    assert _check(document, catalog) == {
        ("steps[0].server", "no server 'factry' (the servers: factory, github)"),
        ("steps[1].tool", "server 'factory' has no tool 'list_kpi'; did you mean 'list_kpis'?"),
        ("steps[2].server", "no server 'runner' (the servers: factory, github)"),
    }


def test_a_server_that_could_not_be_listed_is_a_problem_not_a_pass() -> None:
    down = Catalog(unavailable={"factory": "tools/list at http://127.0.0.1:9/mcp failed: ConnectError"})
    assert _check(workflow(tool("a")), down) == {
        (
            "steps[0].server",
            "server 'factory' could not be listed: tools/list at http://127.0.0.1:9/mcp failed: ConnectError",
        )
    }


def test_literal_arguments_must_fit_the_tools_input_schema(catalog: Catalog) -> None:
    document = workflow(
        _record("r1", arguments={"kpi_id": "Cycle Time", "value": "high", "scope": "", "valeu": 1}),
        tool("r2", "get_kpi_history", arguments={"limit": 1000, "start": "yesterday"}),
        tool("r3", "list_kpis", arguments={"category": "speed", "cursor": "${{ inputs.cursor }}"}),
    )
    assert _check(document, catalog) == {
        ("steps[0].arguments.kpi_id", "'Cycle Time' does not match '^[a-z][a-z0-9_]{1,63}$'"),
        ("steps[0].arguments.value", "'high' is not of type 'number'"),
        ("steps[0].arguments.scope", "'' should be non-empty"),
        (
            "steps[0].arguments.valeu",
            "factory.record_kpi_measurement has no argument 'valeu'; did you mean 'value'? (it takes kpi_id, value, "
            "scope, measured_at, source, idempotency_key)",
        ),
        ("steps[1].arguments.kpi_id", "missing required argument 'kpi_id' of factory.get_kpi_history"),
        ("steps[1].arguments.limit", "1000 is greater than the maximum of 500"),
        (
            "steps[2].arguments.category",
            "'speed' is not one of ['delivery', 'quality', 'reliability', 'efficiency', 'security']",
        ),
    } | ({("steps[1].arguments.start", "'yesterday' is not a 'date-time'")} if _checks_date_times() else set())


def _checks_date_times() -> bool:
    from jsonschema import Draft202012Validator

    return not Draft202012Validator.FORMAT_CHECKER.conforms("yesterday", "date-time")


def test_arguments_given_by_templates_are_left_to_run_time_but_count_as_given(catalog: Catalog) -> None:
    document = workflow(_record(arguments={"kpi_id": "${{ inputs.kpi }}", "value": "${{ inputs.value }}"}))
    assert _check(document, catalog) == set()


def test_a_write_tool_must_be_marked_and_keyed(catalog: Catalog) -> None:
    document = workflow(
        tool("plain", "record_kpi_measurement", arguments=RECORD_ARGS),
        tool(
            "keyed_by_argument",
            "record_kpi_measurement",
            write=True,
            arguments={**RECORD_ARGS, "idempotency_key": "${{ execution.id }}"},
        ),
        _record("twice", arguments={**RECORD_ARGS, "idempotency_key": "k"}),
        {
            "id": "branch",
            "type": "tool",
            "server": "github",
            "tool": "create_branch",
            "arguments": {"owner": "o", "repo": "r", "branch": "b"},
        },
    )
    assert _check(document, catalog) == {
        (
            "steps[0].write",
            "factory.record_kpi_measurement writes (tools/list does not mark it read-only): mark the step write: true",
        ),
        (
            "steps[0].idempotency_key",
            'factory.record_kpi_measurement is not idempotent: give idempotency_key (e.g. "${{ execution.id }}-<step '
            'id>") so a retried or resumed step does not write twice',
        ),
        (
            "steps[2].arguments.idempotency_key",
            "give the key once: the step's idempotency_key is passed to the tool as this argument",
        ),
        # create_branch is an idempotent write: marked, no key needed
        (
            "steps[3].write",
            "github.create_branch writes (tools/list does not mark it read-only): mark the step write: true",
        ),
    }


def test_a_compensation_is_checked_like_a_tool_call_and_reads_the_step_it_undoes(catalog: Catalog) -> None:
    undo = {
        "server": "factory",
        "tool": "record_kpi_measurement",
        "arguments": {"kpi_id": "${{ steps.record.output.measurement.kpi_id }}", "value": 0, "scoop": "x"},
    }
    assert _check(workflow(_record(compensate=undo)), catalog) == {
        (
            "steps[0].compensate.arguments.scoop",
            "factory.record_kpi_measurement has no argument 'scoop'; did you mean 'scope'? (it takes kpi_id, value, "
            "scope, measured_at, source, idempotency_key)",
        ),
        (
            "steps[0].compensate.write",
            "factory.record_kpi_measurement writes (tools/list does not mark it read-only): mark the step write: true",
        ),
        (
            "steps[0].compensate.idempotency_key",
            'factory.record_kpi_measurement is not idempotent: give idempotency_key (e.g. "${{ execution.id }}-<step '
            'id>") so a retried or resumed step does not write twice',
        ),
    }


def test_agent_tool_globs_must_match_tools(catalog: Catalog) -> None:
    document = workflow(
        {
            "id": "think",
            "type": "agent",
            "prompt": "Plan ${{ inputs.issue }}",
            "tools": ["github/get_*", "factory/*", "observability/*", "list_kpis"],
        }
    )
    assert _check(document, catalog) == {
        ("steps[0].tools[2]", "'observability/*' matches no tool of the servers (factory, github)"),
        ("steps[0].tools[3]", "'list_kpis' is not server/tool (a glob such as github/get_* or factory/*)"),
    }


def test_a_sub_workflow_must_be_published_and_not_the_workflow_itself() -> None:
    document = workflow(
        {"id": "a", "type": "workflow", "workflow": "triage"},
        {"id": "b", "type": "workflow", "workflow": "triage", "version": "2.0.0"},
        {"id": "c", "type": "workflow", "workflow": "example"},
    )
    published = {"triage": {"1.0.0"}}
    assert _check(
        document, published=lambda name, version: name in published and (version is None or version in published[name])
    ) == {
        ("steps[1].workflow", "no published workflow triage 2.0.0: publish it first"),
        ("steps[2].workflow", "a workflow cannot run itself as a sub-workflow"),
    }


# --- all at once ----------------------------------------------------------------------------------------------


def test_several_problems_of_every_kind_are_reported_at_once(catalog: Catalog) -> None:
    text = """
apiVersion: orchestrator/v1
kind: Workflow
metadata: {name: broken, version: 1.0.0}
steps:
  - {id: read, type: tool, server: factory, tool: list_kpis, needs: [check]}
  - {id: check, type: tool, server: factory, tool: get_kpi, needs: [read], arguments: {kpi_id: "${{ step.read }}"}}
  - id: write
    type: tool
    server: factory
    tool: record_kpi_measurement
    arguments: {kpi_id: cycle_time}
"""
    with pytest.raises(WorkflowInvalid) as caught:
        prepare(load_source(text).data, catalog)
    assert [str(problem) for problem in caught.value.problems] == [
        "steps[0].needs: the needs form a cycle: read needs check, check needs read",
        "steps[1].arguments.kpi_id: unknown name 'step': expressions read inputs, steps, execution",
        "steps[2].arguments.value: missing required argument 'value' of factory.record_kpi_measurement",
        "steps[2].idempotency_key: factory.record_kpi_measurement is not idempotent: give idempotency_key (e.g. "
        '"${{ execution.id }}-<step id>") so a retried or resumed step does not write twice',
        "steps[2].write: factory.record_kpi_measurement writes (tools/list does not mark it read-only): mark the "
        "step write: true",
    ]


def test_text_no_database_takes_is_a_problem_with_its_path() -> None:
    from orchestrator.documents import prepare
    from orchestrator.problems import WorkflowInvalid

    document = workflow(tool("a", arguments={"cursor": "x\u0000y"}))
    with pytest.raises(WorkflowInvalid) as invalid:
        prepare(document)
    assert [str(problem) for problem in invalid.value.problems] == [
        "steps[0].arguments.cursor: holds a NUL character or an unpaired surrogate, which cannot be stored"
    ]
