"""Toolset ``pulls``: pull requests, their files, reviews, status in one answer, and the guarded merge."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from servers.github import pulls as logic
from servers.github.arguments import Cursor, Key, Limit, Owner, Repo
from servers.github.deps import GitHubDeps
from servers.github.pulls import (
    LineComment,
    MergeMethod,
    MergeResult,
    PullDetail,
    PullFiles,
    PullList,
    PullRef,
    PullStatus,
    ReviewEvent,
    ReviewResult,
)
from shared.toolset import Toolset

__all__ = ["pulls"]

pulls = Toolset(
    "pulls",
    "Pull requests: files, reviews, status in one answer, and merges refused while required checks are red.",
    start_with="list_pull_requests",
)

Number = Annotated[int, Field(description="PR number.")]
Logins = list[str] | None


@pulls.read(title="List pull requests", open_world=True)
async def list_pull_requests(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    state: Annotated[Literal["open", "closed", "all"], Field(description="Which.")] = "open",
    head: Annotated[str | None, Field(description="Head branch (or owner:branch).")] = None,
    base: Annotated[str | None, Field(description="Base branch.")] = None,
    sort: Annotated[
        Literal["created", "updated", "popularity", "long-running"], Field(description="Descending.")
    ] = "updated",
    limit: Limit = 30,
    cursor: Cursor = None,
) -> PullList:
    """List pull requests, recently updated first. Then get_pull_request or get_pull_request_status."""
    return await logic.list_pulls(
        deps.github, owner, repo, state=state, head=head, base=base, sort=sort, limit=limit, cursor=cursor
    )


@pulls.read(title="Get a pull request", open_world=True)
async def get_pull_request(deps: GitHubDeps, owner: Owner, repo: Repo, number: Number) -> PullDetail:
    """A pull request: state, branches, head sha, mergeability, size, body. Diff: get_pull_request_files."""
    return await logic.get_pull(deps.github, owner, repo, number)


@pulls.read(title="Get a pull request's files", open_world=True)
async def get_pull_request_files(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    number: Number,
    include_patch: Annotated[bool, Field(description="Add diffs (capped).")] = False,
    limit: Limit = 30,
    cursor: Cursor = None,
) -> PullFiles:
    """Files a pull request changes with line counts and, if asked, diffs (3000 characters a file, 20000 in
    all)."""
    return await logic.list_files(
        deps.github, owner, repo, number, include_patch=include_patch, limit=limit, cursor=cursor
    )


@pulls.read(title="Get a pull request's merge status", open_world=True)
async def get_pull_request_status(deps: GitHubDeps, owner: Owner, repo: Repo, number: Number) -> PullStatus:
    """Can it merge? Checks, required checks failing or pending, reviews, conflicts; a verdict and next step."""
    return await logic.pull_status(deps.github, owner, repo, number)


@pulls.write(title="Create a pull request", destructive=False, idempotent=False, open_world=True)
async def create_pull_request(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    title: Annotated[str, Field(min_length=1, description="Title.")],
    head: Annotated[str, Field(description="Branch with the changes.")],
    base: Annotated[str, Field(description="Branch to merge into.")],
    body: Annotated[str | None, Field(description="Markdown.")] = None,
    draft: Annotated[bool, Field(description="Open as draft.")] = True,
    idempotency_key: Key = None,
) -> PullRef:
    """Open a pull request, as a draft unless draft=false. Then request_reviewers."""
    request: dict[str, Any] = {"owner": owner, "repo": repo, "title": title, "head": head, "base": base}
    request |= {"body": body, "draft": draft}

    async def create() -> PullRef:
        return await logic.create_pull(
            deps.github, owner, repo, title=title, head=head, base=base, body=body, draft=draft
        )

    return await deps.idempotency.once(
        tool="create_pull_request", key=idempotency_key, request=request, action=create, result_type=PullRef
    )


@pulls.write(title="Update a pull request", destructive=False, idempotent=True, open_world=True)
async def update_pull_request(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    number: Number,
    title: Annotated[str | None, Field(min_length=1, description="New title.")] = None,
    body: Annotated[str | None, Field(description="New body.")] = None,
    base: Annotated[str | None, Field(min_length=1, description="New base branch.")] = None,
    state: Annotated[Literal["open", "closed"] | None, Field(description="Close or reopen.")] = None,
) -> PullRef:
    """Change a pull request's title, body or base, or close or reopen it. Reviewers: request_reviewers."""
    changes = {"title": title, "body": body, "base": base, "state": state}
    return await logic.update_pull(deps.github, owner, repo, number, changes)


@pulls.write(title="Request reviewers", destructive=False, idempotent=True, open_world=True)
async def request_reviewers(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    number: Number,
    reviewers: Annotated[Logins, Field(description="Logins.")] = None,
    team_reviewers: Annotated[Logins, Field(description="Team slugs.")] = None,
) -> PullRef:
    """Ask users or teams (not the author) to review a pull request; see get_pull_request_status."""
    return await logic.request_reviewers(deps.github, owner, repo, number, reviewers or [], team_reviewers or [])


@pulls.write(title="Review a pull request", destructive=False, idempotent=False, open_world=True)
async def create_review(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    number: Number,
    event: Annotated[ReviewEvent, Field(description="Verdict.")],
    body: Annotated[str | None, Field(description="Markdown.")] = None,
    comments: Annotated[list[LineComment] | None, Field(description="Line comments.")] = None,
    commit_id: Annotated[str | None, Field(description="Commit reviewed (default head).")] = None,
    idempotency_key: Key = None,
) -> ReviewResult:
    """Review a pull request, with line comments on paths from get_pull_request_files (not your own)."""
    comments = comments or []
    request = {"owner": owner, "repo": repo, "number": number, "event": event, "body": body}
    request |= {"comments": [comment.model_dump() for comment in comments], "commit_id": commit_id}

    async def review() -> ReviewResult:
        return await logic.create_review(
            deps.github, owner, repo, number, event=event, body=body, comments=comments, commit_id=commit_id
        )

    return await deps.idempotency.once(
        tool="create_review", key=idempotency_key, request=request, action=review, result_type=ReviewResult
    )


@pulls.write(title="Merge a pull request", destructive=True, idempotent=False, open_world=True)
async def merge_pull_request(
    deps: GitHubDeps,
    owner: Owner,
    repo: Repo,
    number: Number,
    expected_head_sha: Annotated[str, Field(description="Head sha you reviewed.")],
    method: Annotated[MergeMethod, Field(description="How.")] = "squash",
    commit_title: Annotated[str | None, Field(description="Commit title.")] = None,
    commit_message: Annotated[str | None, Field(description="Commit message.")] = None,
    allow_pending_checks: Annotated[bool, Field(description="Merge while required checks run.")] = False,
    idempotency_key: Key = None,
) -> MergeResult:
    """Merge (irreversible). Refused while required checks fail or are pending, or if the head is not
    expected_head_sha. First: get_pull_request_status."""
    request = {"owner": owner, "repo": repo, "number": number, "method": method, "sha": expected_head_sha}
    request |= {"title": commit_title, "message": commit_message, "pending": allow_pending_checks}

    async def merge() -> MergeResult:
        return await logic.merge_pull(
            deps.github,
            owner,
            repo,
            number,
            method=method,
            expected_head_sha=expected_head_sha,
            commit_title=commit_title,
            commit_message=commit_message,
            allow_pending_checks=allow_pending_checks,
        )

    return await deps.idempotency.once(
        tool="merge_pull_request", key=idempotency_key, request=request, action=merge, result_type=MergeResult
    )
