"""Pull requests on GitHub: compact projections of GitHub's JSON, capped patches, and the merge gate.

The merge gate is one evaluation of a pull request's head commit, used by ``get_pull_request_status`` to
answer and by ``merge_pull_request`` to refuse: check runs and commit statuses combined per name (the worst
state wins), the branch's required checks (a required check that has not reported yet is pending, as GitHub
shows "Expected"), the latest review state per reviewer, and mergeability. No MCP imports: the tools in
``tools/pulls.py`` are thin adapters over this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from servers.github.models import Untrusted, as_dict, as_list, flag, login, logins, next_cursor, number, page_of, text
from servers.github.paths import repo_path, segment
from shared.errors import Conflict, InvalidRequest, NotFound, UpstreamError

if TYPE_CHECKING:
    from servers.github.client import GitHubClient

__all__ = [
    "BODY_CAP",
    "PATCHES_CAP",
    "PATCH_CAP",
    "Gate",
    "LineComment",
    "MergeResult",
    "PullDetail",
    "PullFile",
    "PullFiles",
    "PullItem",
    "PullList",
    "PullRef",
    "PullStatus",
    "ReviewResult",
    "create_pull",
    "create_review",
    "gate_of",
    "get_pull",
    "list_files",
    "list_pulls",
    "merge_pull",
    "pull_status",
    "request_reviewers",
    "update_pull",
]

BODY_CAP = 4_000  # characters of a pull request's body in get_pull_request
PATCH_CAP = 3_000  # characters of one file's patch
PATCHES_CAP = 20_000  # characters of patches in one answer
_MAX_PAGES = 5  # pages of 100 check runs, statuses or reviews read for one gate
_PASSED = frozenset({"success", "neutral", "skipped"})

State = Literal["success", "failure", "pending"]
Verdict = Literal["ready", "pending", "failing", "blocked", "merged", "closed"]
MergeMethod = Literal["merge", "squash", "rebase"]
ReviewEvent = Literal["APPROVE", "REQUEST_CHANGES", "COMMENT"]


# -- answers ---------------------------------------------------------------------------------------------------


REPLAYED = "True when an earlier call with this idempotency_key made it."


class PullItem(BaseModel):  # no docstring: it would be repeated in every list's schema
    number: int = Field(description="Number.")
    title: str = Field(description="Title.")
    state: str = Field(description="open, closed or merged.")
    draft: bool = Field(description="Draft.")
    author: str | None = Field(description="Login.")
    head: str = Field(description="Head branch.")
    base: str = Field(description="Base branch.")
    updated_at: str | None = Field(description="Last update.")


class PullList(BaseModel):
    """Pull requests, one page."""

    items: list[PullItem] = Field(description="Pull requests.")
    next_cursor: str | None = Field(description="Next page; null on the last.")
    sanitised: bool = Field(description="Hidden text was removed.")


class PullDetail(PullItem):
    """A pull request."""

    head_sha: str | None = Field(description="Head commit.")
    mergeable: bool | None = Field(description="No conflicts; null while computed.")
    mergeable_state: str | None = Field(description="clean, dirty, blocked, behind, unstable...")
    additions: int = Field(description="Lines added.")
    deletions: int = Field(description="Lines deleted.")
    changed_files: int = Field(description="Files changed.")
    body: str = Field(description="Description.")
    body_truncated: bool = Field(description="Body cut.")
    html_url: str | None = Field(description="Web page.")
    sanitised: bool = Field(description="Hidden text was removed.")


class PullFile(BaseModel):  # no docstring: it would be repeated in every list's schema
    path: str = Field(description="Path.")
    status: str = Field(description="added, removed, modified, renamed...")
    additions: int = Field(description="Lines added.")
    deletions: int = Field(description="Lines deleted.")
    previous_path: str | None = Field(description="Path before a rename.")
    patch: str | None = Field(description="Diff hunks, if asked and text.")
    patch_truncated: bool = Field(description="Patch cut or left out for size.")


class PullFiles(BaseModel):
    """Changed files, one page."""

    items: list[PullFile] = Field(description="Files.")
    next_cursor: str | None = Field(description="Next page; null on the last.")
    sanitised: bool = Field(description="Hidden text was removed.")


class PullStatus(BaseModel):
    """Whether a pull request can merge now."""

    verdict: Verdict = Field(description="The verdict.")
    next: str = Field(description="What to do next.")
    head_sha: str | None = Field(description="Head commit evaluated.")
    checks: str = Field(description="All checks: success, failure, pending or none.")
    required_failing: list[str] = Field(description="Required checks failed.")
    required_pending: list[str] = Field(description="Required checks running or not reported.")
    other_failing: list[str] = Field(description="Other checks failed.")
    approved_by: list[str] = Field(description="Latest review approves.")
    changes_requested_by: list[str] = Field(description="Latest review requests changes.")
    mergeable: bool | None = Field(description="No conflicts; null while computed.")


class PullRef(BaseModel):
    """The pull request after the write."""

    number: int = Field(description="Number.")
    state: str = Field(description="open, closed or merged.")
    draft: bool = Field(description="Draft.")
    base: str = Field(description="Base branch.")
    head_sha: str | None = Field(description="Head commit.")
    reviewers: list[str] = Field(description="Requested reviewers; teams as team:slug.")
    html_url: str | None = Field(description="Web page.")
    replayed: bool = Field(default=False, description=REPLAYED)


class ReviewResult(BaseModel):
    """The submitted review."""

    id: int | None = Field(description="Review id.")
    state: str | None = Field(description="APPROVED, CHANGES_REQUESTED or COMMENTED.")
    commit_id: str | None = Field(description="Commit reviewed.")
    html_url: str | None = Field(description="Web page.")
    replayed: bool = Field(default=False, description=REPLAYED)


class MergeResult(BaseModel):
    """The merge."""

    merged: bool = Field(description="Merged.")
    sha: str | None = Field(description="Merge commit.")
    message: str = Field(description="GitHub's message.")
    replayed: bool = Field(default=False, description=REPLAYED)


class LineComment(BaseModel):  # a review comment on one line; no docstring, the argument describes it
    path: str = Field(description="File path.")
    line: int = Field(description="Line in the file.")
    side: Literal["LEFT", "RIGHT"] | None = Field(default=None, description="RIGHT: new file (default).")
    body: str = Field(description="Text.")


# -- projections ---------------------------------------------------------------------------------------------------


def _state(pull: Any) -> str:
    if text(pull, "merged_at") or flag(pull, "merged"):
        return "merged"
    return text(pull, "state") or "unknown"


def _ref(pull: Any, side: str) -> str:
    return text(as_dict(pull).get(side), "ref") or ""


def _head_sha(pull: Any) -> str | None:
    return text(as_dict(pull).get("head"), "sha")


def _item(pull: Any, clean: Untrusted) -> PullItem:
    return PullItem(
        number=number(pull, "number") or 0,
        title=clean(text(pull, "title")) or "",
        state=_state(pull),
        draft=flag(pull, "draft") or False,
        author=login(pull),
        head=_ref(pull, "head"),
        base=_ref(pull, "base"),
        updated_at=text(pull, "updated_at"),
    )


def _detail(pull: Any) -> PullDetail:
    clean = Untrusted()
    body = clean(text(pull, "body")) or ""
    return PullDetail(
        **_item(pull, clean).model_dump(),
        head_sha=_head_sha(pull),
        mergeable=flag(pull, "mergeable"),
        mergeable_state=text(pull, "mergeable_state"),
        additions=number(pull, "additions") or 0,
        deletions=number(pull, "deletions") or 0,
        changed_files=number(pull, "changed_files") or 0,
        body=body[:BODY_CAP],
        body_truncated=len(body) > BODY_CAP,
        html_url=text(pull, "html_url"),
        sanitised=clean.removed,
    )


def _pull_ref(pull: Any) -> PullRef:
    teams = [f"team:{slug}" for team in as_list(as_dict(pull).get("requested_teams")) if (slug := text(team, "slug"))]
    return PullRef(
        number=number(pull, "number") or 0,
        state=_state(pull),
        draft=flag(pull, "draft") or False,
        base=_ref(pull, "base"),
        head_sha=_head_sha(pull),
        reviewers=logins(pull, "requested_reviewers") + teams,
        html_url=text(pull, "html_url"),
    )


def _cut(patch: str, limit: int) -> str:
    """``patch`` cut to ``limit`` characters, at a line end when one is near."""
    cut = patch[:limit]
    end = cut.rfind("\n")
    return cut[:end] if end > limit // 2 else cut


# -- reads -----------------------------------------------------------------------------------------------------


async def list_pulls(
    github: GitHubClient,
    owner: str,
    repo: str,
    *,
    state: str,
    head: str | None,
    base: str | None,
    sort: str,
    limit: int,
    cursor: str | None,
) -> PullList:
    page = page_of(cursor)
    if head and ":" not in head:
        head = f"{owner}:{head}"  # GitHub filters head as owner:branch
    params = {"state": state, "head": head, "base": base, "sort": sort, "direction": "desc"}
    answer = await github.request(
        "GET", repo_path(owner, repo, "pulls"), params=params | {"per_page": limit, "page": page}
    )
    clean = Untrusted()
    items = [_item(pull, clean) for pull in as_list(answer.data) if number(pull, "number") is not None]
    return PullList(items=items, next_cursor=next_cursor(answer.has_next_page, page), sanitised=clean.removed)


async def get_pull(github: GitHubClient, owner: str, repo: str, pull_number: int) -> PullDetail:
    answer = await github.request("GET", repo_path(owner, repo, "pulls", pull_number))
    return _detail(answer.data)


async def list_files(
    github: GitHubClient,
    owner: str,
    repo: str,
    pull_number: int,
    *,
    include_patch: bool,
    limit: int,
    cursor: str | None,
) -> PullFiles:
    page = page_of(cursor)
    path = repo_path(owner, repo, "pulls", pull_number, "files")
    answer = await github.request("GET", path, params={"per_page": limit, "page": page})
    clean = Untrusted()
    budget = PATCHES_CAP
    items: list[PullFile] = []
    for entry in as_list(answer.data):
        patch = clean(text(entry, "patch")) if include_patch else None
        truncated = False
        if patch is not None:
            allowed = min(PATCH_CAP, budget)
            if len(patch) > allowed:
                patch, truncated = (_cut(patch, allowed) if allowed > 0 else None), True
            budget -= len(patch or "")
        items.append(
            PullFile(
                path=text(entry, "filename") or "",
                status=text(entry, "status") or "unknown",
                additions=number(entry, "additions") or 0,
                deletions=number(entry, "deletions") or 0,
                previous_path=text(entry, "previous_filename"),
                patch=patch,
                patch_truncated=truncated,
            )
        )
    return PullFiles(items=items, next_cursor=next_cursor(answer.has_next_page, page), sanitised=clean.removed)


# -- the merge gate ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """What stands between a pull request's head commit and a merge."""

    pull: Mapping[str, Any]
    head_sha: str | None
    results: Mapping[str, State]  # check run or status context -> its state (the worst of both)
    required: tuple[str, ...]
    protection_readable: bool
    approved_by: tuple[str, ...]
    changes_requested_by: tuple[str, ...]

    @property
    def required_failing(self) -> list[str]:
        return [name for name in self.required if self.results.get(name) == "failure"]

    @property
    def required_pending(self) -> list[str]:
        return [name for name in self.required if self.results.get(name, "pending") == "pending"]

    @property
    def other_failing(self) -> list[str]:
        return sorted(name for name, state in self.results.items() if state == "failure" and name not in self.required)

    @property
    def combined(self) -> str:
        states = set(self.results.values()) | ({"pending"} if self.required_pending else set())
        for state in ("failure", "pending", "success"):
            if state in states:
                return state
        return "none"


