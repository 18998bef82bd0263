"""Expressions: JMESPath in ``${{ }}`` templates, typed when a string is one template, and what they read."""

from __future__ import annotations

import pytest

from orchestrator.expressions import (
    ExpressionError,
    Template,
    pitfalls,
    references,
    render,
    split_template,
    truthy,
    unwrap,
)

CONTEXT = {
    "inputs": {"kpi_id": "cycle_time", "value": 4.5, "tags": ["a", "b"]},
    "steps": {"read": {"output": {"kpis": [{"kpi_id": "mttr"}, {"kpi_id": "cycle_time"}]}, "status": "completed"}},
    "execution": {"id": "e-1"},
}


def test_a_string_that_is_one_template_takes_the_value_with_its_json_type() -> None:
    assert render("${{ inputs.value }}", CONTEXT) == 4.5
    assert render("  ${{inputs.tags}} ", CONTEXT) == ["a", "b"]
    assert render({"ids": "${{ steps.read.output.kpis[].kpi_id }}"}, CONTEXT) == {"ids": ["mttr", "cycle_time"]}


def test_templates_inside_text_are_replaced_by_their_value_as_text() -> None:
    assert render("kpi ${{ inputs.kpi_id }} = ${{ inputs.value }}", CONTEXT) == "kpi cycle_time = 4.5"
    assert render("tags ${{ inputs.tags }}, none: [${{ inputs.missing }}]", CONTEXT) == 'tags ["a","b"], none: []'


def test_v04_placeholders_and_other_text_stay_literal() -> None:
    assert render("${input.kpi_id} costs $5 {not a template}", CONTEXT) == "${input.kpi_id} costs $5 {not a template}"


def test_a_template_ends_at_the_first_closing_braces_outside_quotes_and_hashes() -> None:
    parts = split_template("a ${{ {id: inputs.kpi_id} }} b ${{ '}}' }}")
    assert parts == ["a ", Template("{id: inputs.kpi_id}", 2), " b ", Template("'}}'", 31)]
    assert render("${{ {id: inputs.kpi_id} }}", CONTEXT) == {"id": "cycle_time"}


def test_an_unclosed_template_is_an_error_naming_where_it_starts() -> None:
    with pytest.raises(ExpressionError, match="template at character 3 is not closed"):
        split_template("x ${{ inputs.kpi_id")


def test_an_expression_field_takes_one_expression_bare_or_wrapped() -> None:
    assert unwrap("${{ inputs.value }}") == "inputs.value"
    assert unwrap(" inputs.value ") == "inputs.value"
    with pytest.raises(ExpressionError, match="not text with templates"):
        unwrap("value is ${{ inputs.value }}")
    with pytest.raises(ExpressionError, match=r"not a JMESPath expression: 'inputs\.value =='"):
        unwrap("inputs.value ==")


def test_references_list_the_paths_read_from_the_root_only() -> None:
    expression = "length(steps.read.output.kpis[?kpi_id == inputs.kpi_id]) > `0` && execution.id"
    assert references(expression) == [("steps", "read", "output", "kpis"), ("execution", "id")]
    assert references("sort_by(inputs.tags[*], &name) | [0].x") == [("inputs", "tags")]
    assert references("{a: inputs.kpi_id, b: [steps.read.status]}") == [
        ("inputs", "kpi_id"),
        ("steps", "read", "status"),
    ]


def test_the_negation_pitfall_is_named() -> None:
    assert pitfalls("!inputs.dry_run") == ["`!a.b` reads as `(!a).b` in JMESPath: write `!(a.b)`"]
    assert pitfalls("!(inputs.dry_run)") == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, False), (False, False), ("", False), ([], False), ({}, False), (0, True), ("x", True), ([0], True)],
)
def test_truthiness_is_jmespaths(value: object, expected: bool) -> None:
    assert truthy(value) is expected
