"""Fixtures of the github server's tests: the fake GitHub, settings pointing at it, an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from servers.github.client import GitHubClient
from servers.github.deps import GitHubDeps
from servers.github.server import SERVER
from servers.github.settings import GitHubSettings
from shared.db import KIT_MIGRATIONS, Database
from tests.github_fake.app import build_app
from tests.github_fake.state import FakeGitHub

TOKEN = "ghp_" + "F4k3t0k3n" * 4
API = "http://github.test"


@pytest.fixture
def github_state() -> FakeGitHub:
    """The fake GitHub: user octocat with a token, and the repository octo/shop."""
    state = FakeGitHub(base_url=API)
    state.add_token(TOKEN, "octocat")
    state.repo("octo/shop", description="The shop")
    return state


@pytest.fixture
def github_settings(tmp_path: Path) -> Callable[..., GitHubSettings]:
    def make(**overrides: Any) -> GitHubSettings:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "allow_writes": True,
            "toolsets": ["all"],
            "token": TOKEN,
            "api_url": API,
            "retry_wait_seconds": 0.05,
        }
        return GitHubSettings(**(values | overrides))

    return make


def fake_deps(settings: GitHubSettings, state: FakeGitHub) -> GitHubDeps:
    """The github server's dependencies with its client talking to the fake GitHub."""
    database = Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS,))
    client = GitHubClient(settings, transport=httpx.ASGITransport(app=build_app(state)))
    return GitHubDeps(database=database, github=client)


@pytest.fixture
async def github(github_state: FakeGitHub, github_settings: Callable[..., GitHubSettings]) -> AsyncIterator[Client]:
    """An in-process MCP client of the github server (every toolset, writes allowed) on the fake GitHub."""
    settings = github_settings()
    async with Client(SERVER.build(settings, deps=fake_deps(settings, github_state))) as client:
        yield client
    assert github_state.invalid == [], "the fake answered with shapes githubkit's models refuse"
