"""The fake's pull request endpoints: pulls, their files, reviews, requested reviewers, merges; check runs and
combined statuses per commit; the required status checks of a protected branch.

A pull request is stored in ``FakeRepo.pulls[number]`` as a dict of what varies (``title``, ``body``, ``user``
(a login), ``state``, ``draft``, ``head`` and ``base`` (branch names), ``base_sha`` (the merge base: the base
branch's head when the pull request was opened), ``mergeable``, ``merged_at``, ``merge_commit_sha``...). While
open, its head commit is the head branch's ref; once closed it is frozen in ``head_sha``. Answers are built in
GitHub's shapes and validated with githubkit's models.

Tests seed with :func:`open_pull`, :func:`add_check_run`, :func:`add_status`, :func:`add_review` and
:func:`protect`, or by setting ``FakeRepo.check_runs`` (sha -> ``{name, status, conclusion}``),
``statuses`` (sha -> ``{context, state}``) and ``required_checks`` (branch -> contexts) directly. The token's
user is an admin of every repository and branch protection does not bind admins here (GitHub's
``enforce_admins`` off): the merge endpoint itself never refuses over checks, so the server's own gate is what
a test sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.github_fake.app import answer, body_of, found_repo, not_found, page, state_of
from tests.github_fake.git import add_commit, add_tree, commit_files, diff, files_at, head, resolve
from tests.github_fake.payloads import iso, repository, shaped, simple_user
from tests.github_fake.state import FakeGitHub, FakeRepo, next_id

__all__ = [
    "ROUTES",
    "add_check_run",
    "add_review",
    "add_status",
    "head_of",
    "open_pull",
    "protect",
]

_HTML = "https://github.test"
_REVIEW_STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


# -- seeding -----------------------------------------------------------------------------------------------------


def open_pull(
    state: FakeGitHub,
    repo: FakeRepo,
    branch: str,
    files: Mapping[str, str | None] | None = None,
    *,
    base: str | None = None,
    title: str = "Add the cart",
    body: str | None = "Adds a cart.",
    user: str = "alice",
    draft: bool = False,
) -> int:
    """Branch ``branch`` off ``base`` with ``files`` committed (unless it exists) and a pull request from it."""
    base = base or repo.default_branch
    if head(repo, branch) is None:
        changes: dict[str, str | bytes | None] = dict(files or {"cart.py": "def cart():\n    return []\n"})
        commit_files(repo, branch, changes, title, parent=head(repo, base))
    state.user(user)
    number = repo.take_number()
    repo.pulls[number] = _new_pull(repo, number, title, body, user, branch, base, draft)
    return number


def head_of(repo: FakeRepo, number: int) -> str:
    """The head commit of pull request ``number``."""
    sha = _head_sha(repo, repo.pulls[number])
    assert sha is not None
    return sha


def add_check_run(
    repo: FakeRepo, sha: str, name: str, status: str = "completed", conclusion: str | None = "success"
) -> dict[str, Any]:
    """A check run ``name`` on commit ``sha`` (``status`` queued/in_progress/completed, ``conclusion`` when done)."""
    run = {"id": next_id(), "name": name, "status": status, "conclusion": conclusion if status == "completed" else None}
    repo.check_runs.setdefault(sha, []).append(run)
    return run


def add_status(repo: FakeRepo, sha: str, context: str, state: str = "success") -> dict[str, Any]:
    """A commit status ``context`` on ``sha`` (``state`` success, pending, failure or error)."""
    status = {"id": next_id(), "context": context, "state": state}
    repo.statuses.setdefault(sha, []).append(status)
    return status


def add_review(
    repo: FakeRepo, number: int, login: str, review_state: str = "APPROVED", body: str = ""
) -> dict[str, Any]:
    """A submitted review of pull request ``number`` by ``login`` (APPROVED, CHANGES_REQUESTED, COMMENTED...)."""
    review = {
        "id": next_id(),
        "user": login,
        "state": review_state,
        "body": body,
        "commit_id": head_of(repo, number),
        "submitted_at": iso(),
        "comments": [],
    }
    repo.reviews.setdefault(number, []).append(review)
    return review


def protect(repo: FakeRepo, branch: str, *contexts: str) -> None:
    """Protect ``branch``, requiring the checks ``contexts``."""
    repo.required_checks[branch] = list(contexts)


# -- state -------------------------------------------------------------------------------------------------------


def _new_pull(
    repo: FakeRepo, number: int, title: str, body: str | None, user: str, branch: str, base: str, draft: bool
) -> dict[str, Any]:
    return {
        "id": next_id(),
        "number": number,
        "title": title,
        "body": body,
        "user": user,
        "state": "open",
        "draft": draft,
        "head": branch,
        "base": base,
        "base_sha": head(repo, base),
        "head_sha": None,
        "mergeable": True,
        "merged_at": None,
        "merged_by": None,
        "merge_commit_sha": None,
        "closed_at": None,
        "created_at": iso(),
        "updated_at": iso(),
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [],
        "assignees": [],
    }


def _head_sha(repo: FakeRepo, pull: dict[str, Any]) -> str | None:
    return pull.get("head_sha") or head(repo, pull["head"])


def _files(repo: FakeRepo, pull: dict[str, Any]) -> list[dict[str, Any]]:
    """The pull request's changed files: the head's tree against the merge base's."""
    base_sha, head_sha = pull.get("base_sha"), _head_sha(repo, pull)
    before = files_at(repo, base_sha) if base_sha else {}
    after = files_at(repo, head_sha) if head_sha else {}
    return diff(repo, before, after)


