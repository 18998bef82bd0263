"""How the kit checks arguments: unknown ones refused, one short sentence per bad field, unstorable text found."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from shared.arguments import explain, lean_schema, unknown_arguments, unstorable_text


class Arguments(BaseModel):
    kpi_id: Annotated[str, Field(pattern=r"^[a-z_]+$")]
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    category: Literal["delivery", "quality"] | None = None


def _explained(data: dict[str, object]) -> str:
    refused = unknown_arguments(Arguments, data)
    if refused is not None:
        return refused
    with pytest.raises(ValidationError) as raised:
        Arguments.model_validate(data)
    return explain(raised.value, Arguments.model_fields)


def test_an_unknown_argument_is_refused_naming_it_and_the_accepted_ones() -> None:
    assert _explained({"kpi_id": "mttr", "categry": "quality"}) == (
        "Invalid arguments: Unknown argument categry; this tool accepts: category, kpi_id, limit."
    )


def test_each_bad_argument_gets_one_sentence_saying_what_is_accepted() -> None:
    text = _explained({"limit": 500, "category": "speed"})
    assert text.startswith("Invalid arguments: ")
    assert "kpi_id is required." in text
    assert "limit: should be less than or equal to 100." in text
    assert "category: should be 'delivery' or 'quality'." in text
    assert "\n" not in text
    assert "https://" not in text
    assert "speed" not in text  # values are never echoed


def test_an_unknown_argument_is_refused_with_the_other_problems_of_the_call() -> None:
    text = _explained({"categry": "quality", "limit": 0})
    assert text.startswith("Invalid arguments: Unknown argument categry; this tool accepts: category, kpi_id, limit.")
    assert "kpi_id is required." in text
    assert "limit: should be greater than or equal to 1." in text
    assert unknown_arguments(Arguments, {"kpi_id": "mttr"}) is None


def test_more_than_five_problems_are_summarised() -> None:
    class Many(BaseModel):
        a: int
        b: int
        c: int
        d: int
        e: int
        f: int
        g: int

    with pytest.raises(ValidationError) as raised:
        Many.model_validate({})
    assert explain(raised.value, Many.model_fields).endswith("(2 more problems)")


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"scope": "fac\x00tory"}, "scope"),
        ({"nested": {"list": ["ok", "\ud800"]}}, "nested.list[1]"),
        ({"k\x00": 1}, "k\x00"),
        ({"fine": "ünïcødé 🙂", "n": 5}, None),
    ],
)
def test_text_no_database_stores_is_found_with_its_path(value: object, where: str | None) -> None:
    assert unstorable_text(value) == where


def test_a_lean_schema_drops_titles_and_the_null_branch_of_optional_arguments_only() -> None:
    schema = Arguments.model_json_schema()
    lean = lean_schema(schema, optional_nulls=True)
    assert "title" not in json.dumps(lean)
    assert lean["properties"]["category"] == {"enum": ["delivery", "quality"], "type": "string"}
    assert lean["properties"]["kpi_id"] == {"pattern": "^[a-z_]+$", "type": "string"}
    assert lean["required"] == ["kpi_id"]
    kept = lean_schema(schema, optional_nulls=False)
    assert {"type": "null"} in kept["properties"]["category"]["anyOf"]  # output schemas keep their nulls
