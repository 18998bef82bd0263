"""Fixtures of the github server's tests: the fake GitHub, settings pointing at it, an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.github.server import SERVER
from servers.github.settings import GitHubSettings
from tests.github_fake.state import FakeGitHub
from tests.servers.github.world import API, TOKEN, fake_deps, seeded, settings_overrides

__all__ = ["API", "TOKEN", "fake_deps"]  # the tests import them from here


@pytest.fixture
def github_state() -> FakeGitHub:
    """The fake GitHub: user octocat with a token, and the repository octo/shop."""
    return seeded()


@pytest.fixture
def github_settings(tmp_path: Path) -> Callable[..., GitHubSettings]:
    def make(**overrides: Any) -> GitHubSettings:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "allow_writes": True,
            "toolsets": ["all"],
            **settings_overrides(),
        }
        return GitHubSettings(**(values | overrides))

    return make


@pytest.fixture
async def github(github_state: FakeGitHub, github_settings: Callable[..., GitHubSettings]) -> AsyncIterator[Client]:
    """An in-process MCP client of the github server (every toolset, writes allowed) on the fake GitHub."""
    settings = github_settings()
    async with Client(SERVER.build(settings, deps=fake_deps(settings, github_state))) as client:
        yield client
    assert github_state.invalid == [], "the fake answered with shapes githubkit's models refuse"