def _check_states(repo: FakeRepo, sha: str | None) -> dict[str, str]:
    """Check run and status names on ``sha`` -> success, failure or pending (the worst wins)."""
    states: dict[str, str] = {}
    rank = {"success": 0, "pending": 1, "failure": 2}
    for run in repo.check_runs.get(sha or "", []):
        done = run.get("status", "completed") == "completed"
        passed = run.get("conclusion") in ("success", "neutral", "skipped")
        state = "pending" if not done else "success" if passed else "failure"
        states[run["name"]] = state
    for status in repo.statuses.get(sha or "", []):
        raw = status.get("state", "pending")
        state = raw if raw in ("success", "pending") else "failure"
        if rank[state] >= rank[states.get(status["context"], "success")]:
            states[status["context"]] = state
    return states


def _mergeable_state(repo: FakeRepo, pull: dict[str, Any]) -> str:
    if "mergeable_state" in pull:
        return str(pull["mergeable_state"])
    if pull["state"] != "open":
        return "unknown"
    if pull.get("draft"):
        return "draft"
    if pull.get("mergeable") is False:
        return "dirty"
    checks = _check_states(repo, _head_sha(repo, pull))
    if any(checks.get(name) != "success" for name in repo.required_checks.get(pull["base"], [])):
        return "blocked"
    return "unstable" if any(state != "success" for state in checks.values()) else "clean"


# -- payloads ----------------------------------------------------------------------------------------------------


def _branch(state: FakeGitHub, repo: FakeRepo, branch: str, sha: str | None) -> dict[str, Any]:
    full = shaped("Repository", dict(repository(state, repo)), f"{state.base_url}/repos/{repo.full_name}")
    return {
        "label": f"{repo.owner}:{branch}",
        "ref": branch,
        "repo": full,
        "sha": sha or "0" * 40,
        "user": simple_user(state, repo.owner),
    }


def _team(state: FakeGitHub, repo: FakeRepo, slug: str) -> dict[str, Any]:
    return shaped(
        "Team",
        {
            "id": state.user(f"team:{slug}"),
            "node_id": f"T_{slug}",
            "name": slug,
            "slug": slug,
            "description": None,
            "permission": "push",
            "html_url": f"{_HTML}/orgs/{repo.owner}/teams/{slug}",
            "type": "organization",
            "parent": None,
        },
        f"{state.base_url}/orgs/{repo.owner}/teams/{slug}",
    )


