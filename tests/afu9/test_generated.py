"""Generated files (mcp.json, the README tables, docs/tools.md) match what `afu9 generate` would write now."""

from __future__ import annotations

import difflib

from afu9.generate import ROOT, expected_files


def test_generated_files_are_current() -> None:
    stale: list[str] = []
    for path, content in expected_files().items():
        current = path.read_text() if path.exists() else ""
        if current != content:
            diff = difflib.unified_diff(
                current.splitlines(), content.splitlines(), "on disk", "generated", n=1, lineterm=""
            )
            stale.append(f"{path.relative_to(ROOT)}:\n" + "\n".join(list(diff)[:40]))
    assert not stale, "generated files are out of date; run `uv run afu9 generate`:\n\n" + "\n\n".join(stale)


def test_generated_files_cover_mcp_json_the_readme_and_the_tool_reference() -> None:
    assert {path.relative_to(ROOT).as_posix() for path in expected_files()} == {
        "mcp.json",
        "README.md",
        "docs/tools.md",
        "orchestrator/schemas/workflow.schema.json",
    }
