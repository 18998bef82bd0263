"""Issues on GitHub as the issues toolset answers them: compact projections of GitHub's JSON.

Every reader is lenient (a field GitHub omits, leaves null or adds never breaks an answer) and every piece of
user-written text (titles, bodies, comments, label and milestone names) goes through an :class:`Untrusted`
collector, so an answer says ``sanitised: true`` when something hidden was removed. Bodies are cut at
:data:`BODY_LIMIT` characters (comments at :data:`COMMENT_LIMIT`) with a ``body_truncated`` flag.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from servers.github.models import Untrusted, as_dict, as_list, login, logins, number, text

__all__ = [
    "BODY_LIMIT",
    "COMMENT_LIMIT",
    "Comment",
    "CommentList",
    "CreatedComment",
    "CreatedIssue",
    "Issue",
    "IssueDetail",
    "IssueList",
    "IssueSummary",
    "SearchHit",
    "SearchResult",
    "UpdatedIssue",
    "comment_of",
    "hit_of",
    "issue_of",
    "parent_of",
    "summary_of",
]

BODY_LIMIT = 4000
COMMENT_LIMIT = 2000

SANITISED = "True when invisible characters or hidden HTML comments were removed."
REPLAYED = "True when an earlier call with this idempotency_key made it."
NEXT = "Cursor of the next page; null on the last."


# Models carry no docstrings on purpose: a docstring becomes a description in every output schema, and every
# byte of tools/list is read by a model. Field descriptions are short for the same reason.


class IssueSummary(BaseModel):
    number: int = Field(description="Number.")
    title: str = Field(description="Title.")
    state: str | None = Field(description="open or closed.")
    author: str | None = Field(description="Author login.")
    labels: list[str] = Field(description="Label names.")
    assignees: list[str] = Field(description="Assignee logins.")
    comments: int = Field(description="Comment count.")
    updated_at: str | None = Field(description="ISO 8601.")


class SearchHit(IssueSummary):
    repo: str | None = Field(description="owner/name.")


class Issue(IssueSummary):
    state_reason: str | None = Field(description="Why closed or reopened.")
    milestone: str | None = Field(description="Milestone title.")
    created_at: str | None = Field(description="ISO 8601.")
    closed_at: str | None = Field(description="ISO 8601.")
    html_url: str | None = Field(description="Web page.")
    body: str | None = Field(description="Markdown.")
    body_truncated: bool = Field(description="Body was cut.")
    parent: int | None = Field(description="Parent issue number, when it is a sub-issue.")
    sub_issues: int = Field(description="Sub-issue count (list_sub_issues).")
    sanitised: bool = Field(description=SANITISED)


class CreatedIssue(IssueSummary):
    html_url: str | None = Field(description="Web page.")
    sanitised: bool = Field(description=SANITISED)
    replayed: bool = Field(description=REPLAYED)


class UpdatedIssue(IssueSummary):
    state_reason: str | None = Field(description="Why closed or reopened.")
    milestone: str | None = Field(description="Milestone title.")
    html_url: str | None = Field(description="Web page.")
    parent: int | None = Field(description="Parent issue number, when it is a sub-issue.")
    sanitised: bool = Field(description=SANITISED)


class Comment(BaseModel):
    id: int = Field(description="Comment id.")
    author: str | None = Field(description="Author login.")
    created_at: str | None = Field(description="ISO 8601.")
    body: str | None = Field(description="Markdown.")
    body_truncated: bool = Field(description="Body was cut.")


class IssueDetail(Issue):
    first_comments: list[Comment] = Field(description="Oldest first.")


class CreatedComment(Comment):
    html_url: str | None = Field(description="Web page.")
    sanitised: bool = Field(description=SANITISED)
    replayed: bool = Field(description=REPLAYED)


class IssueList(BaseModel):
    items: list[IssueSummary] = Field(description="This page.")
    next_cursor: str | None = Field(description=NEXT)
    sanitised: bool = Field(description=SANITISED)


class SearchResult(BaseModel):
    total: int = Field(description="Hits in all pages.")
    items: list[SearchHit] = Field(description="This page.")
    next_cursor: str | None = Field(description=NEXT)
    sanitised: bool = Field(description=SANITISED)


class CommentList(BaseModel):
    items: list[Comment] = Field(description="This page.")
    next_cursor: str | None = Field(description=NEXT)
    sanitised: bool = Field(description=SANITISED)


def _cut(value: str | None, limit: int) -> tuple[str | None, bool]:
    if value is not None and len(value) > limit:
        return value[:limit], True
    return value, False


def _labels(data: Any, clean: Untrusted) -> list[str]:
    """Label names: GitHub sends label objects, sometimes plain names."""
    names: list[str] = []
    for item in as_list(as_dict(data).get("labels")):
        name = item if isinstance(item, str) else text(item, "name")
        cleaned = clean(name)
        if cleaned:
            names.append(cleaned)
    return names


def _summary_fields(data: Any, clean: Untrusted) -> dict[str, Any]:
    return {
        "number": number(data, "number") or 0,
        "title": clean(text(data, "title")) or "",
        "state": text(data, "state"),
        "author": login(data),
        "labels": _labels(data, clean),
        "assignees": logins(data, "assignees") or ([one] if (one := login(data, "assignee")) else []),
        "comments": number(data, "comments") or 0,
        "updated_at": text(data, "updated_at"),
    }


def summary_of(data: Any, clean: Untrusted) -> IssueSummary:
    return IssueSummary(**_summary_fields(data, clean))


def hit_of(data: Any, clean: Untrusted) -> SearchHit:
    """A search hit; its repository is read from ``repository_url`` (``.../repos/owner/name``)."""
    where = text(data, "repository_url") or ""
    _, found, repo = where.rpartition("/repos/")
    return SearchHit(**_summary_fields(data, clean), repo=repo if found and repo else None)


def issue_of(data: Any, clean: Untrusted) -> Issue:
    """An issue with its (cleaned, cut) body; ``sanitised`` covers every text ``clean`` has read so far."""
    fields = _summary_fields(data, clean)
    body, cut = _cut(clean(text(data, "body")), BODY_LIMIT)
    return Issue(
        **fields,
        state_reason=text(data, "state_reason"),
        milestone=clean(text(as_dict(data).get("milestone"), "title")),
        created_at=text(data, "created_at"),
        closed_at=text(data, "closed_at"),
        html_url=text(data, "html_url"),
        body=body,
        body_truncated=cut,
        parent=parent_of(data),
        sub_issues=number(as_dict(data).get("sub_issues_summary"), "total") or 0,
        sanitised=clean.removed,
    )


def parent_of(data: Any) -> int | None:
    """The parent issue's number, read from ``parent_issue_url`` (``.../issues/{number}``)."""
    _, found, tail = (text(data, "parent_issue_url") or "").rpartition("/issues/")
    return int(tail) if found and tail.isascii() and tail.isdigit() and len(tail) < 19 else None


def comment_of(data: Any, clean: Untrusted) -> Comment:
    body, cut = _cut(clean(text(data, "body")), COMMENT_LIMIT)
    return Comment(
        id=number(data, "id") or 0,
        author=login(data),
        created_at=text(data, "created_at"),
        body=body,
        body_truncated=cut,
    )
