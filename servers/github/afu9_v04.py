"""The six GitHub tools AFU-9 v0.4 workflows call, and their counterparts here: one table, for the orchestrator's
up-conversion of v0.4 workflow definitions (``github.getIssue`` with ``{owner, repo, number}`` becomes
``get_issue`` on the github server with the same arguments, and so on).

Each entry maps v0.4's argument names to ours, adds the arguments that keep v0.4's behaviour where our default
differs (v0.4 opened ready-for-review pull requests; ours default to drafts), and names what our tool needs that
v0.4 never sent (a merge takes the head sha it expects, which an up-converted workflow reads with
``get_pull_request`` first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.errors import InvalidArguments

__all__ = ["LEGACY_TOOLS", "LegacyTool", "translate"]


@dataclass(frozen=True)
class LegacyTool:
    """One v0.4 tool: its name, ours, how arguments map, fixed values, and what v0.4 callers must add."""

    legacy: str
    tool: str
    arguments: Mapping[str, str]
    fixed: Mapping[str, Any] = field(default_factory=dict[str, Any])
    needs: Mapping[str, str] = field(default_factory=dict[str, str])


LEGACY_TOOLS: dict[str, LegacyTool] = {
    entry.legacy: entry
    for entry in (
        LegacyTool("getIssue", "get_issue", {"owner": "owner", "repo": "repo", "number": "number"}),
        LegacyTool(
            "listIssues", "list_issues", {"owner": "owner", "repo": "repo", "state": "state", "labels": "labels"}
        ),
        LegacyTool(
            "createBranch", "create_branch", {"owner": "owner", "repo": "repo", "branch": "branch", "from": "from_ref"}
        ),
        LegacyTool(
            "commitFileChanges",
            "push_files",
            {"owner": "owner", "repo": "repo", "branch": "branch", "message": "message", "files": "files"},
        ),
        LegacyTool(
            "createPullRequest",
            "create_pull_request",
            {"owner": "owner", "repo": "repo", "title": "title", "body": "body", "head": "head", "base": "base"},
            fixed={"draft": False},
        ),
        LegacyTool(
            "mergePullRequest",
            "merge_pull_request",
            {
                "owner": "owner",
                "repo": "repo",
                "pull_number": "number",
                "commit_title": "commit_title",
                "commit_message": "commit_message",
                "merge_method": "method",
            },
            fixed={"method": "merge"},
            needs={"expected_head_sha": "the pull request's head_sha, from get_pull_request"},
        ),
    )
}


def translate(legacy: str, arguments: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Our tool and arguments for a v0.4 call (``legacy`` with or without its ``github.`` prefix)."""
    name = legacy.removeprefix("github.")
    entry = LEGACY_TOOLS.get(name)
    if entry is None:
        raise InvalidArguments(f"{legacy} is not an AFU-9 v0.4 GitHub tool; known: {', '.join(LEGACY_TOOLS)}.")
    unknown = sorted(set(arguments) - set(entry.arguments))
    if unknown:
        raise InvalidArguments(
            f"{legacy} has no argument(s) {', '.join(unknown)}; it takes {', '.join(entry.arguments)}."
        )
    translated = dict(entry.fixed)
    translated.update({entry.arguments[key]: value for key, value in arguments.items()})
    return entry.tool, translated
