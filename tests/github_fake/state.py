"""The fake GitHub's state: users and tokens, repositories with everything in them, faults, calls."""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeGitHub", "FakeRepo", "Fault"]

_ids = itertools.count(1000)


def next_id() -> int:
    return next(_ids)


def sha_of(*parts: object) -> str:
    """A deterministic 40-hex id for a git object made of ``parts``."""
    return hashlib.sha1(repr(parts).encode(), usedforsecurity=False).hexdigest()


@dataclass
class Fault:
    """An answer the fake gives instead of the real one, ``times`` times, to requests matching method and path."""

    method: str
    path: re.Pattern[str]
    status: int
    body: dict[str, Any] = field(default_factory=dict[str, Any])
    headers: dict[str, str] = field(default_factory=dict[str, str])
    times: int = 1
    delay: float = 0.0


@dataclass
class FakeRepo:
    """One repository and everything in it."""

    owner: str
    name: str
    id: int = field(default_factory=next_id)
    private: bool = False
    description: str | None = None
    default_branch: str = "main"
    issues: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict[int, list[dict[str, Any]]])
    next_number: int = 1
    labels: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    refs: dict[str, str] = field(default_factory=dict[str, str])  # "heads/main" -> commit sha
    blobs: dict[str, bytes] = field(default_factory=dict[str, bytes])
    trees: dict[str, list[dict[str, Any]]] = field(default_factory=dict[str, list[dict[str, Any]]])
    commits: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict[int, list[dict[str, Any]]])
    check_runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict[str, list[dict[str, Any]]])
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict[str, list[dict[str, Any]]])
    required_checks: dict[str, list[str]] = field(default_factory=dict[str, list[str]])  # branch -> contexts
    workflows: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    runs: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    logs: dict[int, str] = field(default_factory=dict[int, str])
    tags: list[str] = field(default_factory=list[str])
    releases: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    extra: dict[str, Any] = field(default_factory=dict[str, Any])  # anything an area needs beyond the above

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def take_number(self) -> int:
        """The next issue or pull request number (they share one sequence, as on GitHub)."""
        number = self.next_number
        self.next_number += 1
        return number


@dataclass
class FakeGitHub:
    """Everything the fake knows. Tests set it up directly and read it back."""

    base_url: str = "http://github.test"
    tokens: dict[str, str] = field(default_factory=dict[str, str])  # token -> login
    scopes: dict[str, str] = field(default_factory=dict[str, str])  # token -> "repo, workflow"
    users: dict[str, int] = field(default_factory=dict[str, int])  # login -> id
    repos: dict[str, FakeRepo] = field(default_factory=dict[str, FakeRepo])
    faults: list[Fault] = field(default_factory=list[Fault])
    calls: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    invalid: list[str] = field(default_factory=list[str])  # answers githubkit's models refused
    app_id: str | None = None  # a GitHub App whose installations may get tokens
    rate_limit: int = 5000
    rate_used: int = 0
    rate_reset: int = 4_102_444_800  # far in the future
    hooks: dict[str, list[dict[str, Any]]] = field(default_factory=dict[str, list[dict[str, Any]]])  # scope -> hooks
    redeliveries: list[tuple[str, int]] = field(default_factory=list[tuple[str, int]])  # (scope, delivery id)

    def user(self, login: str) -> int:
        """The id of user ``login`` (created on first mention)."""
        if login not in self.users:
            self.users[login] = next_id()
        return self.users[login]

    def add_token(self, token: str, login: str, scopes: str = "repo, workflow") -> None:
        self.user(login)
        self.tokens[token] = login
        self.scopes[token] = scopes

    def repo(self, full_name: str, **fields: Any) -> FakeRepo:
        """The repository ``owner/name`` (created with an initial commit on its default branch if new)."""
        if full_name not in self.repos:
            owner, name = full_name.split("/", 1)
            self.user(owner)
            repo = FakeRepo(owner=owner, name=name, **fields)
            self.repos[full_name] = repo
            from tests.github_fake.git import commit_files

            commit_files(repo, repo.default_branch, {"README.md": f"# {name}\n"}, "Initial commit", parent=None)
        return self.repos[full_name]

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> Fault:
        """Answer the next ``times`` requests ``method`` ``path`` (a regex on the path) with ``status``."""
        fault = Fault(method.upper(), re.compile(path), status, body or {}, headers or {}, times, delay)
        self.faults.append(fault)
        return fault