async def _pages(github: GitHubClient, path: str, key: str | None = None) -> list[Any]:
    """Every item of a paged list (at most ``_MAX_PAGES`` pages of 100); ``key`` names the list in an object."""
    items: list[Any] = []
    for page in range(1, _MAX_PAGES + 1):
        answer = await github.request("GET", path, params={"per_page": 100, "page": page})
        items += as_list(as_dict(answer.data).get(key)) if key else as_list(answer.data)
        if not answer.has_next_page:
            break
    return items


async def _required(github: GitHubClient, owner: str, repo: str, base: str) -> tuple[str, ...] | None:
    """The base branch's required checks: () without protection (404), None when the token may not read them."""
    path = f"{repo_path(owner, repo, 'branches')}/{segment(base)}/protection/required_status_checks"
    try:
        answer = await github.request("GET", path)
    except NotFound:
        return ()
    except UpstreamError as error:
        if error.status == 403:
            return None
        raise
    contexts = [name for name in as_list(as_dict(answer.data).get("contexts")) if isinstance(name, str)]
    contexts += [name for check in as_list(as_dict(answer.data).get("checks")) if (name := text(check, "context"))]
    return tuple(dict.fromkeys(contexts))


def _check_state(run: Any) -> State:
    if text(run, "status") != "completed":
        return "pending"
    return "success" if text(run, "conclusion") in _PASSED else "failure"


