"""GitHub's answer shapes, built from the fake's state and checked against githubkit's models.

:func:`shaped` fills the ``*_url`` fields GitHub sends with every object (the server never reads them) and
validates the payload with the githubkit model of that name, so an answer the real client library would refuse
fails the test that caused it (it is recorded in ``FakeGitHub.invalid`` and answered 500).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from tests.github_fake.state import FakeGitHub, FakeRepo

__all__ = ["NOW", "InvalidAnswer", "iso", "repository", "shaped", "simple_user"]

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class InvalidAnswer(Exception):
    """The fake built an answer githubkit's models refuse: a bug in the fake."""


def iso(moment: datetime = NOW) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@functools.cache
def _model(name: str) -> Any:
    from githubkit_schemas.latest import models

    return getattr(models, name)


def shaped(model: str, payload: dict[str, Any], base: str = "http://github.test/x") -> dict[str, Any]:
    """``payload`` with GitHub's URL fields filled in, validated by githubkit's ``model`` (InvalidAnswer if not)."""
    cls = _model(model)
    for name, info in cls.model_fields.items():
        key = info.alias or name
        if key not in payload and (key == "url" or key.endswith("_url")) and info.is_required():
            payload[key] = f"{base}/{key}"
    try:
        cls.model_validate(payload)
    except Exception as error:
        raise InvalidAnswer(f"{model}: {error}") from error
    return payload


def simple_user(state: FakeGitHub, login: str) -> dict[str, Any]:
    user_id = state.user(login)
    return shaped(
        "SimpleUser",
        {
            "login": login,
            "id": user_id,
            "node_id": f"U_{user_id}",
            "avatar_url": f"https://avatars.example/{login}",
            "gravatar_id": "",
            "type": "User",
            "site_admin": False,
        },
        f"{state.base_url}/users/{login}",
    )


def repository(state: FakeGitHub, repo: FakeRepo) -> dict[str, Any]:
    return shaped(
        "FullRepository",
        {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": simple_user(state, repo.owner),
            "private": repo.private,
            "description": repo.description,
            "fork": False,
            "homepage": None,
            "language": "Python",
            "mirror_url": None,
            "forks_count": 0,
            "stargazers_count": 3,
            "watchers_count": 3,
            "size": 120,
            "default_branch": repo.default_branch,
            "open_issues_count": sum(1 for issue in repo.issues.values() if issue.get("state") == "open"),
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "pushed_at": iso(),
            "created_at": iso(datetime(2025, 1, 1, tzinfo=UTC)),
            "updated_at": iso(),
            "subscribers_count": 1,
            "network_count": 0,
            "license": None,
            "forks": 0,
            "open_issues": 0,
            "watchers": 3,
            "git_url": f"git://github.test/{repo.full_name}.git",
            "ssh_url": f"git@github.test:{repo.full_name}.git",
            "clone_url": f"https://github.test/{repo.full_name}.git",
            "svn_url": f"https://github.test/{repo.full_name}",
            "html_url": f"https://github.test/{repo.full_name}",
            "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
        },
        f"{state.base_url}/repos/{repo.full_name}",
    )
