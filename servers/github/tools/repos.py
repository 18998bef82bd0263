"""Toolset ``repos``: repositories, branches, files, commits, comparisons, code search, tags and releases; and
repository files as resources (at the default branch, a branch, a commit or a tag)."""

from __future__ import annotations

import base64
import functools
import mimetypes
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from servers.github.arguments import Cursor, Key, Limit, Owner, Repo
from servers.github.deps import GitHubDeps
from servers.github.models import Untrusted, as_dict, as_list, next_cursor, number, page_of, text
from servers.github.paths import repo_path, safe_path, valid_ref
from servers.github.repos import (
    MAX_FILES,
    PATCHES_LIMIT,
    Branch,
    BranchCreated,
    BranchDeleted,
    BranchList,
    CodeHit,
    CodeSearch,
    CommitDetail,
    CommitList,
    Comparison,
    FileContents,
    FileWritten,
    Pushed,
    Release,
    ReleaseList,
    Repository,
    RepositoryList,
    RepositorySummary,
    Tag,
    TagList,
    as_text,
    commit_summary_of,
    file_change_of,
    file_contents_of,
    file_stat_of,
    read_content,
    repository_of,
    summary_fields,
)
from servers.github.repos import push_files as push
from shared.errors import CallError, Conflict, InvalidRequest, NotFound
from shared.toolset import Blob, Toolset

__all__ = ["repos"]

repos = Toolset(
    "repos",
    "GitHub repositories: branches, files, commits, comparisons, code search, tags and releases.",
    start_with="get_repository",
)

# Names, refs and paths are checked in code (repo_path, valid_ref, safe_path): patterns and lengths in the schema
# would cost every tools/list bytes and tell a model nothing it does not know.
BranchName = Annotated[str, Field(description="Branch name.")]
Ref = Annotated[str | None, Field(description="Branch, tag or sha; default: default branch.")]
Message = Annotated[str, Field(min_length=1, description="Commit message.")]
FilePath = Annotated[str, Field(description="File path.")]
Sha = Annotated[str | None, Field(description="Sha of the blob replaced (to update).")]

RESOURCE_LIMIT = 1_000_000  # characters of a text, bytes of a binary file, a resource serves
_COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}


def _page(cursor: str | None, limit: int) -> dict[str, int]:
    return {"per_page": limit, "page": page_of(cursor)}


async def _sha_of(deps: GitHubDeps, owner: str, repo: str, ref: str) -> str:
    """The commit a branch, tag or sha names (one light request: the commit with at most one file)."""
    path = repo_path(owner, repo, "commits", valid_ref(ref, "from_ref"))
    try:
        found = await deps.github.request("GET", path, params={"per_page": 1})
    except (NotFound, InvalidRequest):
        raise NotFound(
            f"{ref} names no branch, tag or commit in {owner}/{repo}; list_branches shows branches."
        ) from None
    sha = text(found.data, "sha")
    if not sha:
        raise NotFound(f"{ref} names no commit in {owner}/{repo}.")
    return sha


# -- repositories -------------------------------------------------------------------------------------------------


@repos.read(title="Get a repository", open_world=True)
async def get_repository(deps: GitHubDeps, owner: Owner, repo: Repo) -> Repository:
    """A repository: description, visibility, default branch, open issues, last push, your permissions."""
    found = await deps.github.request("GET", repo_path(owner, repo))
    return repository_of(found.data)


@repos.read(title="List repositories", open_world=True)
async def list_repositories(
    deps: GitHubDeps,
    owner: Annotated[
        str | None,
        Field(description="Organisation or user; default: the credentials' own."),
    ] = None,
    limit: Limit = 30,
    cursor: Cursor = None,
) -> RepositoryList:
    """List repositories, last pushed first: an owner's, or without owner those the credentials reach."""
    params: dict[str, Any] = {**_page(cursor, limit), "sort": "pushed"}
    if owner is None:
        found = await _reachable(deps, params)
        items, more = found
    else:
        try:
            answer = await deps.github.request("GET", f"orgs/{owner}/repos", params=params)
        except NotFound:
            answer = await deps.github.request("GET", f"users/{owner}/repos", params=params)
        items, more = as_list(answer.data), answer.has_next_page
    clean = Untrusted()
    return RepositoryList(
        items=[RepositorySummary(**summary_fields(item, clean)) for item in items],
        next_cursor=next_cursor(more, page_of(cursor)),
        sanitised=clean.removed,
    )


