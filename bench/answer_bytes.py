"""Bytes per answer: how large each tool's answers are in the suite's own tests, and each server's tools/list.

    uv run python bench/answer_bytes.py [--tests tests/servers] [--timeout 900]

Runs ``uv run pytest <tests> -q -p no:cacheprovider -p answer_sizes_plugin`` (``PYTHONPATH`` with ``bench/``,
``AFU9_SKIP_NODE_TESTS=1``, ``AFU9_ANSWER_SIZES`` naming a temporary file): the plugin
(bench/answer_sizes_plugin.py) appends one line per ``mcp.Client.call_tool`` with the size of the answer as
it goes on the wire (the ``CallToolResult`` dumped ``mode="json", by_alias=True, exclude_none=True`` and
serialised compactly). Then prints, per server and tool: calls, the median and largest answer in bytes, split
into content (text blocks) and structuredContent, with error answers counted apart (and calls that raised
instead of answering). It also builds every server of ``servers.registry`` in-process (every toolset, writes
allowed, SQLite in a temporary folder) and measures its whole ``tools/list`` answer (all pages).

Not a timing benchmark: the figures are exact and the same on any machine (for the same tests). An answer
is read by a model on every call, so its bytes are a cost; watch the largest ones.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import BENCH, REPO, write_result

_PYTEST = ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider", "-p", "answer_sizes_plugin"]


def run_tests(tests: Sequence[str], sizes: Path, timeout: float) -> int:
    """Run the tests with the plugin recording into ``sizes``; pytest's exit code."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AFU9_")}
    paths = [str(BENCH), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env |= {"PYTHONPATH": os.pathsep.join(paths), "AFU9_ANSWER_SIZES": str(sizes), "AFU9_SKIP_NODE_TESTS": "1"}
    command = [*_PYTEST, *tests]
    print(f"running: {' '.join(command)}", flush=True)
    try:
        completed = subprocess.run(command, cwd=REPO, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        print(f"pytest did not finish within {timeout:.0f}s; figures are from the calls made until then")
        return -1
    return completed.returncode


def read_lines(sizes: Path) -> list[dict[str, Any]]:
    if not sizes.exists():
        return []
    return [json.loads(line) for line in sizes.read_text(encoding="utf-8").splitlines() if line.strip()]


def _stats(values: Sequence[int]) -> dict[str, float | int]:
    return {"median": statistics.median(values), "max": max(values)} if values else {}


def summarise(lines: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per server and tool: calls, answers and errors with their byte statistics, calls that raised."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        grouped[(line.get("server") or "?", line["tool"])].append(line)
    result: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for (server, tool), calls in sorted(grouped.items()):
        entry: dict[str, Any] = {"calls": len(calls), "raised": sum(1 for call in calls if "raised" in call)}
        for kind, chosen in (
            ("answers", [call for call in calls if "raised" not in call and not call["is_error"]]),
            ("errors", [call for call in calls if "raised" not in call and call["is_error"]]),
        ):
            entry[kind] = {
                "count": len(chosen),
                **{
                    part: _stats([call[f"{part}_bytes"] for call in chosen]) for part in ("total", "text", "structured")
                },
            }
        result[server][tool] = entry
    return dict(result)


def _cell(stats: dict[str, Any], key: str) -> str:
    return f"{stats[key]:,.0f}" if stats else "–"


def table(summary: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The summary as a Markdown table."""
    head = (
        "| server | tool | calls | answers | median B | max B | median text B | max text B "
        "| median structured B | max structured B | errors | median error B | max error B | raised |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for server, tools in summary.items():
        for tool, entry in tools.items():
            answers, errors = entry["answers"], entry["errors"]
            cells = [
                server,
                f"`{tool}`",
                str(entry["calls"]),
                str(answers["count"]),
                _cell(answers["total"], "median"),
                _cell(answers["total"], "max"),
                _cell(answers["text"], "median"),
                _cell(answers["text"], "max"),
                _cell(answers["structured"], "median"),
                _cell(answers["structured"], "max"),
                str(errors["count"]),
                _cell(errors["total"], "median"),
                _cell(errors["total"], "max"),
                str(entry["raised"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- tools/list -------------------------------------------------------------------------------------------


async def tools_list_sizes() -> dict[str, dict[str, Any]]:
    """Per server (by its MCP name): its whole tools/list answer (every page) in bytes, the tools, the largest."""
    from mcp import Client

    from servers.registry import definitions

    sizes: dict[str, dict[str, Any]] = {}
    for definition in definitions():
        with tempfile.TemporaryDirectory(prefix="afu9-bench-answer-bytes-") as folder:
            server = definition.build(definition.settings(data_dir=Path(folder), allow_writes=True, toolsets=["all"]))
            async with Client(server) as client:
                total = pages = 0
                tools: list[tuple[str, int]] = []
                cursor: str | None = None
                for _ in range(1000):
                    page = await client.list_tools(cursor=cursor)
                    dumped = page.model_dump(mode="json", by_alias=True, exclude_none=True)
                    total += len(json.dumps(dumped, separators=(",", ":"), ensure_ascii=False).encode())
                    pages += 1
                    tools += [
                        (tool["name"], len(json.dumps(tool, separators=(",", ":"), ensure_ascii=False).encode()))
                        for tool in dumped["tools"]
                    ]
                    cursor = page.next_cursor
                    if cursor is None:
                        break
        largest = max(tools, key=lambda item: item[1], default=("", 0))
        sizes[server.name] = {  # the name its answers carry (serverInfo), as in the table of calls
            "definition": definition.name,
            "bytes": total,
            "pages": pages,
            "tools": len(tools),
            "largest_tool": largest[0],
            "largest_tool_bytes": largest[1],
            "per_tool_bytes": dict(tools),
        }
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", default="tests/servers", help="comma-separated test paths (default tests/servers)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds the test run may take (default 900)")
    args = parser.parse_args(argv)
    tests = [path.strip() for path in args.tests.split(",") if path.strip()]
    with tempfile.TemporaryDirectory(prefix="afu9-bench-answer-bytes-") as folder:
        sizes = Path(folder) / "sizes.jsonl"
        exit_code = run_tests(tests, sizes, args.timeout)
        lines = read_lines(sizes)
    if not lines:
        print(f"no tool call was recorded (pytest exit code {exit_code}); is the plugin loaded?", file=sys.stderr)
        return 1
    summary = summarise(lines)
    print(f"\nbytes per tool answer in {', '.join(tests)} ({len(lines)} calls; B = bytes of compact JSON):\n")
    print(table(summary))
    for key in list(os.environ):  # the servers below are built from settings: none from the user's shell
        if key.startswith("AFU9_"):
            del os.environ[key]
    listings = asyncio.run(tools_list_sizes())
    print("\ntools/list, whole answer (every toolset, writes allowed):\n")
    print("| server | tools | pages | bytes | largest tool | its bytes |")
    print("|---|---|---|---|---|---|")
    for server, listing in listings.items():
        print(
            f"| {server} | {listing['tools']} | {listing['pages']} | {listing['bytes']:,} "
            f"| `{listing['largest_tool']}` | {listing['largest_tool_bytes']:,} |"
        )
    if exit_code != 0:
        print(f"\nWARNING: pytest exited with {exit_code}: the figures cover the calls of the tests that ran")
    path = write_result(
        "answer-bytes",
        {
            "settings": {"tests": tests},
            "pytest_exit_code": exit_code,
            "calls_recorded": len(lines),
            "tools": summary,
            "tools_list": listings,
        },
    )
    print(f"\nresult: {path.relative_to(REPO)}")
    return 0 if exit_code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
