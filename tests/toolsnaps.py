"""Tool snapshots: each tool's definition as a model sees it, kept in ``tests/servers/<server>/__toolsnaps__``.

A snapshot is the camelCase wire form of one ``tools/list`` entry (name, title, description, inputSchema,
outputSchema, annotations) as pretty JSON with sorted keys, so a reviewer sees every change a model will see.

- ``UPDATE_TOOLSNAPS=1 uv run pytest tests/test_tool_contract.py`` rewrites the snapshots;
- a missing snapshot is written and the test passes, except under ``CI=true``, where it fails;
- a snapshot whose tool no longer exists fails (see :func:`stale_snapshots`); the update removes it.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from mcp.types import Tool

__all__ = [
    "SNAPSHOT_ROOT",
    "assert_matches_snapshot",
    "snapshot_form",
    "snapshot_path",
    "stale_snapshots",
    "update_requested",
]

SNAPSHOT_ROOT = Path(__file__).resolve().parent / "servers"
_UPDATE_HINT = "UPDATE_TOOLSNAPS=1 uv run pytest tests/test_tool_contract.py"


def snapshot_form(tool: Tool) -> dict[str, Any]:
    """The tool definition exactly as it goes on the wire (camelCase, no null fields)."""
    return tool.model_dump(mode="json", by_alias=True, exclude_none=True)


def snapshot_path(server: str, tool: str, root: Path = SNAPSHOT_ROOT) -> Path:
    return root / server / "__toolsnaps__" / f"{tool}.json"


def _render(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def update_requested() -> bool:
    """Whether ``UPDATE_TOOLSNAPS`` asks for the snapshots to be rewritten (stale ones removed)."""
    return _flag("UPDATE_TOOLSNAPS")


def assert_matches_snapshot(path: Path, definition: dict[str, Any]) -> None:
    """Fail with a diff when ``definition`` differs from the snapshot at ``path`` (see the module docstring)."""
    rendered = _render(definition)
    if update_requested():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
        return
    if not path.exists():
        if _flag("CI"):
            pytest.fail(f"tool snapshot {path} is missing; create it with {_UPDATE_HINT} and commit it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
        return
    stored = path.read_text(encoding="utf-8")
    if stored != rendered:
        diff = "".join(
            difflib.unified_diff(
                stored.splitlines(keepends=True), rendered.splitlines(keepends=True), "snapshot", "tools/list"
            )
        )
        pytest.fail(
            f"the definition of the tool in {path.name} changed (a model sees this):\n{diff}\n"
            f"if the change is intended, rewrite the snapshots with {_UPDATE_HINT}"
        )


def stale_snapshots(tools_by_server: Mapping[str, Iterable[str]], root: Path = SNAPSHOT_ROOT) -> list[Path]:
    """Snapshot files under ``root`` whose server or tool no longer exists."""
    stale: list[Path] = []
    for path in sorted(root.glob("*/__toolsnaps__/*")):
        server = path.parent.parent.name
        if path.suffix != ".json" or path.stem not in set(tools_by_server.get(server, ())):
            stale.append(path)
    return stale
