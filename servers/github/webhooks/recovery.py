"""Recovering deliveries GitHub failed to send: read a hook's record of deliveries through the API (a
repository's, an organisation's, or the GitHub App's hook) and ask GitHub to redeliver the failed ones since a
time, skipping those already stored here (GitHub's record can say "failed" for a delivery we stored, when our
answer came too late).

GitHub keeps a hook's deliveries for a few days and redelivers only from that record. A delivery is failed when
no attempt of its ``guid`` (the ``X-GitHub-Delivery`` id) got a 2xx answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from servers.github.client import GitHubClient
from servers.github.models import as_dict, as_list, number, text
from servers.github.paths import repo_path, segment
from servers.github.webhooks.store import DeliveryStore
from shared.errors import InvalidRequest, NotFound

__all__ = ["Recovery", "recover"]

_PAGE = 100
_MAX_PAGES = 20  # 2,000 attempts: GitHub keeps about three days of them
_INTAKE_PATH = "/webhooks/github"


@dataclass
class Recovery:
    """What a recovery found and did."""

    hook: str
    scanned: int = 0
    failed: list[str] = field(default_factory=list[str])  # guids with no 2xx attempt, oldest first
    already_stored: list[str] = field(default_factory=list[str])
    redelivered: list[str] = field(default_factory=list[str])
    errors: list[str] = field(default_factory=list[str])
    complete: bool = True  # False: the scan stopped at its page cap before reaching ``since``


async def recover(
    github: GitHubClient,
    store: DeliveryStore,
    *,
    owner: str | None,
    repo: str | None,
    hook_id: int | None,
    since: datetime,
    limit: int,
    dry_run: bool,
) -> Recovery:
    """Find the failed deliveries of a hook since ``since`` and (unless ``dry_run``) ask for at most ``limit``
    redeliveries. Without ``owner`` the hook is the GitHub App's; without ``repo`` an organisation's."""
    base, as_app, shown = await _hook_base(github, owner, repo, hook_id)
    result = Recovery(hook=shown)
    attempts: dict[str, list[dict[str, Any]]] = {}
    cursor: str | None = None
    for _ in range(_MAX_PAGES):
        params = {"per_page": _PAGE, "cursor": cursor}
        answer = await github.request("GET", f"{base}/deliveries", params=params, as_app=as_app)
        items = as_list(answer.data)
        result.scanned += len(items)
        reached = False
        for item in items:
            at = _when(text(item, "delivered_at"))
            if at is not None and at < since:
                reached = True
                break
            guid = text(item, "guid")
            if guid:
                attempts.setdefault(guid, []).append(dict(as_dict(item)))
        cursor = _next_cursor(answer.headers.get("link", ""))
        if reached or cursor is None:
            break
    else:
        result.complete = False
    failed = [guid for guid, tries in attempts.items() if not any(_ok(t) for t in tries)]
    failed.reverse()  # oldest first: redelivered in the order they happened
    result.failed = failed
    stored = await store.stored(failed)
    result.already_stored = [guid for guid in failed if guid in stored]
    for guid in [guid for guid in failed if guid not in stored][:limit]:
        if dry_run:
            result.redelivered.append(guid)
            continue
        newest = attempts[guid][0]
        try:
            await github.request("POST", f"{base}/deliveries/{number(newest, 'id')}/attempts", as_app=as_app)
        except (NotFound, InvalidRequest) as error:
            result.errors.append(f"{guid}: {str(error)[:200]}")
            continue
        result.redelivered.append(guid)
    return result


async def _hook_base(
    github: GitHubClient, owner: str | None, repo: str | None, hook_id: int | None
) -> tuple[str, bool, str]:
    """The API path of the hook, whether it is the App's, and how to name it."""
    if owner is None:
        if repo is not None:
            raise InvalidRequest(
                "Give owner with repo (a repository's hook), owner alone (an organisation's), "
                "or neither (the GitHub App's hook)."
            )
        return "app/hook", True, "the GitHub App's hook"
    scope = repo_path(owner, repo) if repo is not None else f"orgs/{segment(owner)}"
    shown = f"{owner}/{repo}" if repo is not None else f"organisation {owner}"
    if hook_id is None:
        hook_id = await _find_hook(github, scope, shown)
    return f"{scope}/hooks/{hook_id}", False, f"hook {hook_id} of {shown}"


async def _find_hook(github: GitHubClient, scope: str, shown: str) -> int:
    """The one hook of ``scope`` that sends to a ``/webhooks/github`` URL (this server's intake)."""
    answer = await github.request("GET", f"{scope}/hooks", params={"per_page": 100})
    hooks = [(number(h, "id"), text(as_dict(as_dict(h).get("config")), "url") or "") for h in as_list(answer.data)]
    ours = [
        (hook, url) for hook, url in hooks if hook is not None and urlsplit(url).path.rstrip("/").endswith(_INTAKE_PATH)
    ]
    if len(ours) == 1 and ours[0][0] is not None:
        return ours[0][0]
    listed = ", ".join(f"{hook} -> {url}" for hook, url in hooks[:10]) or "none"
    raise InvalidRequest(
        f"{shown} has {len(ours)} hooks sending to {_INTAKE_PATH} (hooks: {listed}); pass hook_id to choose one."
    )


def _ok(attempt: dict[str, Any]) -> bool:
    code = number(attempt, "status_code")
    return code is not None and 200 <= code < 300


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _next_cursor(link: str) -> str | None:
    for part in link.split(","):
        if 'rel="next"' in part and "<" in part and ">" in part:
            url = part[part.index("<") + 1 : part.index(">")]
            values = parse_qs(urlsplit(url).query).get("cursor")
            return values[0] if values else None
    return None
