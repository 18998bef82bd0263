"""The fake's git: blobs, flat trees (path -> blob), commits, branch and tag refs of one repository.

Trees are flat (every entry is a file with its full path); directories exist only as path prefixes. A commit is
``{sha, tree, message, parents, author, date}``; ``date`` grows with every commit, so newer commits sort first.
"""

from __future__ import annotations

import base64
import difflib
from datetime import timedelta
from typing import Any

from tests.github_fake.payloads import NOW, iso
from tests.github_fake.state import FakeRepo, sha_of

__all__ = [
    "add_blob",
    "add_commit",
    "add_tag",
    "add_tree",
    "ancestors",
    "commit_files",
    "diff",
    "encoded",
    "files_at",
    "head",
    "is_text",
    "resolve",
]


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
    date = iso(NOW + timedelta(minutes=len(repo.commits)))
    repo.commits[sha] = {
        "sha": sha,
        "tree": tree,
        "message": message,
        "parents": parents,
        "author": author,
        "date": date,
    }
    return sha


def commit_files(
    repo: FakeRepo,
    branch: str,
    changes: dict[str, str | bytes | None],
    message: str,
    parent: str | Any | None = ...,
) -> str:
    """Commit ``changes`` (path -> text or bytes, or None to delete) on ``branch``; returns the new commit's sha."""
    base = head(repo, branch) if parent is ... else parent
    files = files_at(repo, base) if base else {}
    for path, content in changes.items():
        if content is None:
            files.pop(path, None)
        else:
            files[path] = add_blob(repo, content if isinstance(content, bytes) else content.encode())
    commit = add_commit(repo, add_tree(repo, files), message, [base] if base else [])
    repo.refs[f"heads/{branch}"] = commit
    return commit


def add_tag(repo: FakeRepo, name: str, commit_sha: str | None = None) -> str:
    """A lightweight tag ``name`` at ``commit_sha`` (default: the default branch's head); returns the sha."""
    sha = commit_sha or head(repo, repo.default_branch)
    assert sha is not None
    repo.refs[f"tags/{name}"] = sha
    if name not in repo.tags:
        repo.tags.append(name)
    return sha


def resolve(repo: FakeRepo, ref: str) -> str | None:
    """The commit a branch, tag, ``heads/x``/``tags/x`` ref, full sha or unique sha prefix (7+) names."""
    for key in (f"heads/{ref}", f"tags/{ref}", ref.removeprefix("refs/")):
        if key in repo.refs:
            return repo.refs[key]
    if ref in repo.commits:
        return ref
    if len(ref) >= 7:
        found = [sha for sha in repo.commits if sha.startswith(ref)]
        if len(found) == 1:
            return found[0]
    return None


def ancestors(repo: FakeRepo, commit_sha: str) -> list[str]:
    """``commit_sha`` and every commit it descends from, newest first (by date)."""
    seen: dict[str, None] = {}
    todo = [commit_sha]
    while todo:
        sha = todo.pop()
        if sha in seen or sha not in repo.commits:
            continue
        seen[sha] = None
        todo.extend(repo.commits[sha]["parents"])
    return sorted(seen, key=lambda sha: repo.commits[sha]["date"], reverse=True)


def is_text(content: bytes) -> bool:
    if b"\x00" in content:
        return False
    try:
        content.decode()
    except UnicodeDecodeError:
        return False
    return True


def diff(repo: FakeRepo, before: dict[str, str], after: dict[str, str]) -> list[dict[str, Any]]:
    """The changed files between two trees (path -> blob sha): status, line counts and a unified patch."""
    changes: list[dict[str, Any]] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        old_bytes = repo.blobs.get(old, b"") if old else b""
        new_bytes = repo.blobs.get(new, b"") if new else b""
        change: dict[str, Any] = {"filename": path, "status": status, "sha": new or old}
        if is_text(old_bytes) and is_text(new_bytes):
            lines = list(
                difflib.unified_diff(old_bytes.decode().splitlines(), new_bytes.decode().splitlines(), lineterm="")
            )[2:]
            change["additions"] = sum(1 for line in lines if line.startswith("+"))
            change["deletions"] = sum(1 for line in lines if line.startswith("-"))
            change["patch"] = "\n".join(lines)
        else:
            change["additions"] = change["deletions"] = 0
        change["changes"] = change["additions"] + change["deletions"]
        changes.append(change)
    return changes


def encoded(content: bytes) -> str:
    return base64.b64encode(content).decode()