async def _reachable(deps: GitHubDeps, params: Mapping[str, Any]) -> tuple[list[Any], bool]:
    """The repositories the credentials reach: a user's (GET /user/repos) or an app installation's."""
    if deps.github.kind == "app":
        answer = await deps.github.request("GET", "installation/repositories", params=params)
        return as_list(as_dict(answer.data).get("repositories")), answer.has_next_page
    answer = await deps.github.request("GET", "user/repos", params=params)
    return as_list(answer.data), answer.has_next_page


# -- branches -----------------------------------------------------------------------------------------------------


@repos.read(title="List branches", open_world=True)
async def list_branches(
    deps: GitHubDeps, owner: Owner, repo: Repo, limit: Limit = 30, cursor: Cursor = None
) -> BranchList:
    """List branches with their head sha and whether each is protected. Then create_branch."""
    found = await deps.github.request("GET", repo_path(owner, repo, "branches"), params=_page(cursor, limit))
    items = [
        Branch(
            name=text(item, "name") or "",
            sha=text(as_dict(item).get("commit"), "sha"),
            protected=as_dict(item).get("protected") is True,
        )
        for item in as_list(found.data)
    ]
    return BranchList(items=items, next_cursor=next_cursor(found.has_next_page, page_of(cursor)))


@repos.write(title="Create a branch", destructive=False, idempotent=True, open_world=True)
async def create_branch(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    branch: BranchName,
    from_ref: Ref = None,
    idempotency_key: Key = None,
) -> BranchCreated:
    """Create a branch at from_ref (one already there at that commit counts as done). Then push_files."""
    valid_ref(branch)

    async def create() -> BranchCreated:
        start = from_ref or text((await deps.github.request("GET", repo_path(owner, repo))).data, "default_branch")
        sha = await _sha_of(deps, owner, repo, start or "HEAD")
        try:
            await deps.github.request(
                "POST", repo_path(owner, repo, "git", "refs"), json={"ref": f"refs/heads/{branch}", "sha": sha}
            )
        except InvalidRequest as error:
            if "already exists" not in str(error):
                raise
            found = await deps.github.request("GET", repo_path(owner, repo, "git", "ref", "heads", branch))
            there = text(as_dict(found.data).get("object"), "sha")
            if there != sha:
                raise Conflict(
                    f"Branch {branch} already exists in {owner}/{repo} at {there}, not at {sha} ({start}). "
                    "Choose another name, or use the existing branch."
                ) from None
            return BranchCreated(branch=branch, sha=sha, created=False, replayed=False)
        return BranchCreated(branch=branch, sha=sha, created=True, replayed=False)

    request = {"owner": owner, "repo": repo, "branch": branch, "from_ref": from_ref}
    return await deps.idempotency.once(
        tool="create_branch", key=idempotency_key, request=request, result_type=BranchCreated, action=create
    )


@repos.write(title="Delete a branch", destructive=True, idempotent=True, open_world=True)
async def delete_branch(deps: GitHubDeps, owner: Owner, repo: Repo, branch: BranchName) -> BranchDeleted:
    """Delete a branch (never the default one); a missing one answers deleted: false."""
    valid_ref(branch)
    default = text((await deps.github.request("GET", repo_path(owner, repo))).data, "default_branch")
    if branch == default:
        raise InvalidRequest(
            f"{branch} is the default branch of {owner}/{repo}; it is not deleted. Make another branch the "
            "default in the repository settings first if you really mean to delete it."
        )
    try:
        await deps.github.request("DELETE", repo_path(owner, repo, "git", "refs", "heads", branch))
    except InvalidRequest as error:  # GitHub answers 422 "Reference does not exist" (NotFound is one too)
        if not isinstance(error, NotFound) and "does not exist" not in str(error):
            raise
        return BranchDeleted(branch=branch, deleted=False)
    return BranchDeleted(branch=branch, deleted=True)


# -- files --------------------------------------------------------------------------------------------------------