def _pull_payload(state: FakeGitHub, repo: FakeRepo, pull: dict[str, Any], *, full: bool) -> dict[str, Any]:
    number = pull["number"]
    api = f"{state.base_url}/repos/{repo.full_name}"
    html = f"{_HTML}/{repo.full_name}/pull/{number}"
    links = {
        "comments": f"{api}/issues/{number}/comments",
        "commits": f"{api}/pulls/{number}/commits",
        "statuses": f"{api}/statuses/{_head_sha(repo, pull)}",
        "html": html,
        "issue": f"{api}/issues/{number}",
        "review_comments": f"{api}/pulls/{number}/comments",
        "review_comment": f"{api}/pulls/comments{{/number}}",
        "self": f"{api}/pulls/{number}",
    }
    merged = pull.get("merged_at") is not None
    payload: dict[str, Any] = {
        "id": pull["id"],
        "node_id": f"PR_{pull['id']}",
        "html_url": html,
        "number": number,
        "state": pull["state"],
        "locked": False,
        "title": pull["title"],
        "user": simple_user(state, pull["user"]),
        "body": pull.get("body"),
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": pull["created_at"],
        "updated_at": pull["updated_at"],
        "closed_at": pull.get("closed_at"),
        "merged_at": pull.get("merged_at"),
        "merge_commit_sha": pull.get("merge_commit_sha"),
        "assignees": [],
        "requested_reviewers": [simple_user(state, login) for login in pull["requested_reviewers"]],
        "requested_teams": [_team(state, repo, slug) for slug in pull["requested_teams"]],
        "head": _branch(state, repo, pull["head"], _head_sha(repo, pull)),
        "base": _branch(state, repo, pull["base"], head(repo, pull["base"])),
        "_links": {key: {"href": href} for key, href in links.items()},
        "author_association": "OWNER" if pull["user"] == repo.owner else "CONTRIBUTOR",
        "auto_merge": None,
        "draft": pull.get("draft", False),
    }
    if not full:
        return shaped("PullRequestSimple", payload, f"{api}/pulls/{number}")
    changes = _files(repo, pull)
    payload |= {
        "merged": merged,
        "mergeable": None if merged else pull.get("mergeable", True),
        "rebaseable": None if merged else pull.get("mergeable", True),
        "mergeable_state": _mergeable_state(repo, pull),
        "merged_by": simple_user(state, pull["merged_by"]) if pull.get("merged_by") else None,
        "comments": 0,
        "review_comments": sum(len(review["comments"]) for review in repo.reviews.get(number, [])),
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": sum(change["additions"] for change in changes),
        "deletions": sum(change["deletions"] for change in changes),
        "changed_files": len(changes),
    }
    return shaped("PullRequest", payload, f"{api}/pulls/{number}")


def _review_payload(state: FakeGitHub, repo: FakeRepo, number: int, review: dict[str, Any]) -> dict[str, Any]:
    api = f"{state.base_url}/repos/{repo.full_name}/pulls/{number}"
    html = f"{_HTML}/{repo.full_name}/pull/{number}#pullrequestreview-{review['id']}"
    payload = {
        "id": review["id"],
        "node_id": f"PRR_{review['id']}",
        "user": simple_user(state, review["user"]),
        "body": review.get("body") or "",
        "state": review["state"],
        "html_url": html,
        "pull_request_url": api,
        "_links": {"html": {"href": html}, "pull_request": {"href": api}},
        "submitted_at": review.get("submitted_at") or iso(),
        "commit_id": review.get("commit_id"),
        "author_association": "OWNER" if review["user"] == repo.owner else "CONTRIBUTOR",
    }
    return shaped("PullRequestReview", payload, f"{api}/reviews/{review['id']}")


def _file_payload(state: FakeGitHub, repo: FakeRepo, change: dict[str, Any]) -> dict[str, Any]:
    blob = f"{_HTML}/{repo.full_name}/blob/{change['sha']}/{change['filename']}"
    payload = change | {"blob_url": blob, "raw_url": blob.replace("/blob/", "/raw/")}
    return shaped("DiffEntry", payload, f"{state.base_url}/repos/{repo.full_name}/contents/{change['filename']}")


def _check_run_payload(state: FakeGitHub, repo: FakeRepo, sha: str, run: dict[str, Any]) -> dict[str, Any]:
    run_id = run.get("id") or next_id()
    completed = run.get("status", "completed") == "completed"
    app = {
        "id": 15368,
        "slug": "github-actions",
        "node_id": "MDM6QXBwMTUzNjg=",
        "owner": simple_user(state, "github"),
        "name": "GitHub Actions",
        "description": "Automate your workflow",
        "external_url": "https://help.github.com/en/actions",
        "html_url": f"{_HTML}/apps/github-actions",
        "created_at": iso(),
        "updated_at": iso(),
        "permissions": {"checks": "write", "contents": "read"},
        "events": ["check_run"],
    }
    payload = {
        "id": run_id,
        "head_sha": sha,
        "node_id": f"CR_{run_id}",
        "external_id": str(run_id),
        "html_url": f"{_HTML}/{repo.full_name}/runs/{run_id}",
        "details_url": f"{_HTML}/{repo.full_name}/actions/runs/{run_id}",
        "status": run.get("status", "completed"),
        "conclusion": run.get("conclusion") if completed else None,
        "started_at": iso(),
        "completed_at": iso() if completed else None,
        "output": {
            "title": None,
            "summary": None,
            "text": None,
            "annotations_count": 0,
            "annotations_url": f"{state.base_url}/repos/{repo.full_name}/check-runs/{run_id}/annotations",
        },
        "name": run["name"],
        "check_suite": {"id": run_id + 1},
        "app": app,
        "pull_requests": [],
    }
    return shaped("CheckRun", payload, f"{state.base_url}/repos/{repo.full_name}/check-runs/{run_id}")


