"""The fake's git: blobs, flat trees (path -> blob), commits and branch refs of one repository."""

from __future__ import annotations

import base64
from typing import Any

from tests.github_fake.state import FakeRepo, sha_of

__all__ = ["commit_files", "files_at", "head"]


def head(repo: FakeRepo, branch: str) -> str | None:
    return repo.refs.get(f"heads/{branch}")


def files_at(repo: FakeRepo, commit_sha: str) -> dict[str, str]:
    """Path -> blob sha of the tree of ``commit_sha``."""
    tree = repo.commits[commit_sha]["tree"]
    return {entry["path"]: entry["sha"] for entry in repo.trees[tree]}


def add_blob(repo: FakeRepo, content: bytes) -> str:
    sha = sha_of("blob", content)
    repo.blobs[sha] = content
    return sha


def add_tree(repo: FakeRepo, files: dict[str, str]) -> str:
    entries = [{"path": path, "mode": "100644", "type": "blob", "sha": sha} for path, sha in sorted(files.items())]
    sha = sha_of("tree", tuple((e["path"], e["sha"]) for e in entries))
    repo.trees[sha] = entries
    return sha


def add_commit(repo: FakeRepo, tree: str, message: str, parents: list[str], author: str = "octocat") -> str:
    sha = sha_of("commit", tree, message, tuple(parents), len(repo.commits))
    repo.commits[sha] = {"sha": sha, "tree": tree, "message": message, "parents": parents, "author": author}
    return sha


def commit_files(
    repo: FakeRepo, branch: str, changes: dict[str, str | None], message: str, parent: str | Any | None = ...
) -> str:
    """Commit ``changes`` (path -> text, or None to delete) on ``branch``; returns the new commit's sha."""
    base = head(repo, branch) if parent is ... else parent
    files = files_at(repo, base) if base else {}
    for path, text in changes.items():
        if text is None:
            files.pop(path, None)
        else:
            files[path] = add_blob(repo, text.encode())
    commit = add_commit(repo, add_tree(repo, files), message, [base] if base else [])
    repo.refs[f"heads/{branch}"] = commit
    return commit


def encoded(content: bytes) -> str:
    return base64.b64encode(content).decode()