@repos.read(title="Get file contents", open_world=True)
async def get_file_contents(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    path: Annotated[str | None, Field(description="File or directory; default: the root.")] = None,
    ref: Ref = None,
    offset: Annotated[int, Field(ge=0, description="First character to show.")] = 0,
    length: Annotated[int, Field(ge=1, le=100_000, description="Characters to show.")] = 20_000,
) -> FileContents:
    """A file's text and blob sha, or a directory's entries. Long text is cut: read on from next_offset."""
    content = await read_content(deps.github, owner, repo, path or "", ref)
    return file_contents_of(content, offset, length)


@repos.write(title="Create or update a file", destructive=False, idempotent=False, open_world=True)
async def create_or_update_file(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    path: FilePath,
    content: Annotated[str, Field(description="The whole new text.")],
    message: Message,
    branch: Annotated[str | None, Field(description="Default: default branch.")] = None,
    expected_sha: Sha = None,
    idempotency_key: Key = None,
) -> FileWritten:
    """Write one file in its own commit; to update, pass expected_sha from get_file_contents (a file changed
    since is not overwritten)."""
    where = safe_path(path)
    if not where:
        raise InvalidRequest("path names no file; give the file's path in the repository.")
    if branch is not None:
        valid_ref(branch)

    async def write() -> FileWritten:
        body: dict[str, Any] = {"message": message, "content": base64.b64encode(content.encode()).decode()}
        if branch is not None:
            body["branch"] = branch
        if expected_sha is not None:
            body["sha"] = expected_sha.lower()
        on = branch or "the default branch"
        try:
            answer = await deps.github.request("PUT", repo_path(owner, repo, "contents", where), json=body)
        except Conflict:
            raise Conflict(
                f"{where} on {on} is no longer at expected_sha {expected_sha} (it changed, or does not exist). "
                "Nothing was written: read it again with get_file_contents and apply your change to that."
            ) from None
        except InvalidRequest:
            # GitHub's 422 says '"sha" wasn't supplied' on a line the translated error leaves out: ask.
            if expected_sha is not None or not await _exists(deps, owner, repo, where, branch):
                raise
            raise Conflict(
                f"{where} already exists on {on}. Nothing was written: to replace it, pass its blob sha as "
                "expected_sha (get_file_contents shows it)."
            ) from None
        data = as_dict(answer.data)
        return FileWritten(
            path=where,
            sha=text(data.get("content"), "sha"),
            commit_sha=text(data.get("commit"), "sha"),
            created=answer.status == 201,
            replayed=False,
        )

    request = {
        "owner": owner,
        "repo": repo,
        "path": where,
        "content": content,
        "message": message,
        "branch": branch,
        "expected_sha": expected_sha,
    }
    return await deps.idempotency.once(
        tool="create_or_update_file", key=idempotency_key, request=request, result_type=FileWritten, action=write
    )


async def _exists(deps: GitHubDeps, owner: str, repo: str, path: str, ref: str | None) -> bool:
    try:
        await deps.github.request("GET", repo_path(owner, repo, "contents", path), params={"ref": ref})
    except NotFound:
        return False
    return True