# -- routes ------------------------------------------------------------------------------------------------------


def _invalid(message: str, *errors: Any, status: int = 422) -> Response:
    body: dict[str, Any] = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    if errors:
        body["errors"] = list(errors)
    return answer(body, status)


def _found(request: Request) -> tuple[FakeGitHub, FakeRepo, dict[str, Any]] | None:
    repo = found_repo(request)
    raw = str(request.path_params.get("number", ""))
    if repo is None or not raw.isdigit() or len(raw) > 11:
        return None
    pull = repo.pulls.get(int(raw))
    return (state_of(request), repo, pull) if isinstance(pull, dict) else None


async def list_pulls(request: Request) -> Response:
    repo = found_repo(request)
    if repo is None:
        return not_found()
    state, query = state_of(request), request.query_params
    wanted = query.get("state", "open")
    pulls = [pull for pull in repo.pulls.values() if wanted == "all" or pull["state"] == wanted]
    if head_filter := query.get("head"):
        owner, _, branch = head_filter.rpartition(":")
        pulls = [pull for pull in pulls if pull["head"] == branch and owner in ("", repo.owner)]
    if base_filter := query.get("base"):
        pulls = [pull for pull in pulls if pull["base"] == base_filter]
    key = "updated_at" if query.get("sort") == "updated" else "number"
    pulls.sort(key=lambda pull: (pull[key], pull["number"]), reverse=query.get("direction", "desc") == "desc")
    return page(request, [_pull_payload(state, repo, pull, full=False) for pull in pulls])


async def create_pull(request: Request) -> Response:
    repo = found_repo(request)
    if repo is None:
        return not_found()
    state, body = state_of(request), await body_of(request)
    title, head_name, base = body.get("title"), str(body.get("head") or ""), str(body.get("base") or "")
    branch = head_name.rpartition(":")[2]
    if not isinstance(title, str) or not title.strip():
        return _invalid("Validation Failed", {"resource": "PullRequest", "field": "title", "code": "missing_field"})
    for field, name in (("head", branch), ("base", base)):
        if head(repo, name) is None:
            return _invalid("Validation Failed", {"resource": "PullRequest", "field": field, "code": "invalid"})
    if head(repo, branch) == head(repo, base):
        return _invalid(
            "Validation Failed",
            {"resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {branch}"},
        )
    for pull in repo.pulls.values():
        if pull["state"] == "open" and pull["head"] == branch and pull["base"] == base:
            message = f"A pull request already exists for {repo.owner}:{branch}."
            return _invalid("Validation Failed", {"resource": "PullRequest", "code": "custom", "message": message})
    number = repo.take_number()
    pull = _new_pull(repo, number, title, body.get("body"), request.scope["github_login"], branch, base, False)
    pull["draft"] = bool(body.get("draft", False))
    repo.pulls[number] = pull
    return answer(_pull_payload(state, repo, pull, full=True), 201)


async def get_pull(request: Request) -> Response:
    found = _found(request)
    if found is None:
        return not_found()
    state, repo, pull = found
    return answer(_pull_payload(state, repo, pull, full=True))


async def update_pull(request: Request) -> Response:
    found = _found(request)
    if found is None:
        return not_found()
    state, repo, pull = found
    body = await body_of(request)
    if "base" in body and head(repo, str(body["base"])) is None:
        return _invalid("Validation Failed", {"resource": "PullRequest", "field": "base", "code": "invalid"})
    if body.get("state") == "open" and pull.get("merged_at"):
        return _invalid(
            "Validation Failed",
            {
                "resource": "PullRequest",
                "code": "custom",
                "message": "state cannot be changed. The pull request cannot be reopened.",
            },
        )
    for key in ("title", "body", "base"):
        if key in body:
            pull[key] = body[key]
    if body.get("state") in ("open", "closed") and body["state"] != pull["state"]:
        pull["state"] = body["state"]
        pull["closed_at"] = iso() if body["state"] == "closed" else None
        pull["head_sha"] = head(repo, pull["head"]) if body["state"] == "closed" else None
    pull["updated_at"] = iso()
    return answer(_pull_payload(state, repo, pull, full=True))