def _status_state(status: Any) -> State:
    state = text(status, "state")
    return "success" if state == "success" else "pending" if state == "pending" else "failure"


def _results(runs: list[Any], statuses: list[Any]) -> dict[str, State]:
    latest: dict[str, Any] = {}
    for run in runs:  # a re-run reports again under the same name: the newest (highest id) counts
        name = text(run, "name")
        if name and (name not in latest or (number(run, "id") or 0) > (number(latest[name], "id") or 0)):
            latest[name] = run
    results: dict[str, State] = {name: _check_state(run) for name, run in latest.items()}
    rank = {"success": 0, "pending": 1, "failure": 2}
    for status in statuses:
        if name := text(status, "context"):
            state = _status_state(status)
            if rank[state] > rank[results.get(name, "success")]:
                results[name] = state
            results.setdefault(name, state)
    return results


def _reviews(reviews: list[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Reviewers whose latest deciding review approves, and those whose latest requests changes."""
    latest: dict[str, str] = {}
    for review in reviews:  # oldest first; a comment does not undo an approval, a dismissal does
        who, state = login(review), text(review, "state")
        if who and state in ("APPROVED", "CHANGES_REQUESTED"):
            latest[who] = state
        elif who and state == "DISMISSED":
            latest.pop(who, None)
    approved = tuple(sorted(who for who, state in latest.items() if state == "APPROVED"))
    return approved, tuple(sorted(who for who, state in latest.items() if state == "CHANGES_REQUESTED"))


async def _nothing() -> list[Any]:
    return []


async def _gather(*calls: Awaitable[Any]) -> list[Any]:
    """Run ``calls`` together; the first failure is raised once all have ended."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


async def gate_of(
    github: GitHubClient, owner: str, repo: str, pull_number: int, pull: Mapping[str, Any] | None = None
) -> Gate:
    """The merge gate of a pull request (``pull`` is its JSON when already read)."""
    if pull is None:
        pull = as_dict((await github.request("GET", repo_path(owner, repo, "pulls", pull_number))).data)
    sha = _head_sha(pull)
    commit = f"{repo_path(owner, repo)}/commits/{segment(sha or '')}"
    runs, statuses, required, reviews = await _gather(
        _pages(github, f"{commit}/check-runs", "check_runs") if sha else _nothing(),
        _pages(github, f"{commit}/status", "statuses") if sha else _nothing(),
        _required(github, owner, repo, _ref(pull, "base")),
        _pages(github, repo_path(owner, repo, "pulls", pull_number, "reviews")),
    )
    results = _results(runs, statuses)
    approved, changes = _reviews(reviews)
    return Gate(
        pull=pull,
        head_sha=sha,
        results=results,
        required=tuple(results) if required is None else required,
        protection_readable=required is not None,
        approved_by=approved,
        changes_requested_by=changes,
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def _verdict(gate: Gate) -> tuple[Verdict, str]:
    pull, sha = gate.pull, gate.head_sha
    state, mergeable, mergeable_state = _state(pull), flag(pull, "mergeable"), text(pull, "mergeable_state")
    unread = "" if gate.protection_readable else " (branch protection is unreadable: every check counts as required)"
    if state == "merged":
        return "merged", "Already merged; nothing to do."
    if state != "open":
        return "closed", "Closed without merging; reopen it with update_pull_request state=open to go on."
    if gate.required_failing:
        return "failing", (
            f"Required checks failed: {_names(gate.required_failing)}{unread}. Fix them and push, then call "
            "get_pull_request_status again."
        )
    blockers: list[str] = []
    if flag(pull, "draft"):
        blockers.append("it is a draft (mark it ready for review on GitHub)")
    if gate.changes_requested_by:
        blockers.append(f"changes requested by {_names(list(gate.changes_requested_by))}")
    if mergeable is False or mergeable_state == "dirty":
        blockers.append("it conflicts with its base (update the head branch)")
    elif mergeable_state == "behind":
        blockers.append("its head is behind the base (update the head branch)")
    if blockers:
        return "blocked", "Blocked: " + "; ".join(blockers) + "."
    if gate.required_pending or mergeable is None:
        waiting = f"required checks still running: {_names(gate.required_pending)}{unread}"
        what = waiting if gate.required_pending else "GitHub is still computing mergeability"
        return "pending", (
            f"Pending: {what}. Call get_pull_request_status again in a minute; merge_pull_request refuses until "
            "then unless allow_pending_checks=true."
        )
    if mergeable_state == "blocked":
        return "blocked", "Blocked by branch protection (e.g. a required approving review is missing)."
    others = f" Failed checks that are not required: {_names(gate.other_failing)}." if gate.other_failing else ""
    return "ready", f"Ready: call merge_pull_request with expected_head_sha={sha}.{others}"


async def pull_status(github: GitHubClient, owner: str, repo: str, pull_number: int) -> PullStatus:
    gate = await gate_of(github, owner, repo, pull_number)
    verdict, advice = _verdict(gate)
    return PullStatus(
        verdict=verdict,
        next=advice,
        head_sha=gate.head_sha,
        checks=gate.combined,
        required_failing=gate.required_failing,
        required_pending=gate.required_pending,
        other_failing=gate.other_failing,
        approved_by=list(gate.approved_by),
        changes_requested_by=list(gate.changes_requested_by),
        mergeable=flag(gate.pull, "mergeable"),
    )


# -- writes ------------------------------------------------------------------------------------------------------


async def create_pull(
    github: GitHubClient, owner: str, repo: str, *, title: str, head: str, base: str, body: str | None, draft: bool
) -> PullRef:
    payload = {"title": title, "head": head, "base": base, "draft": draft} | ({"body": body} if body else {})
    answer = await github.request("POST", repo_path(owner, repo, "pulls"), json=payload)
    return _pull_ref(answer.data)


async def update_pull(
    github: GitHubClient, owner: str, repo: str, pull_number: int, changes: Mapping[str, str | None]
) -> PullRef:
    payload = {key: value for key, value in changes.items() if value is not None}
    if not payload:
        raise InvalidRequest("Nothing to update: pass at least one of title, body, base or state.")
    answer = await github.request("PATCH", repo_path(owner, repo, "pulls", pull_number), json=payload)
    return _pull_ref(answer.data)


async def request_reviewers(
    github: GitHubClient, owner: str, repo: str, pull_number: int, reviewers: list[str], teams: list[str]
) -> PullRef:
    if not reviewers and not teams:
        raise InvalidRequest("Nobody to request: pass reviewers (logins) or team_reviewers (team slugs).")
    path = repo_path(owner, repo, "pulls", pull_number, "requested_reviewers")
    answer = await github.request("POST", path, json={"reviewers": reviewers, "team_reviewers": teams})
    return _pull_ref(answer.data)


async def create_review(
    github: GitHubClient,
    owner: str,
    repo: str,
    pull_number: int,
    *,
    event: ReviewEvent,
    body: str | None,
    comments: list[LineComment],
    commit_id: str | None,
) -> ReviewResult:
    payload: dict[str, Any] = {"event": event}
    if body:
        payload["body"] = body
    if commit_id:
        payload["commit_id"] = commit_id
    if comments:
        payload["comments"] = [comment.model_dump(exclude_none=True) for comment in comments]
    answer = await github.request("POST", repo_path(owner, repo, "pulls", pull_number, "reviews"), json=payload)
    review = answer.data
    return ReviewResult(
        id=number(review, "id"),
        state=text(review, "state"),
        commit_id=text(review, "commit_id"),
        html_url=text(review, "html_url"),
    )


def _head_moved(owner: str, repo: str, pull_number: int, expected: str, actual: str | None) -> Conflict:
    now = f" (it is now {actual})" if actual else ""
    return Conflict(
        f"Not merged: the head of {owner}/{repo}#{pull_number} moved: it is no longer {expected}{now}. Re-read the "
        "pull request with get_pull_request, review the new commits, then merge with the new head sha."
    )


async def merge_pull(
    github: GitHubClient,
    owner: str,
    repo: str,
    pull_number: int,
    *,
    method: MergeMethod,
    expected_head_sha: str,
    commit_title: str | None,
    commit_message: str | None,
    allow_pending_checks: bool,
) -> MergeResult:
    """Merge once the gate allows it: the head is the expected one, no required check is red (or pending,
    unless allowed). GitHub's own refusals (405 not mergeable, 409 head moved) become sentences."""
    where = f"{owner}/{repo}#{pull_number}"
    pull = as_dict((await github.request("GET", repo_path(owner, repo, "pulls", pull_number))).data)
    head_sha = _head_sha(pull)
    if _state(pull) == "merged":
        if head_sha == expected_head_sha:
            return MergeResult(merged=True, sha=text(pull, "merge_commit_sha"), message="Already merged.")
        raise Conflict(f"Not merged: {where} was already merged, at head {head_sha}, not {expected_head_sha}.")
    if _state(pull) != "open":
        raise Conflict(f"Not merged: {where} is closed. Reopen it with update_pull_request state=open first.")
    if head_sha != expected_head_sha:
        raise _head_moved(owner, repo, pull_number, expected_head_sha, head_sha)
    gate = await gate_of(github, owner, repo, pull_number, pull)
    if gate.required_failing:
        raise Conflict(
            f"Not merged: required checks of {where} failed: {_names(gate.required_failing)}. Fix them and push; "
            "get_pull_request_status shows where things stand."
        )
    if gate.required_pending and not allow_pending_checks:
        raise Conflict(
            f"Not merged: required checks of {where} are still pending: {_names(gate.required_pending)}. Wait and "
            "call get_pull_request_status, or pass allow_pending_checks=true to merge anyway."
        )
    payload = {"sha": expected_head_sha, "merge_method": method, "commit_title": commit_title}
    payload |= {"commit_message": commit_message}
    try:
        answer = await github.request(
            "PUT",
            repo_path(owner, repo, "pulls", pull_number, "merge"),
            json={key: value for key, value in payload.items() if value is not None},
        )
    except Conflict:  # GitHub's 409: the head moved between our read and the merge
        raise _head_moved(owner, repo, pull_number, expected_head_sha, None) from None
    except UpstreamError as error:
        if error.status != 405:
            raise
        raise Conflict(
            f"Not merged: GitHub says {where} cannot be merged now ({error}). Call get_pull_request_status to "
            "see what blocks it."
        ) from None
    result = answer.data
    return MergeResult(
        merged=flag(result, "merged") or False,
        sha=text(result, "sha"),
        message=text(result, "message") or "",
    )