class FileToPush(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: FilePath
    content: str = Field(description="The whole new text.")


@repos.write(title="Push files in one commit", destructive=False, idempotent=False, open_world=True)
async def push_files(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    branch: BranchName,
    message: Message,
    files: Annotated[list[FileToPush] | None, Field(description="Files to write.")] = None,
    deletions: Annotated[list[str] | None, Field(description="Paths to delete.")] = None,
    expected_head_sha: Annotated[str | None, Field(description="Branch head you expect.")] = None,
    idempotency_key: Key = None,
) -> Pushed:
    """Write and delete files in one commit on an existing branch; if the branch moved, nothing is written."""

    files, deletions = files or [], deletions or []

    async def write() -> Pushed:
        changes = [(file.path, file.content) for file in files]
        return await push(deps.github, owner, repo, branch, changes, deletions, message, expected_head_sha)

    request = {
        "owner": owner,
        "repo": repo,
        "branch": branch,
        "message": message,
        "files": [file.model_dump() for file in files],
        "deletions": deletions,
        "expected_head_sha": expected_head_sha,
    }
    return await deps.idempotency.once(
        tool="push_files", key=idempotency_key, request=request, result_type=Pushed, action=write
    )


# -- commits ------------------------------------------------------------------------------------------------------


@repos.read(title="List commits", open_world=True)
async def list_commits(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    ref: Ref = None,
    path: Annotated[str | None, Field(description="Only commits touching it.")] = None,
    since: Annotated[datetime | None, Field(description="Not before.")] = None,
    until: Annotated[datetime | None, Field(description="Not after.")] = None,
    limit: Limit = 30,
    cursor: Cursor = None,
) -> CommitList:
    """List commits from ref, newest first: sha, first line of the message, author, date. Then get_commit."""
    params: dict[str, Any] = {
        **_page(cursor, limit),
        "sha": ref,
        "path": safe_path(path) or None if path else None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    found = await deps.github.request("GET", repo_path(owner, repo, "commits"), params=params)
    clean = Untrusted()
    return CommitList(
        items=[commit_summary_of(item, clean) for item in as_list(found.data)],
        next_cursor=next_cursor(found.has_next_page, page_of(cursor)),
        sanitised=clean.removed,
    )


@repos.read(title="Get a commit", open_world=True)
async def get_commit(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    sha: Annotated[str, Field(description="Commit sha, branch or tag.")],
    include_patch: Annotated[bool, Field(description="Add diffs (capped).")] = False,
) -> CommitDetail:
    """One commit: message, author, parents, line counts and changed files, with diffs if include_patch."""
    path = repo_path(owner, repo, "commits", valid_ref(sha, "sha"))
    found = await deps.github.request("GET", path, params={"per_page": MAX_FILES})
    data = as_dict(found.data)
    clean = Untrusted()
    summary = commit_summary_of(data, clean).model_dump()
    summary["message"] = clean(text(as_dict(data.get("commit")), "message"))
    budget = [PATCHES_LIMIT] if include_patch else None
    files = as_list(data.get("files"))
    stats = data.get("stats")
    return CommitDetail(
        **summary,
        parents=[parent_sha for parent in as_list(data.get("parents")) if (parent_sha := text(parent, "sha"))],
        additions=number(stats, "additions"),
        deletions=number(stats, "deletions"),
        files=[file_change_of(item, clean, budget) for item in files[:MAX_FILES]],
        more_files=found.has_next_page or len(files) > MAX_FILES,
        html_url=text(data, "html_url"),
        sanitised=clean.removed,
    )


@repos.read(title="Compare two refs", open_world=True)
async def compare_refs(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    base: Annotated[str, Field(description="Base branch, tag or sha.")],
    head: Annotated[str, Field(description="Head branch, tag or sha.")],
    limit: Annotated[int, Field(ge=1, le=100, description="Commits and files to list.")] = 30,
) -> Comparison:
    """How head differs from base: ahead/behind counts, head's new commits and the changed files."""
    found = await deps.github.request(
        "GET",
        repo_path(owner, repo, "compare", f"{valid_ref(base, 'base')}...{valid_ref(head, 'head')}"),
        params={"per_page": limit},
    )
    data = as_dict(found.data)
    clean = Untrusted()
    files = as_list(data.get("files"))
    return Comparison(
        status=text(data, "status") or "",
        ahead_by=number(data, "ahead_by") or 0,
        behind_by=number(data, "behind_by") or 0,
        commits=[commit_summary_of(item, clean) for item in as_list(data.get("commits"))[:limit]],
        files=[file_stat_of(item) for item in files[:limit]],
        more_files=len(files) > limit,
        html_url=text(data, "html_url"),
        sanitised=clean.removed,
    )


# -- search, tags, releases -----------------------------------------------------------------------------------------


@repos.read(title="Search code", open_world=True)
async def search_code(
    deps: GitHubDeps,
    query: Annotated[str, Field(min_length=1, max_length=256, description="e.g. 'parse repo:o/r language:go'.")],
    limit: Limit = 30,
    cursor: Cursor = None,
) -> CodeSearch:
    """Search code on default branches (GitHub search syntax): paths and matching fragments."""
    found = await deps.github.request(
        "GET",
        "search/code",
        params={"q": query, **_page(cursor, limit)},
        accept="application/vnd.github.text-match+json",
    )
    data = as_dict(found.data)
    clean = Untrusted()
    items = [
        CodeHit(
            repository=text(as_dict(item).get("repository"), "full_name"),
            path=text(item, "path") or "",
            html_url=text(item, "html_url"),
            fragments=[
                fragment
                for match in as_list(as_dict(item).get("text_matches"))
                if (fragment := clean(text(match, "fragment")))
            ],
        )
        for item in as_list(data.get("items"))
    ]
    return CodeSearch(
        total=number(data, "total_count") or len(items),
        items=items,
        next_cursor=next_cursor(found.has_next_page, page_of(cursor)),
        sanitised=clean.removed,
    )


@repos.read(title="List tags", open_world=True)
async def list_tags(deps: GitHubDeps, owner: Owner, repo: Repo, limit: Limit = 30, cursor: Cursor = None) -> TagList:
    """List tags, newest first, with the commit sha each points at."""
    found = await deps.github.request("GET", repo_path(owner, repo, "tags"), params=_page(cursor, limit))
    items = [
        Tag(name=text(item, "name") or "", sha=text(as_dict(item).get("commit"), "sha")) for item in as_list(found.data)
    ]
    return TagList(items=items, next_cursor=next_cursor(found.has_next_page, page_of(cursor)))


@repos.read(title="List releases", open_world=True)
async def list_releases(
    deps: GitHubDeps, owner: Owner, repo: Repo, limit: Limit = 30, cursor: Cursor = None
) -> ReleaseList:
    """List releases, newest first: tag, title, draft or pre-release, date."""
    found = await deps.github.request("GET", repo_path(owner, repo, "releases"), params=_page(cursor, limit))
    clean = Untrusted()
    items = [
        Release(
            tag=text(item, "tag_name"),
            name=clean(text(item, "name")),
            draft=as_dict(item).get("draft") is True,
            prerelease=as_dict(item).get("prerelease") is True,
            published_at=text(item, "published_at"),
            html_url=text(item, "html_url"),
        )
        for item in as_list(found.data)
    ]
    return ReleaseList(
        items=items, next_cursor=next_cursor(found.has_next_page, page_of(cursor)), sanitised=clean.removed
    )


# -- resources: repository files ----------------------------------------------------------------------------------


async def _reachable_repos(deps: GitHubDeps) -> list[Any]:
    """The credentials' repositories, last pushed first (one page of 100), for completions; none on failure."""
    try:
        items, _ = await _reachable(deps, {"per_page": 100, "sort": "pushed"})
    except CallError:
        return []
    return items


def _matching(values: Sequence[str | None], prefix: str) -> list[str]:
    return list(dict.fromkeys(value for value in values if value and value.lower().startswith(prefix.lower())))


async def complete_owner(deps: GitHubDeps, prefix: str, _resolved: Mapping[str, str]) -> list[str]:
    """Owners of the credentials' repositories."""
    items = await _reachable_repos(deps)
    return _matching([text(as_dict(item).get("owner"), "login") for item in items], prefix)


async def complete_repo(deps: GitHubDeps, prefix: str, resolved: Mapping[str, str]) -> list[str]:
    """Names of the credentials' repositories (of the owner already chosen, if any)."""
    items = await _reachable_repos(deps)
    owner = resolved.get("owner", "").lower()
    if owner:
        items = [item for item in items if (text(as_dict(item).get("owner"), "login") or "").lower() == owner]
    return _matching([text(item, "name") for item in items], prefix)


async def complete_branch(deps: GitHubDeps, prefix: str, resolved: Mapping[str, str]) -> list[str]:
    """The branches of the repository already chosen (owner and repo); before that, the default branches of the
    credentials' repositories."""
    if resolved.get("owner") and resolved.get("repo"):
        return _matching(await _names(deps, resolved["owner"], resolved["repo"], "branches"), prefix)
    return _matching([text(item, "default_branch") for item in await _reachable_repos(deps)], prefix)


async def complete_tag(deps: GitHubDeps, prefix: str, resolved: Mapping[str, str]) -> list[str]:
    """The tags of the repository already chosen (owner and repo); none before that."""
    if resolved.get("owner") and resolved.get("repo"):
        return _matching(await _names(deps, resolved["owner"], resolved["repo"], "tags"), prefix)
    return []


async def _names(deps: GitHubDeps, owner: str, repo: str, kind: str) -> list[str | None]:
    try:
        found = await deps.github.request("GET", repo_path(owner, repo, kind), params={"per_page": 100})
    except CallError:
        return []
    return [text(item, "name") for item in as_list(found.data)]


async def _file(deps: GitHubDeps, owner: str, repo: str, path: str, ref: str | None) -> str | Blob:
    """A file for a resource: its text (hidden characters and HTML comments removed), a binary file's bytes (a
    NUL byte or not UTF-8, as GitHub tells them) with the mime type of its extension, or a directory's listing."""
    # A text of RESOURCE_LIMIT characters is at most 4 bytes each: a larger file is refused before it is read.
    content = await read_content(deps.github, owner, repo, path, ref, max_bytes=4 * RESOURCE_LIMIT, reader="a resource")
    if content.entries is not None:
        return "\n".join(f"{entry.path}/" if entry.type == "dir" else entry.path for entry in content.entries)
    whole = as_text(content.data)
    if whole is None:
        data = content.data or b""
        if len(data) > RESOURCE_LIMIT:
            raise InvalidRequest(
                f"{content.path} is a binary file of {len(data)} bytes, more than a resource serves "
                f"({RESOURCE_LIMIT} bytes); get_file_contents tells its size and sha."
            )
        return Blob(data, _mime_type(content.path))
    if len(whole) > RESOURCE_LIMIT:
        raise InvalidRequest(
            f"{content.path} has {len(whole)} characters, more than a resource serves ({RESOURCE_LIMIT}); read it "
            "in ranges with get_file_contents (offset, length)."
        )
    return Untrusted()(whole) or ""


def _mime_type(path: str) -> str:
    """The mime type of a file by its extension (``application/octet-stream`` when it says none)."""
    guessed, compression = _mime_types().guess_type(path.rsplit("/", 1)[-1], strict=False)
    if compression:
        return _COMPRESSED.get(compression, "application/octet-stream")
    return guessed or "application/octet-stream"


@functools.cache
def _mime_types() -> mimetypes.MimeTypes:
    """Python's own table of types (not the host's /etc/mime.types): the same answer on every machine."""
    return mimetypes.MimeTypes()


_FILE_COMPLETIONS = {"owner": complete_owner, "repo": complete_repo}


@repos.resource(
    "repo://{owner}/{repo}/contents/{+path}",
    title="Repository file",
    mime_type="text/plain",
    complete=_FILE_COMPLETIONS,
)
async def read_repository_file(deps: GitHubDeps, owner: str, repo: str, path: str) -> str | Blob:
    """A file at the default branch: its text (hidden characters and HTML comments removed), a binary file
    as a blob (up to 1 MB), a directory's paths one a line."""
    return await _file(deps, owner, repo, path, None)


@repos.resource(
    "repo://{owner}/{repo}/refs/heads/{branch}/contents/{+path}",
    title="Repository file at a branch",
    mime_type="text/plain",
    complete={**_FILE_COMPLETIONS, "branch": complete_branch},
)
async def read_file_at_branch(deps: GitHubDeps, owner: str, repo: str, branch: str, path: str) -> str | Blob:
    """A file at a branch's head: its text (hidden characters and HTML comments removed), a binary file as a
    blob (up to 1 MB), a directory's paths one a line."""
    return await _file(deps, owner, repo, path, branch)


@repos.resource(
    "repo://{owner}/{repo}/sha/{sha}/contents/{+path}",
    title="Repository file at a commit",
    mime_type="text/plain",
    complete=_FILE_COMPLETIONS,
)
async def read_file_at_commit(deps: GitHubDeps, owner: str, repo: str, sha: str, path: str) -> str | Blob:
    """A file at a commit: its text (hidden characters and HTML comments removed), a binary file as a blob
    (up to 1 MB), a directory's paths one a line."""
    return await _file(deps, owner, repo, path, sha)


@repos.resource(
    "repo://{owner}/{repo}/refs/tags/{tag}/contents/{+path}",
    title="Repository file at a tag",
    mime_type="text/plain",
    complete={**_FILE_COMPLETIONS, "tag": complete_tag},
)
async def read_file_at_tag(deps: GitHubDeps, owner: str, repo: str, tag: str, path: str) -> str | Blob:
    """A file at a tag: its text (hidden characters and HTML comments removed), a binary file as a blob (up
    to 1 MB), a directory's paths one a line."""
    return await _file(deps, owner, repo, path, f"refs/tags/{tag}")
