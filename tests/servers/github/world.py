"""The github server's outside world in tests: the fake GitHub (seeded), settings pointing at it, and the
server's dependencies talking to it. The fixtures here and the suite-wide tests (contract, fuzz) use it, so
every github tool runs its own logic against GitHub's answers, not only its argument checks."""

from __future__ import annotations

from typing import Any

import httpx

from servers.github.client import GitHubClient
from servers.github.deps import MIGRATIONS, GitHubDeps
from servers.github.settings import GitHubSettings
from shared.db import KIT_MIGRATIONS, Database
from tests.github_fake.actions import add_job, add_run, add_workflow
from tests.github_fake.app import build_app
from tests.github_fake.git import add_tag, commit_files, head
from tests.github_fake.issues import add_comment, add_issue
from tests.github_fake.pulls import open_pull
from tests.github_fake.state import FakeGitHub

__all__ = ["API", "TOKEN", "deps", "fake_deps", "pinned_arguments", "populated", "seeded", "settings_overrides"]

TOKEN = "ghp_" + "F4k3t0k3n" * 4
API = "http://github.test"


def seeded() -> FakeGitHub:
    """The fake GitHub: user octocat with a token, and the repository octo/shop."""
    state = FakeGitHub(base_url=API)
    state.add_token(TOKEN, "octocat")
    state.repo("octo/shop", description="The shop")
    return state


def populated() -> FakeGitHub:
    """:func:`seeded`, with something to find in octo/shop: issues #1 and #2 and a comment, a branch with files,
    pull request #3 from another branch, a tag, and a failed workflow run with a job and its log."""
    state = seeded()
    shop = state.repos["octo/shop"]
    add_issue(state, shop, "Cart loses items", "Steps: add two, reload.", labels=["bug"])
    add_comment(state, shop, 1, "Seen on mobile too.")
    add_issue(state, shop, "Dark mode")
    main = head(shop, "main")
    commit_files(shop, "feature", {"README.md": "# Shop\n", "src/app.py": "print('hi')\n"}, "Start", parent=main)
    add_tag(shop, "v1.0")
    open_pull(state, shop, "cart", {"cart.py": "def cart():\n    return []\n"})
    ci = add_workflow(shop, ".github/workflows/ci.yml", "CI")
    run = add_run(shop, ci, conclusion="failure")
    add_job(shop, run, "tests", [("Set up job", "success"), ("Run tests", "failure")], log="boom\n##[error]exit 1\n")
    return state


def pinned_arguments() -> dict[str, list[Any]]:
    """Values that exist in :func:`populated`, which the fuzz test mostly passes for these arguments."""
    refs = ["main", "feature", "v1.0"]
    return {
        "owner": ["octo"],
        "repo": ["shop"],
        "number": [3, 1, 2],  # the pull request first: hypothesis draws the first value most
        "branch": ["main", "feature"],
        "ref": refs,
        "from_ref": refs,
        "base": refs,
        "head": refs,
        "sha": refs,
        "path": ["README.md", "src/app.py", "src", ""],
    }


def settings_overrides() -> dict[str, Any]:
    """Settings that point the server at the fake GitHub, with its token, and short retry waits."""
    return {"token": TOKEN, "api_url": API, "retry_wait_seconds": 0.05}


def fake_deps(settings: GitHubSettings, state: FakeGitHub) -> GitHubDeps:
    """The github server's dependencies with its client talking to the fake GitHub ``state``."""
    database = Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS, MIGRATIONS))
    client = GitHubClient(settings, transport=httpx.ASGITransport(app=build_app(state)))
    return GitHubDeps(database=database, github=client)


def deps(settings: GitHubSettings) -> GitHubDeps:
    """The dependencies on a freshly populated fake GitHub (the suite-wide tests' outside world)."""
    return fake_deps(settings, populated())
