"""The fake's issues endpoints: issues (list, get, create, update), their comments, issue search, sub-issues.

An issue is stored as the JSON GitHub answers with (``FakeRepo.issues[number]``), so a test can change what
the fake returns by editing that dict; every answer is still validated by githubkit's models. Comments live in
``FakeRepo.comments[number]``, sub-issues in ``repo.extra["sub_issues"][parent]`` (child numbers), milestones in
``repo.extra["milestones"]``. The body of every write is kept in ``repo.extra["issue_writes"]`` as
``(method, path, body)``, so a test can see what the server sent. Pull requests (``FakeRepo.pulls``) appear in
the issues list and in search as issues with a ``pull_request`` key, as on GitHub.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.github_fake.app import answer, body_of, found_repo, not_found, page, state_of
from tests.github_fake.payloads import NOW, iso, shaped, simple_user
from tests.github_fake.state import FakeGitHub, FakeRepo, next_id

__all__ = ["ROUTES", "add_comment", "add_issue", "add_milestone"]

_HTML = "https://github.test"


def _tick(repo: FakeRepo) -> str:
    """A moment later than every earlier one of this repository (the fake's clock starts at NOW)."""
    repo.extra["clock"] = repo.extra.get("clock", 0) + 1
    return iso(NOW + timedelta(minutes=repo.extra["clock"]))


def _invalid(field: str, code: str = "invalid") -> Response:
    error = {"resource": "Issue", "field": field, "code": code}
    return answer(
        {"message": "Validation Failed", "errors": [error], "documentation_url": "https://docs.github.com"}, 422
    )


def _label(state: FakeGitHub, repo: FakeRepo, name: str) -> dict[str, Any]:
    """The label ``name`` of ``repo`` as an issue carries it (created on first use, as GitHub does)."""
    known = repo.labels.setdefault(name, {"name": name})
    known.setdefault("id", next_id())
    known.setdefault("color", "ededed")
    known.setdefault("description", None)
    known.setdefault("default", False)
    return {
        "id": known["id"],
        "node_id": f"LA_{known['id']}",
        "url": f"{state.base_url}/repos/{repo.full_name}/labels/{name}",
        "name": name,
        "description": known["description"],
        "color": known["color"],
        "default": known["default"],
    }


def _milestones(repo: FakeRepo) -> dict[int, dict[str, Any]]:
    return repo.extra.setdefault("milestones", {})


def _sub_issues(repo: FakeRepo) -> dict[int, list[int]]:
    return repo.extra.setdefault("sub_issues", {})


def add_milestone(state: FakeGitHub, repo: FakeRepo, title: str) -> int:
    """A new open milestone of ``repo``; its number."""
    milestones = _milestones(repo)
    number = len(milestones) + 1
    milestone_id = next_id()
    milestones[number] = shaped(
        "Milestone",
        {
            "id": milestone_id,
            "node_id": f"MI_{milestone_id}",
            "number": number,
            "state": "open",
            "title": title,
            "description": None,
            "creator": simple_user(state, repo.owner),
            "open_issues": 0,
            "closed_issues": 0,
            "created_at": iso(),
            "updated_at": iso(),
            "closed_at": None,
            "due_on": None,
            "html_url": f"{_HTML}/{repo.full_name}/milestone/{number}",
        },
        f"{state.base_url}/repos/{repo.full_name}/milestones/{number}",
    )
    return number


def add_issue(
    state: FakeGitHub,
    repo: FakeRepo,
    title: str,
    body: str | None = None,
    *,
    author: str = "octocat",
    labels: Iterable[str] = (),
    assignees: Iterable[str] = (),
    milestone: int | None = None,
) -> dict[str, Any]:
    """A new open issue of ``repo`` (stored as GitHub answers it); the stored dict."""
    number = repo.take_number()
    issue_id = next_id()
    moment = _tick(repo)
    people = [simple_user(state, login) for login in assignees]
    api = f"{state.base_url}/repos/{repo.full_name}"
    issue = {
        "id": issue_id,
        "node_id": f"I_{issue_id}",
        "url": f"{api}/issues/{number}",
        "repository_url": api,
        "html_url": f"{_HTML}/{repo.full_name}/issues/{number}",
        "number": number,
        "state": "open",
        "state_reason": None,
        "title": title,
        "body": body,
        "user": simple_user(state, author),
        "labels": [_label(state, repo, name) for name in labels],
        "assignee": people[0] if people else None,
        "assignees": people,
        "milestone": _milestones(repo)[milestone] if milestone else None,
        "locked": False,
        "active_lock_reason": None,
        "comments": 0,
        "closed_at": None,
        "closed_by": None,
        "created_at": moment,
        "updated_at": moment,
        "author_association": "OWNER" if author == repo.owner else "CONTRIBUTOR",
        "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
    }
    repo.issues[number] = shaped("Issue", issue, f"{api}/issues/{number}")
    return repo.issues[number]


def add_comment(state: FakeGitHub, repo: FakeRepo, number: int, body: str, author: str = "octocat") -> dict[str, Any]:
    """A new comment on issue (or pull request) ``number``; the stored dict."""
    comment_id = next_id()
    moment = _tick(repo)
    api = f"{state.base_url}/repos/{repo.full_name}/issues"
    comment = shaped(
        "IssueComment",
        {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"{api}/comments/{comment_id}",
            "html_url": f"{_HTML}/{repo.full_name}/issues/{number}#issuecomment-{comment_id}",
            "issue_url": f"{api}/{number}",
            "body": body,
            "user": simple_user(state, author),
            "created_at": moment,
            "updated_at": moment,
            "author_association": "OWNER" if author == repo.owner else "CONTRIBUTOR",
        },
    )
    repo.comments.setdefault(number, []).append(comment)
    if number in repo.issues:
        repo.issues[number]["comments"] = len(repo.comments[number])
        repo.issues[number]["updated_at"] = moment
    return comment


# -- pull requests, as the issues API shows them --------------------------------------------------------------


def _user_of(state: FakeGitHub, value: Any) -> dict[str, Any] | None:
    name = value.get("login") if isinstance(value, dict) else value
    return simple_user(state, name) if isinstance(name, str) and name else None


def _pull_as_issue(state: FakeGitHub, repo: FakeRepo, number: int, pull: dict[str, Any]) -> dict[str, Any]:
    """A pull request of ``FakeRepo.pulls`` (whatever fields it holds) as GitHub's issues API shows it."""
    api = f"{state.base_url}/repos/{repo.full_name}"
    names = [item.get("name") if isinstance(item, dict) else item for item in pull.get("labels") or []]
    people = [user for person in pull.get("assignees") or [] if (user := _user_of(state, person))]
    merged = pull.get("merged_at") or None
    state_name = "closed" if pull.get("state") == "closed" or merged else "open"
    issue = {
        "id": pull.get("id") or next_id(),
        "node_id": f"PR_{number}",
        "url": f"{api}/issues/{number}",
        "repository_url": api,
        "html_url": f"{_HTML}/{repo.full_name}/pull/{number}",
        "number": number,
        "state": state_name,
        "title": str(pull.get("title") or ""),
        "body": pull.get("body"),
        "user": _user_of(state, pull.get("user")) or simple_user(state, repo.owner),
        "labels": [_label(state, repo, name) for name in names if isinstance(name, str)],
        "assignees": people,
        "milestone": None,
        "locked": False,
        "comments": len(repo.comments.get(number, [])),
        "closed_at": pull.get("closed_at"),
        "created_at": pull.get("created_at") or iso(),
        "updated_at": pull.get("updated_at") or iso(),
        "author_association": "OWNER",
        "pull_request": {
            "url": f"{api}/pulls/{number}",
            "html_url": f"{_HTML}/{repo.full_name}/pull/{number}",
            "diff_url": f"{_HTML}/{repo.full_name}/pull/{number}.diff",
            "patch_url": f"{_HTML}/{repo.full_name}/pull/{number}.patch",
            "merged_at": merged,
        },
    }
    return shaped("Issue", issue)


def _everything(state: FakeGitHub, repo: FakeRepo) -> list[dict[str, Any]]:
    """Every issue and pull request of ``repo`` as issues (a copy, validated)."""
    found = [shaped("Issue", dict(issue)) for issue in repo.issues.values()]
    found += [
        _pull_as_issue(state, repo, int(number), pull)
        for number, pull in repo.pulls.items()
        if number not in repo.issues and isinstance(pull, dict)
    ]
    return found


def _issue_or_pull(state: FakeGitHub, repo: FakeRepo, number: int) -> dict[str, Any] | None:
    if number in repo.issues:
        return shaped("Issue", dict(repo.issues[number]))
    pull = repo.pulls.get(number)
    return _pull_as_issue(state, repo, number, pull) if isinstance(pull, dict) else None


# -- routes ----------------------------------------------------------------------------------------------------


def _number(request: Request) -> int | None:
    raw = str(request.path_params.get("number", ""))
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def _moment(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _label_names(issue: dict[str, Any]) -> set[str]:
    return {label["name"] if isinstance(label, dict) else label for label in issue.get("labels") or []}


def _logins(issue: dict[str, Any]) -> set[str]:
    return {person["login"] for person in issue.get("assignees") or [] if isinstance(person, dict)}


def _sorted(items: list[dict[str, Any]], sort: str, direction: str) -> list[dict[str, Any]]:
    def key(issue: dict[str, Any]) -> tuple[Any, int]:
        if sort == "comments":
            return (issue.get("comments") or 0, issue["number"])
        return (str(issue.get(f"{sort}_at") or ""), issue["number"])

    return sorted(items, key=key, reverse=direction != "asc")


async def list_issues(request: Request) -> Response:
    state = state_of(request)
    repo = found_repo(request)
    if repo is None:
        return not_found()
    query = request.query_params
    wanted_state = query.get("state", "open")
    items = [item for item in _everything(state, repo) if wanted_state == "all" or item["state"] == wanted_state]
    if query.get("labels"):
        needed = {name.strip() for name in query["labels"].split(",") if name.strip()}
        items = [item for item in items if needed <= _label_names(item)]
    assignee = query.get("assignee")
    if assignee == "none":
        items = [item for item in items if not _logins(item)]
    elif assignee == "*":
        items = [item for item in items if _logins(item)]
    elif assignee:
        items = [item for item in items if assignee in _logins(item)]
    if query.get("since"):
        since = _moment(query["since"])
        if since is None:
            return _invalid("since")
        items = [item for item in items if (_moment(item["updated_at"]) or NOW) >= since]
    sort = query.get("sort", "created")
    if sort not in ("created", "updated", "comments"):
        return _invalid("sort")
    return page(request, _sorted(items, sort, query.get("direction", "desc")))


async def get_issue(request: Request) -> Response:
    state = state_of(request)
    repo = found_repo(request)
    number = _number(request)
    issue = None if repo is None or number is None else _issue_or_pull(state, repo, number)
    return not_found() if issue is None else answer(issue)


async def create_issue(request: Request) -> Response:
    state = state_of(request)
    repo = found_repo(request)
    if repo is None:
        return not_found()
    body = await body_of(request)
    repo.extra.setdefault("issue_writes", []).append(("POST", request.url.path, body))
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        return _invalid("title", "missing_field")
    milestone = body.get("milestone")
    if milestone is not None and milestone not in _milestones(repo):
        return _invalid("milestone")
    issue = add_issue(
        state,
        repo,
        title,
        body.get("body"),
        author=request.scope["github_login"],
        labels=body.get("labels") or [],
        assignees=body.get("assignees") or [],
        milestone=milestone,
    )
    return answer(shaped("Issue", dict(issue)), 201)


async def update_issue(request: Request) -> Response:
    state = state_of(request)
    repo = found_repo(request)
    number = _number(request)
    if repo is None or number is None or number not in repo.issues:
        return not_found()
    body = await body_of(request)
    repo.extra.setdefault("issue_writes", []).append(("PATCH", request.url.path, body))
    issue = repo.issues[number]
    if "milestone" in body and body["milestone"] is not None and body["milestone"] not in _milestones(repo):
        return _invalid("milestone")
    if body.get("state") not in (None, "open", "closed"):
        return _invalid("state")
    for key in ("title", "body"):
        if key in body:
            issue[key] = body[key]
    if "labels" in body:
        issue["labels"] = [_label(state, repo, name) for name in body["labels"] or []]
    if "assignees" in body:
        people = [simple_user(state, login) for login in body["assignees"] or []]
        issue["assignees"], issue["assignee"] = people, people[0] if people else None
    if "milestone" in body:
        issue["milestone"] = _milestones(repo)[body["milestone"]] if body["milestone"] else None
    moment = _tick(repo)
    closing = body.get("state") == "closed" and issue["state"] != "closed"
    reopening = body.get("state") == "open" and issue["state"] == "closed"
    if closing:
        issue |= {
            "state": "closed",
            "closed_at": moment,
            "closed_by": simple_user(state, request.scope["github_login"]),
        }
        issue["state_reason"] = body.get("state_reason") or "completed"
    elif reopening:
        issue |= {"state": "open", "closed_at": None, "closed_by": None, "state_reason": "reopened"}
    elif body.get("state_reason"):
        issue["state_reason"] = body["state_reason"]
    issue["updated_at"] = moment
    return answer(shaped("Issue", dict(issue)))


async def list_comments(request: Request) -> Response:
    state = state_of(request)
    repo = found_repo(request)
    number = _number(request)
    if repo is None or number is None or _issue_or_pull(state, repo, number) is None:
        return not_found()
    return page(request, [shaped("IssueComment", dict(comment)) for comment in repo.comments.get(number, [])])


async def create_comment(request: Request) -> Response:
    state = state_of(request)
    repo = found_repo(request)
    number = _number(request)
    if repo is None or number is None or _issue_or_pull(state, repo, number) is None:
        return not_found()
    body = await body_of(request)
    repo.extra.setdefault("issue_writes", []).append(("POST", request.url.path, body))
    text = body.get("body")
    if not isinstance(text, str) or not text.strip():
        return answer({"message": "Validation Failed", "errors": [{"field": "body", "code": "missing_field"}]}, 422)
    comment = add_comment(state, repo, number, text, request.scope["github_login"])
    return answer(shaped("IssueComment", dict(comment)), 201)


async def list_sub_issues(request: Request) -> Response:
    repo = found_repo(request)
    number = _number(request)
    if repo is None or number is None or number not in repo.issues:
        return not_found()
    children = [shaped("Issue", dict(repo.issues[child])) for child in _sub_issues(repo).get(number, [])]
    return page(request, children)


async def add_sub_issue(request: Request) -> Response:
    repo = found_repo(request)
    number = _number(request)
    if repo is None or number is None or number not in repo.issues:
        return not_found()
    body = await body_of(request)
    repo.extra.setdefault("issue_writes", []).append(("POST", request.url.path, body))
    child = next((issue for issue in repo.issues.values() if issue["id"] == body.get("sub_issue_id")), None)
    if child is None:
        return not_found()
    if child["number"] == number:
        return _invalid("sub_issue_id")
    links = _sub_issues(repo)
    parents = [parent for parent, children in links.items() if child["number"] in children]
    if parents and not body.get("replace_parent"):
        return answer({"message": "Validation Failed", "errors": ["Issue may only have one parent"]}, 422)
    for parent in parents:
        links[parent].remove(child["number"])
        _summarise(repo, parent)
    links.setdefault(number, []).append(child["number"])
    child["parent_issue_url"] = repo.issues[number]["url"]
    _summarise(repo, number)
    return answer(shaped("Issue", dict(repo.issues[number])), 201)


def _summarise(repo: FakeRepo, parent: int) -> None:
    children = [repo.issues[child] for child in _sub_issues(repo).get(parent, [])]
    done = sum(1 for child in children if child["state"] == "closed")
    total = len(children)
    percent = done * 100 // total if total else 0
    repo.issues[parent]["sub_issues_summary"] = {"total": total, "completed": done, "percent_completed": percent}


# -- search ----------------------------------------------------------------------------------------------------


def _words(query: str) -> list[str]:
    try:
        return shlex.split(query)
    except ValueError:
        return query.split()


def _matches(issue: dict[str, Any], qualifiers: dict[str, list[str]], words: Sequence[str]) -> bool:
    kinds = set(qualifiers.get("is", []) + qualifiers.get("type", []))
    is_pull = "pull_request" in issue
    if kinds & {"issue"} and is_pull:
        return False
    if kinds & {"pr", "pull-request"} and not is_pull:
        return False
    states = set(qualifiers.get("state", [])) | (kinds & {"open", "closed"})
    if states and issue["state"] not in states:
        return False
    if any(name not in _label_names(issue) for name in qualifiers.get("label", [])):
        return False
    author = (issue.get("user") or {}).get("login")
    if qualifiers.get("author") and author not in qualifiers["author"]:
        return False
    text = f"{issue.get('title') or ''}\n{issue.get('body') or ''}".lower()
    return all(word.lower() in text for word in words)


async def search_issues(request: Request) -> Response:
    state = state_of(request)
    query = request.query_params.get("q", "")
    qualifiers: dict[str, list[str]] = {}
    words: list[str] = []
    for token in _words(query):
        key, colon, value = token.partition(":")
        if colon and key and value:
            qualifiers.setdefault(key.lower(), []).append(value)
        else:
            words.append(token)
    if not query.strip():
        return _invalid("q", "missing")
    wanted = set(qualifiers.get("repo", []))
    hits: list[dict[str, Any]] = []
    for repo in state.repos.values():
        if wanted and repo.full_name not in wanted:
            continue
        hits += [issue for issue in _everything(state, repo) if _matches(issue, qualifiers, words)]
    hits.sort(key=lambda issue: (str(issue.get("updated_at") or ""), issue["number"]), reverse=True)
    per_page = min(int(request.query_params.get("per_page", "30")), 100)
    number = int(request.query_params.get("page", "1"))
    chunk = hits[(number - 1) * per_page : number * per_page]
    items = [shaped("IssueSearchResultItem", issue | {"score": 1.0}) for issue in chunk]
    headers: dict[str, str] = {}
    if number * per_page < len(hits):
        following = request.url.include_query_params(page=number + 1, per_page=per_page)
        headers["link"] = f'<{following}>; rel="next"'
    result = {"total_count": len(hits), "incomplete_results": False, "items": items, "search_type": "lexical"}
    return answer(shaped("SearchIssuesGetResponse200", result), headers=headers)


_ISSUES = "/repos/{owner}/{repo}/issues"

ROUTES = [
    Route("/search/issues", search_issues),
    Route(_ISSUES, list_issues, methods=["GET"]),
    Route(_ISSUES, create_issue, methods=["POST"]),
    Route(f"{_ISSUES}/{{number}}", get_issue, methods=["GET"]),
    Route(f"{_ISSUES}/{{number}}", update_issue, methods=["PATCH"]),
    Route(f"{_ISSUES}/{{number}}/comments", list_comments, methods=["GET"]),
    Route(f"{_ISSUES}/{{number}}/comments", create_comment, methods=["POST"]),
    Route(f"{_ISSUES}/{{number}}/sub_issues", list_sub_issues, methods=["GET"]),
    Route(f"{_ISSUES}/{{number}}/sub_issues", add_sub_issue, methods=["POST"]),
]
