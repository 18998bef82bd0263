"""The github server as Claude Desktop runs it: a real `afu9 serve github` process over stdio, no credentials."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import TextContent

from tests.processes import AFU9, ROOT, json_lines


async def test_without_credentials_afu9_serve_github_lists_its_tools_and_each_says_what_to_set(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=AFU9[0], args=["serve", "github"], env={"AFU9_DATA_DIR": str(tmp_path)}, cwd=str(ROOT)
    )
    with (tmp_path / "stderr").open("w") as errlog:
        with anyio.fail_after(60):
            async with Client(stdio_client(params, errlog=errlog)) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                templates = await client.list_resource_templates()
                result = await client.call_tool("get_issue", {"owner": "octo", "repo": "shop", "number": 1})

    assert {"get_me", "list_issues", "get_pull_request_status", "push_files", "merge_pull_request"} <= tools
    assert "get_job_log" not in tools  # the actions toolset is opt-in
    assert len(tools) == 32
    assert len(templates.resource_templates) == 4  # a file at the default branch, a branch, a commit, a tag
    assert result.is_error
    text = " ".join(block.text for block in result.content if isinstance(block, TextContent))
    assert "GITHUB_TOKEN" in text
    assert "GITHUB_APP_ID" in text
    messages = [entry["msg"] for entry in json_lines((tmp_path / "stderr").read_text())]
    assert any(message.startswith("github is not configured: set GITHUB_TOKEN") for message in messages), messages