async def list_files(request: Request) -> Response:
    found = _found(request)
    if found is None:
        return not_found()
    state, repo, pull = found
    return page(request, [_file_payload(state, repo, change) for change in _files(repo, pull)])


async def list_reviews(request: Request) -> Response:
    found = _found(request)
    if found is None:
        return not_found()
    state, repo, pull = found
    reviews = repo.reviews.get(pull["number"], [])
    return page(request, [_review_payload(state, repo, pull["number"], review) for review in reviews])


async def create_review(request: Request) -> Response:
    found = _found(request)
    if found is None:
        return not_found()
    state, repo, pull = found
    body, reviewer = await body_of(request), request.scope["github_login"]
    event = body.get("event")
    if event is not None and event not in _REVIEW_STATES:
        return _invalid("Validation Failed", {"resource": "PullRequestReview", "field": "event", "code": "invalid"})
    if reviewer == pull["user"] and event in ("APPROVE", "REQUEST_CHANGES"):
        verb = "approve" if event == "APPROVE" else "request changes on"
        return _invalid("Unprocessable Entity", f"Review Can not {verb} your own pull request")
    files = {change["filename"]: change for change in _files(repo, pull)}
    comments: list[dict[str, Any]] = []
    for comment in body.get("comments") or []:
        if comment.get("path") not in files:
            return _invalid("Unprocessable Entity", "Path could not be resolved")
        if not isinstance(comment.get("line"), int) or comment["line"] < 1:
            return _invalid("Unprocessable Entity", "Line could not be resolved")
        comments.append({"id": next_id(), **comment})
    review = {
        "id": next_id(),
        "user": reviewer,
        "state": _REVIEW_STATES.get(event or "", "PENDING"),
        "body": body.get("body") or "",
        "commit_id": body.get("commit_id") or _head_sha(repo, pull),
        "submitted_at": iso() if event else None,
        "comments": comments,
    }
    repo.reviews.setdefault(pull["number"], []).append(review)
    if reviewer in pull["requested_reviewers"]:
        pull["requested_reviewers"].remove(reviewer)
    return answer(_review_payload(state, repo, pull["number"], review))


async def request_reviewers(request: Request) -> Response:
    found = _found(request)
    if found is None:
        return not_found()
    state, repo, pull = found
    body = await body_of(request)
    users = [login for login in body.get("reviewers") or [] if isinstance(login, str)]
    teams = [slug for slug in body.get("team_reviewers") or [] if isinstance(slug, str)]
    if pull["user"] in users:
        return _invalid("Review cannot be requested from pull request author.")
    for login in users:
        state.user(login)
        if login not in pull["requested_reviewers"]:
            pull["requested_reviewers"].append(login)
    for slug in teams:
        if slug not in pull["requested_teams"]:
            pull["requested_teams"].append(slug)
    return answer(_pull_payload(state, repo, pull, full=False), 201)


async def merge_pull(request: Request) -> Response:
    found = _found(request)
    if found is None:
        return not_found()
    _, repo, pull = found
    body = await body_of(request)
    head_sha = _head_sha(repo, pull)
    if pull["state"] != "open" or pull.get("draft") or pull.get("mergeable") is False:
        return _invalid("Pull Request is not mergeable", status=405)
    if body.get("sha") and body["sha"] != head_sha:
        return _invalid("Head branch was modified. Review and try the merge again.", status=409)
    method = body.get("merge_method", "merge")
    if method not in ("merge", "squash", "rebase"):
        return _invalid("Validation Failed", {"resource": "PullRequest", "field": "merge_method", "code": "invalid"})
    assert head_sha is not None
    title = body.get("commit_title") or f"{pull['title']} (#{pull['number']})"
    message = title + (f"\n\n{body['commit_message']}" if body.get("commit_message") else "")
    base_head = head(repo, pull["base"])
    merged_files = files_at(repo, base_head) if base_head else {}
    for change in _files(repo, pull):
        path = change["filename"]
        if change["status"] == "removed":
            merged_files.pop(path, None)
        else:
            merged_files[path] = files_at(repo, head_sha)[path]
    parents = [sha for sha in (base_head, head_sha if method == "merge" else None) if sha]
    sha = add_commit(repo, add_tree(repo, merged_files), message, parents, author=request.scope["github_login"])
    repo.refs[f"heads/{pull['base']}"] = sha
    pull |= {
        "state": "closed",
        "head_sha": head_sha,
        "merged_at": iso(),
        "closed_at": iso(),
        "updated_at": iso(),
        "merged_by": request.scope["github_login"],
        "merge_commit_sha": sha,
    }
    return answer(
        shaped("PullRequestMergeResult", {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})
    )


