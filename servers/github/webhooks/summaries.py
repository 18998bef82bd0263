"""One line per webhook event, for the event feed and listings: what happened, by whom, on what.

User-written text (titles, commit messages, comment bodies) is cut to its first line and cleaned of invisible
characters and hidden HTML comments (``shared.untrusted``), like every answer of the github server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from servers.github.models import as_dict, as_list, number, text
from shared.untrusted import clean

__all__ = ["MAX_SUMMARY", "branch_of", "labels_of", "summarize"]

MAX_SUMMARY = 300
_TITLE = 120


def _line(value: str | None, limit: int = _TITLE) -> str:
    cleaned, _ = clean(value or "")
    first = (cleaned or "").strip().splitlines()[0] if (cleaned or "").strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _who(payload: Mapping[str, Any]) -> str:
    return text(as_dict(payload.get("sender")), "login") or "someone"


def _short(sha: str | None) -> str:
    return (sha or "?")[:7]


def branch_of(event: str, payload: Mapping[str, Any]) -> str | None:
    """The branch an event is about, where it has one (push ref, PR base, run head branch, created ref)."""
    if event == "push" or (event in ("create", "delete") and payload.get("ref_type") == "branch"):
        ref = text(payload, "ref") or ""
        return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") or event != "push" else None
    if event in ("pull_request", "pull_request_review", "pull_request_review_comment"):
        return text(as_dict(as_dict(payload.get("pull_request")).get("base")), "ref")
    if event == "workflow_run":
        return text(as_dict(payload.get("workflow_run")), "head_branch")
    if event == "workflow_job":
        return text(as_dict(payload.get("workflow_job")), "head_branch")
    if event == "check_suite":
        return text(as_dict(payload.get("check_suite")), "head_branch")
    if event == "check_run":
        return text(as_dict(as_dict(payload.get("check_run")).get("check_suite")), "head_branch")
    return None


def labels_of(payload: Mapping[str, Any]) -> list[str]:
    """The label an event is about (``labeled``), else the labels of its issue or pull request."""
    label = text(as_dict(payload.get("label")), "name")
    if label:
        return [label]
    subject = as_dict(payload.get("issue")) or as_dict(payload.get("pull_request"))
    return [name for item in as_list(subject.get("labels")) if (name := text(item, "name"))]


def _issues(action: str, p: Mapping[str, Any]) -> str:
    issue = as_dict(p.get("issue"))
    what = f"issue #{number(issue, 'number')}"
    if action in ("labeled", "unlabeled"):
        return f"label {_line(text(as_dict(p.get('label')), 'name'), 50)!r} {action[:-2]}ed on {what} by {_who(p)}"
    return f"{what} {action} by {_who(p)}: {_line(text(issue, 'title'))}"


def _issue_comment(action: str, p: Mapping[str, Any]) -> str:
    issue = as_dict(p.get("issue"))
    kind = "PR" if issue.get("pull_request") else "issue"
    body = _line(text(as_dict(p.get("comment")), "body"), 80)
    verb = "commented on" if action == "created" else f"{action} a comment on"
    return f"{_who(p)} {verb} {kind} #{number(issue, 'number')}: {body}"


def _pull_request(action: str, p: Mapping[str, Any]) -> str:
    pull = as_dict(p.get("pull_request"))
    what = f"PR #{number(pull, 'number') or number(p, 'number')}"
    if action == "closed" and pull.get("merged"):
        return f"{what} merged by {_who(p)}: {_line(text(pull, 'title'))}"
    if action == "synchronize":
        return f"{what} updated with new commits by {_who(p)} (head {_short(text(as_dict(pull.get('head')), 'sha'))})"
    if action in ("labeled", "unlabeled"):
        return f"label {_line(text(as_dict(p.get('label')), 'name'), 50)!r} {action[:-2]}ed on {what} by {_who(p)}"
    if action == "review_requested":
        reviewer = text(as_dict(p.get("requested_reviewer")), "login") or text(as_dict(p.get("requested_team")), "name")
        return f"{what}: review requested from {reviewer or '?'} by {_who(p)}"
    return f"{what} {action} by {_who(p)}: {_line(text(pull, 'title'))}"


def _review(action: str, p: Mapping[str, Any]) -> str:
    review = as_dict(p.get("review"))
    state = (text(review, "state") or action).lower().replace("_", " ")
    return f"{_who(p)} {state} PR #{number(as_dict(p.get('pull_request')), 'number')}"


def _review_comment(action: str, p: Mapping[str, Any]) -> str:
    comment = as_dict(p.get("comment"))
    where = text(comment, "path") or "?"
    return (
        f"{_who(p)} commented on PR #{number(as_dict(p.get('pull_request')), 'number')} at {where}: "
        f"{_line(text(comment, 'body'), 80)}"
    )


def _push(action: str, p: Mapping[str, Any]) -> str:
    ref = text(p, "ref") or "?"
    name = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    kind = "tag" if ref.startswith("refs/tags/") else "branch"
    if p.get("deleted"):
        return f"{kind} {name} deleted by {_who(p)}"
    commits = as_list(p.get("commits"))
    head = _line(text(as_dict(p.get("head_commit")), "message"), 80)
    forced = " (forced)" if p.get("forced") else ""
    plural = "" if len(commits) == 1 else "s"
    return f"{_who(p)} pushed {len(commits)} commit{plural} to {kind} {name}{forced}: {head}"


def _check_run(action: str, p: Mapping[str, Any]) -> str:
    run = as_dict(p.get("check_run"))
    outcome = text(run, "conclusion") or text(run, "status") or action
    branch = text(as_dict(run.get("check_suite")), "head_branch")
    on = f" on {branch}" if branch else ""
    return f"check run {_line(text(run, 'name'), 80)!r} {action}: {outcome} at {_short(text(run, 'head_sha'))}{on}"


def _check_suite(action: str, p: Mapping[str, Any]) -> str:
    suite = as_dict(p.get("check_suite"))
    outcome = text(suite, "conclusion") or text(suite, "status") or action
    app = text(as_dict(suite.get("app")), "name") or "checks"
    branch = text(suite, "head_branch")
    on = f" on {branch}" if branch else ""
    return f"check suite of {_line(app, 60)} {action}: {outcome} at {_short(text(suite, 'head_sha'))}{on}"


def _workflow_run(action: str, p: Mapping[str, Any]) -> str:
    run = as_dict(p.get("workflow_run"))
    outcome = f": {text(run, 'conclusion')}" if text(run, "conclusion") else ""
    return (
        f"workflow {_line(text(run, 'name'), 80)!r} run #{number(run, 'run_number')} {action}{outcome} "
        f"on {text(run, 'head_branch') or '?'} ({text(run, 'event') or '?'}), run id {number(run, 'id')}"
    )


def _workflow_job(action: str, p: Mapping[str, Any]) -> str:
    job = as_dict(p.get("workflow_job"))
    outcome = f": {text(job, 'conclusion')}" if text(job, "conclusion") else ""
    return f"job {_line(text(job, 'name'), 80)!r} {action}{outcome} (run id {number(job, 'run_id')})"


def _release(action: str, p: Mapping[str, Any]) -> str:
    release = as_dict(p.get("release"))
    return f"release {_line(text(release, 'tag_name'), 60)} {action} by {_who(p)}: {_line(text(release, 'name'))}"


def _ref(event: str) -> Callable[[str, Mapping[str, Any]], str]:
    def summary(action: str, p: Mapping[str, Any]) -> str:
        return f"{text(p, 'ref_type') or 'ref'} {_line(text(p, 'ref'), 100)} {event}d by {_who(p)}"

    return summary


def _ping(action: str, p: Mapping[str, Any]) -> str:
    hook = as_dict(p.get("hook"))
    events = ", ".join(str(e) for e in as_list(hook.get("events"))[:10]) or "?"
    return f"ping: hook {number(p, 'hook_id') or number(hook, 'id')} is set up for {events}"


_SUMMARIES: dict[str, Callable[[str, Mapping[str, Any]], str]] = {
    "issues": _issues,
    "issue_comment": _issue_comment,
    "pull_request": _pull_request,
    "pull_request_review": _review,
    "pull_request_review_comment": _review_comment,
    "push": _push,
    "check_run": _check_run,
    "check_suite": _check_suite,
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "release": _release,
    "create": _ref("create"),
    "delete": _ref("delete"),
    "ping": _ping,
}


def summarize(event: str, payload: Mapping[str, Any] | None) -> str:
    """The event in one line (at most :data:`MAX_SUMMARY` characters)."""
    if payload is None:
        return f"{event}: the body is not JSON; nothing was processed"
    action = text(payload, "action") or ""
    describe = _SUMMARIES.get(event)
    try:
        line = describe(action, payload) if describe else f"{event}{'.' + action if action else ''} by {_who(payload)}"
    except (TypeError, ValueError):  # a payload of an unexpected shape still gets a line
        line = f"{event}{'.' + action if action else ''}"
    return line if len(line) <= MAX_SUMMARY else line[: MAX_SUMMARY - 1] + "…"
