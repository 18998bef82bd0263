"""Repositories on GitHub as the repos toolset answers them: compact projections, file reading in ranges, and
several files pushed in one commit.

Readers are lenient (a field GitHub omits, leaves null or adds never breaks an answer) and user-written text
(descriptions, commit messages, author names, file text, patches, release names) goes through an
:class:`Untrusted` collector, so an answer says ``sanitised: true`` when something hidden was removed.

:func:`push_files` writes through the Git Data API: one tree on the head's tree (new contents inline, deletions
as ``sha: null``), one commit, then the branch moved with ``force: false``. If the branch moved meanwhile GitHub
refuses the update ("not a fast forward") and the branch stays where the other writer put it: the tree and
commit made on the way are unreachable, nothing is half-written.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from servers.github.models import Untrusted, as_dict, as_list, flag, login, number, text
from servers.github.paths import repo_path, safe_path, valid_ref
from shared.errors import Conflict, InvalidRequest, NotFound

if TYPE_CHECKING:
    from servers.github.client import GitHubClient

__all__ = [
    "Branch",
    "BranchCreated",
    "BranchDeleted",
    "BranchList",
    "CodeHit",
    "CodeSearch",
    "CommitDetail",
    "CommitList",
    "CommitSummary",
    "Comparison",
    "Content",
    "FileChange",
    "FileContents",
    "FileStat",
    "FileWritten",
    "Pushed",
    "Release",
    "ReleaseList",
    "Repository",
    "RepositoryList",
    "RepositorySummary",
    "Tag",
    "TagList",
    "commit_summary_of",
    "file_change_of",
    "file_stat_of",
    "push_files",
    "read_content",
    "repository_of",
    "text_window",
]

SANITISED = "Hidden characters or HTML comments were removed."
REPLAYED = "True when an earlier call with this idempotency_key made it."
NEXT = "Cursor of the next page; null on the last."
MAX_FILES = 100  # files listed by get_commit and compare_refs
MAX_PUSH = 1000  # paths written or deleted by one push_files commit
PATCH_LIMIT = 3000  # characters of one file's patch
PATCHES_LIMIT = 20_000  # characters of all patches of one answer
BLOB_LIMIT = 100 * 1024 * 1024  # GitHub's own limit for a blob read through the API
READ_LIMIT = 25 * 1024 * 1024  # bytes of a file the tools read (in memory, windowed): a larger one is refused


# Models carry no docstrings on purpose: a docstring becomes a description in every output schema, and every
# byte of tools/list is read by a model. Field descriptions are short for the same reason.


class RepositorySummary(BaseModel):
    full_name: str = Field(description="owner/name.")
    description: str | None = Field(description="Description.")
    private: bool | None = Field(description="Private or internal.")
    default_branch: str | None = Field(description="Default branch.")
    archived: bool | None = Field(description="Read-only archive.")
    pushed_at: str | None = Field(description="Last push, ISO 8601.")


class Repository(RepositorySummary):
    visibility: str | None = Field(description="public, private or internal.")
    open_issues: int | None = Field(description="Open issues and pull requests.")
    html_url: str | None = Field(description="Web page.")
    permissions: list[str] = Field(description="What the credentials may do: admin, maintain, push, triage, pull.")
    sanitised: bool = Field(description=SANITISED)


class RepositoryList(BaseModel):
    items: list[RepositorySummary] = Field(description="This page.")
    next_cursor: str | None = Field(description=NEXT)
    sanitised: bool = Field(description=SANITISED)


class Branch(BaseModel):
    name: str = Field(description="Branch name.")
    sha: str | None = Field(description="Head commit.")
    protected: bool | None = Field(description="Has protection rules.")


class BranchList(BaseModel):
    items: list[Branch] = Field(description="This page.")
    next_cursor: str | None = Field(description=NEXT)


class BranchCreated(BaseModel):
    branch: str = Field(description="Branch name.")
    sha: str = Field(description="Its head commit.")
    created: bool = Field(description="False when it already pointed there.")
    replayed: bool = Field(description=REPLAYED)


class BranchDeleted(BaseModel):
    branch: str = Field(description="Branch name.")
    deleted: bool = Field(description="False when there was no such branch.")


class Entry(BaseModel):
    path: str = Field(description="Path.")
    type: str = Field(description="file, dir, symlink or submodule.")
    size: int = Field(description="Bytes.")


class FileContents(BaseModel):
    path: str = Field(description="Path.")
    type: str = Field(description="file, dir, symlink or submodule.")
    sha: str | None = Field(description="Blob sha: expected_sha for create_or_update_file.")
    size: int | None = Field(description="Bytes.")
    text: str | None = Field(description="The text from offset; null for a directory or binary file.")
    next_offset: int | None = Field(description="Offset of the rest when cut; null at the end.")
    binary: bool = Field(description="Binary file: not shown.")
    entries: list[Entry] | None = Field(description="Directory listing.")
    sanitised: bool = Field(description=SANITISED)


class FileWritten(BaseModel):
    path: str = Field(description="Path.")
    sha: str | None = Field(description="New blob sha.")
    commit_sha: str | None = Field(description="The commit made.")
    created: bool = Field(description="New file (not an update).")
    replayed: bool = Field(description=REPLAYED)


class Pushed(BaseModel):
    branch: str = Field(description="Branch name.")
    commit_sha: str = Field(description="The commit made, now the branch head.")
    parent_sha: str = Field(description="The head it was made on.")
    written: int = Field(description="Files written.")
    deleted: int = Field(description="Files deleted.")
    replayed: bool = Field(description=REPLAYED)


class CommitSummary(BaseModel):
    sha: str = Field(description="Commit sha.")
    message: str | None = Field(description="First line.")
    author: str | None = Field(description="Login, else git author name.")
    date: str | None = Field(description="Author date, ISO 8601.")


class CommitList(BaseModel):
    items: list[CommitSummary] = Field(description="This page, newest first.")
    next_cursor: str | None = Field(description=NEXT)
    sanitised: bool = Field(description=SANITISED)


class FileStat(BaseModel):
    path: str = Field(description="Path.")
    status: str = Field(description="added, removed, modified, renamed...")
    additions: int = Field(description="Lines added.")
    deletions: int = Field(description="Lines removed.")


class FileChange(FileStat):
    patch: str | None = Field(description="Diff, capped; only with include_patch.")


class CommitDetail(CommitSummary):
    parents: list[str] = Field(description="Parent shas.")
    additions: int | None = Field(description="Lines added.")
    deletions: int | None = Field(description="Lines removed.")
    files: list[FileChange] = Field(description=f"Changed files (first {MAX_FILES}).")
    more_files: bool = Field(description="More files changed than listed.")
    html_url: str | None = Field(description="Web page.")
    sanitised: bool = Field(description=SANITISED)


class Comparison(BaseModel):
    status: str = Field(description="ahead, behind, diverged or identical.")
    ahead_by: int = Field(description="Commits in head, not in base.")
    behind_by: int = Field(description="Commits in base, not in head.")
    commits: list[CommitSummary] = Field(description="head's new commits, oldest first (up to limit).")
    files: list[FileStat] = Field(description="Changed files (up to limit).")
    more_files: bool = Field(description="More files changed than listed.")
    html_url: str | None = Field(description="Web page.")
    sanitised: bool = Field(description=SANITISED)


class CodeHit(BaseModel):
    repository: str | None = Field(description="owner/name.")
    path: str = Field(description="File path.")
    html_url: str | None = Field(description="Web page.")
    fragments: list[str] = Field(description="Matching text.")


class CodeSearch(BaseModel):
    total: int = Field(description="Hits in all pages.")
    items: list[CodeHit] = Field(description="This page.")
    next_cursor: str | None = Field(description=NEXT)
    sanitised: bool = Field(description=SANITISED)


class Tag(BaseModel):
    name: str = Field(description="Tag name.")
    sha: str | None = Field(description="Commit tagged.")


class TagList(BaseModel):
    items: list[Tag] = Field(description="This page.")
    next_cursor: str | None = Field(description=NEXT)


class Release(BaseModel):
    tag: str | None = Field(description="Tag name.")
    name: str | None = Field(description="Title.")
    draft: bool | None = Field(description="Draft.")
    prerelease: bool | None = Field(description="Pre-release.")
    published_at: str | None = Field(description="ISO 8601.")
    html_url: str | None = Field(description="Web page.")


class ReleaseList(BaseModel):
    items: list[Release] = Field(description="This page, newest first.")
    next_cursor: str | None = Field(description=NEXT)
    sanitised: bool = Field(description=SANITISED)


# -- projections --------------------------------------------------------------------------------------------------

_PERMISSIONS = ("admin", "maintain", "push", "triage", "pull")


def summary_fields(data: Any, clean: Untrusted) -> dict[str, Any]:
    return {
        "full_name": text(data, "full_name") or "",
        "description": clean(text(data, "description")),
        "private": flag(data, "private"),
        "default_branch": text(data, "default_branch"),
        "archived": flag(data, "archived"),
        "pushed_at": text(data, "pushed_at"),
    }


def repository_of(data: Any) -> Repository:
    clean = Untrusted()
    granted = as_dict(as_dict(data).get("permissions"))
    return Repository(
        **summary_fields(data, clean),
        visibility=text(data, "visibility"),
        open_issues=number(data, "open_issues_count"),
        html_url=text(data, "html_url"),
        permissions=[name for name in _PERMISSIONS if granted.get(name) is True],
        sanitised=clean.removed,
    )


def commit_summary_of(data: Any, clean: Untrusted) -> CommitSummary:
    inner = as_dict(as_dict(data).get("commit"))
    author = as_dict(inner.get("author"))
    message = text(inner, "message")
    return CommitSummary(
        sha=text(data, "sha") or "",
        message=clean(message.split("\n", 1)[0] if message else None),
        author=login(data, "author") or clean(text(author, "name")),
        date=text(author, "date"),
    )


def file_change_of(data: Any, clean: Untrusted, budget: list[int] | None = None) -> FileChange:
    """One changed file; its patch only with a ``budget`` (characters left for patches, shared by the answer)."""
    patch: str | None = None
    raw = text(data, "patch")
    if budget is not None and raw is not None and budget[0] > 0:
        allowed = min(PATCH_LIMIT, budget[0])
        patch = clean(raw[:allowed])
        if len(raw) > allowed:
            patch = f"{patch}\n[... {len(raw) - allowed} more characters of this patch not shown]"
        budget[0] -= min(len(raw), allowed)
    return FileChange(**file_stat_of(data).model_dump(), patch=patch)


def file_stat_of(data: Any) -> FileStat:
    return FileStat(
        path=text(data, "filename") or "",
        status=text(data, "status") or "",
        additions=number(data, "additions") or 0,
        deletions=number(data, "deletions") or 0,
    )


# -- contents -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Content:
    """What is at a path: a file's bytes (``None`` for a directory), or a directory's entries."""

    path: str
    type: str
    sha: str | None
    size: int | None
    data: bytes | None
    entries: list[Entry] | None
    html_url: str | None


async def read_content(
    github: GitHubClient,
    owner: str,
    repo: str,
    path: str,
    ref: str | None,
    *,
    max_bytes: int | None = None,
    reader: str = "get_file_contents",
) -> Content:
    """The file or directory at ``path`` (``""``: the root) at ``ref``; files over 1 MB are read as blobs, and
    a file over ``max_bytes`` (default ``READ_LIMIT``) is refused from its size, before its blob is downloaded
    (``reader`` names what refuses it)."""
    limit = READ_LIMIT if max_bytes is None else max_bytes
    where = safe_path(path)
    answer = await github.request(
        "GET",
        repo_path(owner, repo, "contents", where) if where else repo_path(owner, repo, "contents"),
        params={"ref": ref},
    )
    data = answer.data
    if isinstance(data, list):
        entries = [
            Entry(path=text(item, "path") or "", type=text(item, "type") or "file", size=number(item, "size") or 0)
            for item in as_list(data)
        ]
        return Content(where, "dir", None, None, None, entries, None)
    kind = text(data, "type") or "file"
    sha = text(data, "sha")
    size = number(data, "size")
    raw: bytes | None = None
    if kind == "file":
        content = text(data, "content")
        if content and text(data, "encoding") == "base64":
            raw = _decoded(content)
        elif (size or 0) > BLOB_LIMIT:
            raise InvalidRequest(f"{where} is {size} bytes, more than GitHub serves through its API (100 MB).")
        elif (size or 0) > limit:
            raise InvalidRequest(
                f"{where} is {size} bytes, more than {reader} reads ({limit} bytes); its blob sha is {sha} "
                "(a clone or the raw URL gets it whole)."
            )
        elif sha and (size or 0) > 0:
            blob = await github.request("GET", repo_path(owner, repo, "git", "blobs", sha))
            raw = _decoded(text(blob.data, "content") or "")
        else:
            raw = b""
    elif kind == "symlink":
        raw = (text(data, "target") or "").encode()
    return Content(text(data, "path") or where, kind, sha, size, raw, None, text(data, "html_url"))


def _decoded(content: str) -> bytes:
    try:
        return base64.b64decode(content)
    except (binascii.Error, ValueError):
        return b""


def as_text(data: bytes | None) -> str | None:
    """``data`` as text, or None for a binary file (a NUL byte, or not UTF-8)."""
    if data is None or b"\x00" in data[:8000]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def text_window(whole: str, offset: int, length: int) -> tuple[str, int | None]:
    """``length`` characters of ``whole`` from ``offset``, cut after the last line break that fits (when there is
    one), and the offset of the rest (None at the end)."""
    if offset > len(whole):
        raise InvalidRequest(f"offset {offset} is past the end of the text ({len(whole)} characters).")
    end = offset + length
    if end >= len(whole):
        return whole[offset:], None
    newline = whole.rfind("\n", offset, end)
    if newline >= offset + length // 2:
        end = newline + 1
    return whole[offset:end], end


def file_contents_of(content: Content, offset: int, length: int) -> FileContents:
    clean = Untrusted()
    shown: str | None = None
    following: int | None = None
    whole = as_text(content.data)
    if whole is not None:
        window, following = text_window(whole, offset, length)
        shown = clean(window)
    return FileContents(
        path=content.path,
        type=content.type,
        sha=content.sha,
        size=content.size,
        text=shown,
        next_offset=following,
        binary=content.type == "file" and content.data is not None and whole is None,
        entries=content.entries,
        sanitised=clean.removed,
    )


# -- pushing several files in one commit ------------------------------------------------------------------------------


async def push_files(
    github: GitHubClient,
    owner: str,
    repo: str,
    branch: str,
    files: Sequence[tuple[str, str]],
    deletions: Sequence[str],
    message: str,
    expected_head_sha: str | None,
) -> Pushed:
    """One commit on ``branch`` writing ``files`` (path, text) and deleting ``deletions``; see the module doc."""
    valid_ref(branch)
    paths = [safe_path(path) for path, _ in files]
    removed = [safe_path(path, "deletion") for path in deletions]
    if not paths and not removed:
        raise InvalidRequest("Nothing to push: give at least one file or deletion.")
    every = paths + removed
    if len(every) > MAX_PUSH:
        raise InvalidRequest(
            f"{len(every)} paths are more than one push takes ({MAX_PUSH}); split them over several commits."
        )
    twice = sorted(path for path, times in Counter(every).items() if times > 1)
    if twice or "" in every:
        raise InvalidRequest(
            f"Each path may appear once and must name a file; check {', '.join(twice) or 'the paths'}."
        )
    ref = repo_path(owner, repo, "git", "refs", "heads", branch)
    try:
        found = await github.request("GET", repo_path(owner, repo, "git", "ref", "heads", branch))
    except NotFound:
        raise NotFound(
            f"Branch {branch} was not found in {owner}/{repo} (or the repository is not visible). "
            "Create it with create_branch, then push."
        ) from None
    head = text(as_dict(found.data).get("object"), "sha") or ""
    if expected_head_sha is not None and head.lower() != expected_head_sha.lower():
        raise Conflict(
            f"Branch {branch} moved: it is at {head}, not at expected_head_sha {expected_head_sha}. Nothing was "
            "written. Check what changed (compare_refs), then retry from the new head."
        )
    parent = await github.request("GET", repo_path(owner, repo, "git", "commits", head))
    base_tree = text(as_dict(as_dict(parent.data).get("tree")), "sha")
    entries: list[dict[str, Any]] = [
        {"path": path, "mode": "100644", "type": "blob", "content": content}
        for path, (_, content) in zip(paths, files, strict=True)
    ]
    entries += [{"path": path, "mode": "100644", "type": "blob", "sha": None} for path in removed]
    tree = await github.request(
        "POST", repo_path(owner, repo, "git", "trees"), json={"base_tree": base_tree, "tree": entries}
    )
    commit = await github.request(
        "POST",
        repo_path(owner, repo, "git", "commits"),
        json={"message": message, "tree": text(tree.data, "sha"), "parents": [head]},
    )
    commit_sha = text(commit.data, "sha") or ""
    try:
        await github.request("PATCH", ref, json={"sha": commit_sha, "force": False})
    except (InvalidRequest, Conflict) as error:
        if "fast forward" not in str(error).lower() and "fast-forward" not in str(error).lower():
            raise
        now = await _head_now(github, owner, repo, branch)
        raise Conflict(
            f"Branch {branch} moved while pushing (someone pushed to it{now}); nothing was written to it and it "
            "stays where they left it. Retry push_files: it builds on the new head."
        ) from None
    return Pushed(
        branch=branch, commit_sha=commit_sha, parent_sha=head, written=len(paths), deleted=len(removed), replayed=False
    )


async def _head_now(github: GitHubClient, owner: str, repo: str, branch: str) -> str:
    """`` (now at SHA)`` for a sentence, or nothing when the branch cannot be read."""
    try:
        found = await github.request("GET", repo_path(owner, repo, "git", "ref", "heads", branch))
    except Exception:  # noqa: BLE001 - only decoration of the sentence
        return ""
    sha = text(as_dict(found.data).get("object"), "sha")
    return f"; it is now at {sha}" if sha else ""