async def list_check_runs(request: Request) -> Response:
    repo = found_repo(request)
    sha = resolve(repo, request.path_params["ref"]) if repo else None
    if repo is None or sha is None:
        return not_found()
    state = state_of(request)
    latest: dict[str, dict[str, Any]] = {}
    for run in repo.check_runs.get(sha, []):  # filter=latest, GitHub's default: the newest run of each name
        latest[run["name"]] = run
    runs = [_check_run_payload(state, repo, sha, run) for run in latest.values()]
    per_page = min(int(request.query_params.get("per_page", "30")), 100)
    number = int(request.query_params.get("page", "1"))
    chunk = runs[(number - 1) * per_page : number * per_page]
    headers: dict[str, str] = {}
    if number * per_page < len(runs):
        headers["link"] = f'<{request.url.include_query_params(page=number + 1)}>; rel="next"'
    payload = shaped("ReposOwnerRepoCommitsRefCheckRunsGetResponse200", {"total_count": len(runs), "check_runs": chunk})
    return answer(payload, headers=headers)


async def combined_status(request: Request) -> Response:
    repo = found_repo(request)
    sha = resolve(repo, request.path_params["ref"]) if repo else None
    if repo is None or sha is None:
        return not_found()
    state = state_of(request)
    latest: dict[str, dict[str, Any]] = {}
    for status in repo.statuses.get(sha, []):  # the newest status of each context
        latest[status["context"]] = status
    statuses = [
        shaped(
            "SimpleCommitStatus",
            {
                "description": status.get("description"),
                "id": status.get("id") or next_id(),
                "node_id": f"SC_{status.get('id')}",
                "state": status["state"],
                "context": status["context"],
                "created_at": iso(),
                "updated_at": iso(),
            },
        )
        for status in latest.values()
    ]
    states = {status["state"] for status in statuses}
    combined = (
        "failure" if states & {"failure", "error"} else "pending" if "pending" in states or not statuses else "success"
    )
    api = f"{state.base_url}/repos/{repo.full_name}"
    minimal = shaped("MinimalRepository", dict(repository(state, repo)), api)
    payload = {
        "state": combined,
        "statuses": statuses,
        "sha": sha,
        "total_count": len(statuses),
        "repository": minimal,
        "commit_url": f"{api}/commits/{sha}",
        "url": f"{api}/commits/{sha}/status",
    }
    return answer(shaped("CombinedCommitStatus", payload))


async def required_status_checks(request: Request) -> Response:
    repo = found_repo(request)
    if repo is None:
        return not_found()
    branch = request.path_params["branch"]
    if head(repo, branch) is None:
        return _invalid("Branch not found", status=404)
    if branch not in repo.required_checks:
        return _invalid("Branch not protected", status=404)
    contexts = repo.required_checks[branch]
    api = f"{state_of(request).base_url}/repos/{repo.full_name}/branches/{branch}/protection/required_status_checks"
    payload = {
        "url": api,
        "strict": False,
        "contexts": contexts,
        "checks": [{"context": context, "app_id": None} for context in contexts],
        "contexts_url": f"{api}/contexts",
    }
    return answer(shaped("StatusCheckPolicy", payload))


_REPO = "/repos/{owner}/{repo}"
_PULL = _REPO + "/pulls/{number}"

ROUTES = [
    Route(f"{_REPO}/pulls", list_pulls, methods=["GET"]),
    Route(f"{_REPO}/pulls", create_pull, methods=["POST"]),
    Route(_PULL, get_pull, methods=["GET"]),
    Route(_PULL, update_pull, methods=["PATCH"]),
    Route(f"{_PULL}/files", list_files, methods=["GET"]),
    Route(f"{_PULL}/reviews", list_reviews, methods=["GET"]),
    Route(f"{_PULL}/reviews", create_review, methods=["POST"]),
    Route(f"{_PULL}/requested_reviewers", request_reviewers, methods=["POST"]),
    Route(f"{_PULL}/merge", merge_pull, methods=["PUT"]),
    Route(f"{_REPO}/commits/{{ref}}/check-runs", list_check_runs, methods=["GET"]),
    Route(f"{_REPO}/commits/{{ref}}/status", combined_status, methods=["GET"]),
    Route(f"{_REPO}/branches/{{branch:path}}/protection/required_status_checks", required_status_checks),
]
