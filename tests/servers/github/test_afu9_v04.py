"""The table that maps AFU-9 v0.4's six GitHub tools onto ours stays true to our tools' schemas."""

from __future__ import annotations

import pytest

from servers.github.afu9_v04 import LEGACY_TOOLS, translate
from shared.errors import InvalidArguments
from tests.suite import listed_tools

SCHEMAS = {tool.name: tool.input_schema for tool in listed_tools("github")}


@pytest.mark.parametrize("legacy", sorted(LEGACY_TOOLS))
def test_each_v04_tool_maps_onto_a_served_tool_whose_required_arguments_are_all_covered(legacy: str) -> None:
    entry = LEGACY_TOOLS[legacy]
    schema = SCHEMAS[entry.tool]
    properties = set(schema["properties"])
    targets = set(entry.arguments.values()) | set(entry.fixed) | set(entry.needs)
    assert targets <= properties, targets - properties
    assert set(schema.get("required", [])) <= targets


def test_a_v04_call_is_translated_with_renamed_arguments_and_v04_behaviour_kept() -> None:
    tool, arguments = translate(
        "github.mergePullRequest", {"owner": "o", "repo": "r", "pull_number": 7, "merge_method": "squash"}
    )
    assert tool == "merge_pull_request"
    assert arguments == {"owner": "o", "repo": "r", "number": 7, "method": "squash"}
    assert (
        translate("createPullRequest", {"owner": "o", "repo": "r", "title": "t", "head": "h", "base": "b"})[1]["draft"]
        is False
    )


def test_an_unknown_v04_tool_or_argument_is_refused_with_what_exists() -> None:
    with pytest.raises(InvalidArguments, match="known: getIssue"):
        translate("github.deleteRepo", {})
    with pytest.raises(InvalidArguments, match="it takes owner, repo, number"):
        translate("getIssue", {"owner": "o", "repo": "r", "issue": 1})
