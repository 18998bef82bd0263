"""Toolset ``issues``: list, search, read, create, update and comment on GitHub issues; sub-issues."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from servers.github.arguments import Cursor, Key, Limit, Owner, Repo
from servers.github.deps import GitHubDeps
from servers.github.issues import (
    CommentList,
    CreatedComment,
    CreatedIssue,
    IssueDetail,
    IssueList,
    SearchResult,
    UpdatedIssue,
    comment_of,
    hit_of,
    issue_of,
    parent_of,
    summary_of,
)
from servers.github.models import Untrusted, as_dict, as_list, next_cursor, page_of, text
from servers.github.models import number as whole_number
from servers.github.paths import repo_path
from shared.errors import InvalidRequest, UpstreamError
from shared.timestamps import utc
from shared.toolset import Toolset

__all__ = ["issues"]

issues = Toolset(
    "issues",
    "GitHub issues: list, search, read, create, update, comment, sub-issues.",
    start_with="list_issues",
)

Number = Annotated[int, Field(description="Issue number.")]
Names = list[str] | None

_TYPED = re.compile(r"\b(is|type):(issue|pr|pull-request)\b", re.IGNORECASE)


@issues.read(title="List issues", open_world=True)
async def list_issues(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    state: Annotated[Literal["open", "closed", "all"] | None, Field(description="Default open.")] = None,
    labels: Annotated[str | None, Field(description="Comma-separated; all must match.")] = None,
    assignee: Annotated[str | None, Field(description="A login, none or *.")] = None,
    since: Annotated[datetime | None, Field(description="Updated since.")] = None,
    direction: Annotated[Literal["asc", "desc"] | None, Field(description="Default desc.")] = None,
    sort: Annotated[Literal["created", "updated", "comments"] | None, Field(description="Default created.")] = None,
    limit: Limit = 30,
    cursor: Cursor = None,
) -> IssueList:
    """List a repository's issues, newest first (pull requests skipped: a page may hold fewer). Then get_issue."""
    page = page_of(cursor)
    params: dict[str, Any] = {"state": state, "labels": labels, "assignee": assignee, "sort": sort}
    params |= {"direction": direction, "per_page": limit, "page": page}
    if since is not None:
        params["since"] = utc(since).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    answer = await deps.github.request("GET", repo_path(owner, repo, "issues"), params=params)
    clean = Untrusted()
    items = [summary_of(item, clean) for item in as_list(answer.data) if as_dict(item).get("pull_request") is None]
    return IssueList(items=items, next_cursor=next_cursor(answer.has_next_page, page), sanitised=clean.removed)


@issues.read(title="Get an issue", open_world=True)
async def get_issue(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    number: Number,
    comments: Annotated[int, Field(ge=0, le=100, description="First comments to include.")] = 0,
) -> IssueDetail:
    """One issue: body, parent, sub-issue count and, if asked, its first comments. More: list_issue_comments."""
    answer = await deps.github.request("GET", repo_path(owner, repo, "issues", number))
    clean = Untrusted()
    issue = issue_of(answer.data, clean)
    first = []
    if comments:
        listed = await deps.github.request(
            "GET", repo_path(owner, repo, "issues", number, "comments"), params={"per_page": comments}
        )
        first = [comment_of(item, clean) for item in as_list(listed.data)]
    fields = issue.model_dump(exclude={"sanitised"})
    return IssueDetail(**fields, first_comments=first, sanitised=clean.removed)


@issues.read(title="Search issues", open_world=True)
async def search_issues(
    deps: GitHubDeps,
    query: Annotated[str, Field(min_length=1, description="GitHub search syntax.")],
    limit: Limit = 30,
    cursor: Cursor = None,
) -> SearchResult:
    """Search issues in GitHub search syntax (repo:owner/name narrows, is:pr finds pull requests). Then get_issue."""
    page = page_of(cursor)
    q = query if _TYPED.search(query) else f"{query} is:issue"
    answer = await deps.github.request("GET", "search/issues", params={"q": q, "per_page": limit, "page": page})
    clean = Untrusted()
    items = [hit_of(item, clean) for item in as_list(as_dict(answer.data).get("items"))]
    return SearchResult(
        total=whole_number(answer.data, "total_count") or 0,
        items=items,
        next_cursor=next_cursor(answer.has_next_page, page),
        sanitised=clean.removed,
    )


@issues.write(title="Create an issue", destructive=False, idempotent=False, open_world=True)
async def create_issue(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    title: Annotated[str, Field(min_length=1, description="Title.")],
    body: Annotated[str | None, Field(description="Markdown.")] = None,
    labels: Annotated[Names, Field(description="Label names.")] = None,
    assignees: Annotated[Names, Field(description="Logins.")] = None,
    milestone: Annotated[int | None, Field(ge=1, description="Milestone number.")] = None,
    idempotency_key: Key = None,
) -> CreatedIssue:
    """Open an issue with labels, assignees and a milestone; change it later with update_issue."""
    fields: dict[str, Any] = {"title": title, "body": body, "labels": labels, "assignees": assignees}
    fields = {key: value for key, value in (fields | {"milestone": milestone}).items() if value is not None}

    path = repo_path(owner, repo, "issues")

    async def create() -> CreatedIssue:
        answer = await deps.github.request("POST", path, json=fields)
        issue = issue_of(answer.data, Untrusted())
        return CreatedIssue.model_validate(issue.model_dump() | {"replayed": False})

    request = {"owner": owner, "repo": repo, **fields}
    return await deps.idempotency.once(
        tool="create_issue", key=idempotency_key, request=request, action=create, result_type=CreatedIssue
    )


