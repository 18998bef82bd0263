"""Pytest plugin: record the size of every tool answer the suite's tests receive (for bench/answer_bytes.py).

    AFU9_ANSWER_SIZES=/tmp/sizes.jsonl PYTHONPATH=bench uv run pytest tests/servers -p answer_sizes_plugin

Inert unless ``AFU9_ANSWER_SIZES`` names a file. Then, for this pytest run only, ``mcp.Client.call_tool`` is
wrapped: every call appends one JSON line to that file with the server (``client.server_info.name`` when the
client knows it), the tool, whether the answer is an error, and its size in bytes as it goes on the wire: the
``CallToolResult`` dumped with ``model_dump(mode="json", by_alias=True, exclude_none=True)`` and serialised
compactly (UTF-8, no spaces), in total and split into ``content`` (the text blocks) and ``structuredContent``.
A call that raises instead of answering (a protocol error) gets a line with ``raised`` and no sizes.

Only calls made through ``mcp.Client.call_tool`` are seen (not raw HTTP requests, not ``client.session``).
The wrapper is installed at ``pytest_configure`` and removed at ``pytest_unconfigure``.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

__all__ = ["VARIABLE", "answer_sizes", "pytest_configure", "pytest_unconfigure"]

VARIABLE = "AFU9_ANSWER_SIZES"
_ORIGINAL = "_afu9_original_call_tool"


def _size(value: object) -> int:
    """Bytes of ``value`` serialised compactly as JSON (UTF-8, as it goes on the wire)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def answer_sizes(result: CallToolResult) -> dict[str, int]:
    """Total, content and structuredContent bytes of ``result`` as the server serialises it."""
    dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {
        "text_bytes": _size(dumped.get("content", [])),
        "structured_bytes": _size(dumped["structuredContent"]) if "structuredContent" in dumped else 0,
        "total_bytes": _size(dumped),
    }


def _server_name(client: Client) -> str | None:
    try:
        info = client.server_info
    except Exception:  # noqa: BLE001 - not connected, or no stamp: the line says so
        return None
    return info.name if info is not None else None


def _install(path: Path) -> None:
    original = Client.call_tool
    if hasattr(Client, _ORIGINAL):
        return

    @functools.wraps(original)
    async def call_tool(self: Client, name: str, *args: Any, **kwargs: Any) -> CallToolResult:
        line: dict[str, Any] = {"server": _server_name(self), "tool": name}
        try:
            result = await original(self, name, *args, **kwargs)
        except BaseException as error:
            line |= {"is_error": True, "raised": type(error).__name__}
            _append(path, line)
            raise
        line |= {"is_error": bool(result.is_error), **answer_sizes(result)}
        _append(path, line)
        return result

    setattr(Client, _ORIGINAL, original)
    Client.call_tool = call_tool  # type: ignore[method-assign]


def _append(path: Path, line: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as sizes:
        sizes.write(json.dumps(line, separators=(",", ":")) + "\n")


def pytest_configure(config: pytest.Config) -> None:
    target = os.environ.get(VARIABLE)
    if target:  # read here: the suite's autouse fixture removes AFU9_* variables during each test
        _install(Path(target))


def pytest_unconfigure(config: pytest.Config) -> None:
    original = getattr(Client, _ORIGINAL, None)
    if original is not None:
        Client.call_tool = original  # type: ignore[method-assign]
        delattr(Client, _ORIGINAL)
