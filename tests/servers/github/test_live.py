"""The github server against the real GitHub API: read-only calls, run only when AFU9_TEST_GITHUB_TOKEN is set.

    AFU9_TEST_GITHUB_TOKEN=ghp_... uv run pytest tests/servers/github/test_live.py

Off by default (CI and the development machines do not reach GitHub); the fake GitHub covers everything else.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client

from servers.github.server import SERVER
from servers.github.settings import GitHubSettings

# Read at import: the suite's autouse fixture removes every AFU9_* variable before each test runs.
LIVE_TOKEN = os.environ.get("AFU9_TEST_GITHUB_TOKEN")
LIVE_REPO = os.environ.get("AFU9_TEST_GITHUB_REPO", "octocat/Hello-World")

pytestmark = pytest.mark.skipif(not LIVE_TOKEN, reason="set AFU9_TEST_GITHUB_TOKEN to run against the real GitHub")


async def test_the_real_github_answers_who_am_i_a_repository_and_its_issues(tmp_path: Path) -> None:
    owner, repo = LIVE_REPO.split("/", 1)
    settings = GitHubSettings.model_validate({"data_dir": tmp_path, "token": LIVE_TOKEN, "toolsets": ["all"]})
    async with Client(SERVER.build(settings)) as client:
        me = await client.call_tool("get_me", {})
        repository = await client.call_tool("get_repository", {"owner": owner, "repo": repo})
        issues = await client.call_tool("list_issues", {"owner": owner, "repo": repo, "state": "all", "limit": 5})
    for result in (me, repository, issues):
        assert not result.is_error, result.content
    assert me.structured_content is not None
    assert me.structured_content["rate_limit"]
    assert repository.structured_content is not None
    assert repository.structured_content["full_name"].lower() == LIVE_REPO.lower()