@issues.write(title="Update an issue", destructive=False, idempotent=True, open_world=True)
async def update_issue(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    number: Number,
    title: Annotated[str | None, Field(min_length=1, description="New title.")] = None,
    body: Annotated[str | None, Field(description="New body.")] = None,
    labels: Annotated[Names, Field(description="Replaces the labels.")] = None,
    assignees: Annotated[Names, Field(description="Replaces the assignees.")] = None,
    milestone: Annotated[int | None, Field(ge=0, description="Milestone number; 0 removes it.")] = None,
    state: Annotated[Literal["open", "closed"] | None, Field(description="Close or reopen.")] = None,
    state_reason: Annotated[
        Literal["completed", "not_planned", "reopened"] | None, Field(description="Why, with state.")
    ] = None,
    parent: Annotated[int | None, Field(ge=1, description="Make it a sub-issue of this issue.")] = None,
) -> UpdatedIssue:
    """Change an issue: only the fields given are sent. Close it with state=closed and a state_reason."""
    fields: dict[str, Any] = {"title": title, "body": body, "labels": labels, "assignees": assignees}
    fields |= {"state": state, "state_reason": state_reason}
    fields = {key: value for key, value in fields.items() if value is not None}
    if milestone is not None:
        fields["milestone"] = milestone or None
    if not fields and parent is None:
        raise InvalidRequest(
            "update_issue got nothing to change: pass at least one of title, body, labels, assignees, milestone, "
            "state, state_reason or parent."
        )
    if parent == number:
        raise InvalidRequest(f"Issue {number} cannot be its own parent; nothing was changed.")
    path = repo_path(owner, repo, "issues", number)
    answer = await deps.github.request("PATCH", path, json=fields) if fields else await deps.github.request("GET", path)
    issue = answer.data
    if parent is not None and parent_of(issue) != parent:
        await _nest(deps, owner, repo, parent, issue, number)
        issue = {**as_dict(issue), "parent_issue_url": f"/repos/{owner}/{repo}/issues/{parent}"}
    return UpdatedIssue.model_validate(issue_of(issue, Untrusted()).model_dump())


async def _nest(deps: GitHubDeps, owner: str, repo: str, parent: int, issue: Any, number: int) -> None:
    """Put ``issue`` under ``parent`` (taking it from any other parent: an issue has one)."""
    child_id = whole_number(issue, "id")
    if child_id is None:
        raise UpstreamError(f"GitHub answered without the id of issue {number}; its parent was not set.")
    fields = {"sub_issue_id": child_id, "replace_parent": True}
    await deps.github.request("POST", repo_path(owner, repo, "issues", parent, "sub_issues"), json=fields)


@issues.write(title="Comment on an issue", destructive=False, idempotent=False, open_world=True)
async def add_issue_comment(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    number: Number,
    body: Annotated[str, Field(min_length=1, description="Markdown.")],
    idempotency_key: Key = None,
) -> CreatedComment:
    """Comment on an issue or pull request; read the thread with list_issue_comments."""

    path = repo_path(owner, repo, "issues", number, "comments")

    async def comment() -> CreatedComment:
        answer = await deps.github.request("POST", path, json={"body": body})
        clean = Untrusted()
        made = comment_of(answer.data, clean)
        url = text(answer.data, "html_url")
        return CreatedComment(**made.model_dump(), html_url=url, sanitised=clean.removed, replayed=False)

    request = {"owner": owner, "repo": repo, "number": number, "body": body}
    return await deps.idempotency.once(
        tool="add_issue_comment", key=idempotency_key, request=request, action=comment, result_type=CreatedComment
    )


@issues.read(title="List issue comments", open_world=True)
async def list_issue_comments(
    deps: GitHubDeps, owner: Owner, repo: Repo, number: Number, limit: Limit = 30, cursor: Cursor = None
) -> CommentList:
    """List comments on an issue or pull request, oldest first; reply with add_issue_comment."""
    page = page_of(cursor)
    params = {"per_page": limit, "page": page}
    answer = await deps.github.request("GET", repo_path(owner, repo, "issues", number, "comments"), params=params)
    clean = Untrusted()
    items = [comment_of(item, clean) for item in as_list(answer.data)]
    return CommentList(items=items, next_cursor=next_cursor(answer.has_next_page, page), sanitised=clean.removed)


@issues.read(title="List sub-issues", open_world=True)
async def list_sub_issues(
    deps: GitHubDeps, owner: Owner, repo: Repo, number: Number, limit: Limit = 30, cursor: Cursor = None
) -> IssueList:
    """List the sub-issues of an issue; nest one with update_issue parent, read one with get_issue."""
    page = page_of(cursor)
    params = {"per_page": limit, "page": page}
    answer = await deps.github.request("GET", repo_path(owner, repo, "issues", number, "sub_issues"), params=params)
    clean = Untrusted()
    items = [summary_of(item, clean) for item in as_list(answer.data)]
    return IssueList(items=items, next_cursor=next_cursor(answer.has_next_page, page), sanitised=clean.removed)
