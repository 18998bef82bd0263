"""What each server's ``tools/list`` costs a model: for its default toolsets and for all of them.

    uv run python bench/tools_list.py

Per server and selection: the tools; the bytes of what a host turns into the model's tool definitions
(name + description + input schema of every tool, compact JSON); the bytes of the whole answer (output schemas,
titles and annotations included, every page); and the bytes per tool (mean and the largest). Exact figures,
the same on any machine. Targets (the github issue): the default github surface at most **20 KB** of
definitions and **48 KB** of whole answer (the official GitHub MCP server's default set is about 56 KB);
deploy (every toolset) at most **12 KB** of definitions and **30 KB** whole (the AWS Labs ECS server: 22.5 KB for
7 tools); observability (every toolset) at most **24 KB** of whole answer (the AWS Labs CloudWatch server: 94.5 KB).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import REPO, write_result

TARGETS = {
    "github": {"definitions": 20 * 1024, "whole": 48 * 1024},
    "deploy": {"definitions": 12 * 1024, "whole": 30 * 1024},  # the AWS Labs ECS server: 22.5 KB for 7 tools
    "observability": {"whole": 24 * 1024},  # the AWS Labs CloudWatch server: 94.5 KB for 19 tools
}


def _bytes(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


async def measure(definition: Any, toolsets: list[str]) -> dict[str, Any]:
    """The tools/list answer of ``definition`` with ``toolsets`` (writes allowed, so write tools are listed)."""
    from mcp import Client

    with tempfile.TemporaryDirectory(prefix="afu9-bench-tools-list-") as folder:
        settings = definition.settings(data_dir=Path(folder), allow_writes=True, toolsets=toolsets)
        async with Client(definition.build(settings)) as client:
            tools: list[dict[str, Any]] = []
            whole = 0
            cursor: str | None = None
            for _ in range(1000):
                page = await client.list_tools(cursor=cursor)
                dumped = page.model_dump(mode="json", by_alias=True, exclude_none=True)
                whole += _bytes(dumped)
                tools += dumped["tools"]
                cursor = page.next_cursor
                if cursor is None:
                    break
    definitions = [
        _bytes({key: tool[key] for key in ("name", "description", "inputSchema") if key in tool}) for tool in tools
    ]
    per_tool = {tool["name"]: _bytes(tool) for tool in tools}
    largest = max(per_tool.items(), key=lambda item: item[1], default=("", 0))
    return {
        "tools": len(tools),
        "definitions_bytes": sum(definitions),
        "whole_bytes": whole,
        "mean_tool_bytes": round(whole / len(tools)) if tools else 0,
        "largest_tool": largest[0],
        "largest_tool_bytes": largest[1],
        "per_tool_bytes": per_tool,
    }


async def run() -> dict[str, dict[str, Any]]:
    from servers.registry import definitions

    results: dict[str, dict[str, Any]] = {}
    for definition in definitions():
        results[definition.name] = {
            "default": await measure(definition, []),
            "all": await measure(definition, ["all"]),
        }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    for key in list(os.environ):  # the servers are built from settings: none from the user's shell
        if key.startswith("AFU9_"):
            del os.environ[key]
    results = asyncio.run(run())
    print("| server | toolsets | tools | name+description+input schema | whole answer | per tool (mean) | largest |")
    print("|---|---|---|---|---|---|---|")
    verdicts: dict[str, str] = {}
    for server, selections in results.items():
        for selection, figures in selections.items():
            print(
                f"| {server} | {selection} | {figures['tools']} | {figures['definitions_bytes']:,} B "
                f"| {figures['whole_bytes']:,} B | {figures['mean_tool_bytes']:,} B "
                f"| `{figures['largest_tool']}` {figures['largest_tool_bytes']:,} B |"
            )
        for key, limit in TARGETS.get(server, {}).items():
            selection = "default" if server == "github" else "all"
            met = selections[selection][f"{key}_bytes"] <= limit
            verdicts[f"{server} {selection} {key} <= {limit // 1024} KB"] = "met" if met else "MISSED"
    for name, verdict in verdicts.items():
        print(f"target {name}: {verdict}")
    path = write_result("tools-list", {"servers": results, "targets": TARGETS, "verdicts": verdicts})
    print(f"result: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
