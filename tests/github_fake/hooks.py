"""Webhooks as GitHub keeps them: a repository's, an organisation's or the App's hook, the record of its
deliveries (newest first, paged with a cursor), and redelivery requests.

A scope is ``repos/<owner>/<repo>``, ``orgs/<org>`` or ``app``. Tests add hooks and deliveries with
:func:`add_hook` and :func:`add_delivery`, and read ``state.redeliveries`` back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.github_fake.app import answer, not_found, state_of
from tests.github_fake.payloads import NOW, iso, shaped
from tests.github_fake.state import FakeGitHub, next_id

__all__ = ["ROUTES", "add_delivery", "add_hook"]


def add_hook(state: FakeGitHub, scope: str, url: str, events: list[str] | None = None) -> dict[str, Any]:
    """A hook in ``scope`` sending to ``url``."""
    hook: dict[str, Any] = {"id": next_id(), "url": url, "events": events or ["*"], "deliveries": []}
    state.hooks.setdefault(scope, []).append(hook)
    return hook


def add_delivery(
    hook: dict[str, Any],
    guid: str,
    *,
    status_code: int,
    event: str = "issues",
    action: str | None = "opened",
    at: datetime = NOW,
    redelivery: bool = False,
) -> dict[str, Any]:
    """One attempt GitHub made to deliver ``guid`` through ``hook`` (newest first in its record)."""
    delivery = {
        "id": next_id(),
        "guid": guid,
        "delivered_at": iso(at),
        "redelivery": redelivery,
        "duration": 0.31,
        "status": "OK" if 200 <= status_code < 300 else f"Invalid HTTP Response: {status_code}",
        "status_code": status_code,
        "event": event,
        "action": action,
        "installation_id": None,
        "repository_id": None,
    }
    hook["deliveries"].append(delivery)
    hook["deliveries"].sort(key=lambda item: item["delivered_at"], reverse=True)
    return delivery


def _scope(request: Request) -> str:
    params = request.path_params
    if "repo" in params:
        return f"repos/{params['owner']}/{params['repo']}"
    if "org" in params:
        return f"orgs/{params['org']}"
    return "app"


def _hook_shape(state: FakeGitHub, scope: str, hook: dict[str, Any]) -> dict[str, Any]:
    base = f"{state.base_url}/{scope}/hooks/{hook['id']}"
    return shaped(
        "Hook",
        {
            "type": "Repository" if scope.startswith("repos/") else "Organization",
            "id": hook["id"],
            "name": "web",
            "active": True,
            "events": hook["events"],
            "config": {"url": hook["url"], "content_type": "json", "insecure_ssl": "0"},
            "updated_at": iso(),
            "created_at": iso(),
            "url": base,
            "test_url": f"{base}/test",
            "ping_url": f"{base}/pings",
            "last_response": {"code": 200, "status": "active", "message": "OK"},
        },
    )


def _hook(request: Request) -> dict[str, Any] | None:
    hooks = state_of(request).hooks.get(_scope(request), [])
    if "hook_id" not in request.path_params:  # the App has one hook
        return hooks[0] if hooks else None
    wanted = int(request.path_params["hook_id"])
    return next((hook for hook in hooks if hook["id"] == wanted), None)


async def list_hooks(request: Request) -> Response:
    state, scope = state_of(request), _scope(request)
    if scope.startswith("repos/") and scope.removeprefix("repos/") not in state.repos:
        return not_found()
    return answer([_hook_shape(state, scope, hook) for hook in state.hooks.get(scope, [])])


async def list_deliveries(request: Request) -> Response:
    """Newest first; ``per_page`` and an opaque ``cursor`` (the next item's position), as GitHub pages them."""
    hook = _hook(request)
    if hook is None:
        return not_found()
    per_page = min(int(request.query_params.get("per_page", "30")), 100)
    start = int(request.query_params.get("cursor", "0") or 0)
    items = [shaped("HookDeliveryItem", dict(d)) for d in hook["deliveries"][start : start + per_page]]
    headers: dict[str, str] = {}
    if start + per_page < len(hook["deliveries"]):
        following = request.url.include_query_params(cursor=start + per_page, per_page=per_page)
        headers["link"] = f'<{following}>; rel="next"'
    return answer(items, headers=headers)


async def redeliver(request: Request) -> Response:
    hook = _hook(request)
    wanted = int(request.path_params["delivery_id"])
    if hook is None or not any(d["id"] == wanted for d in hook["deliveries"]):
        return not_found()
    state_of(request).redeliveries.append((_scope(request), wanted))
    return answer({}, 202)


ROUTES = [
    Route("/repos/{owner}/{repo}/hooks", list_hooks),
    Route("/repos/{owner}/{repo}/hooks/{hook_id:int}/deliveries", list_deliveries),
    Route(
        "/repos/{owner}/{repo}/hooks/{hook_id:int}/deliveries/{delivery_id:int}/attempts", redeliver, methods=["POST"]
    ),
    Route("/orgs/{org}/hooks", list_hooks),
    Route("/orgs/{org}/hooks/{hook_id:int}/deliveries", list_deliveries),
    Route("/orgs/{org}/hooks/{hook_id:int}/deliveries/{delivery_id:int}/attempts", redeliver, methods=["POST"]),
    Route("/app/hook/deliveries", list_deliveries),
    Route("/app/hook/deliveries/{delivery_id:int}/attempts", redeliver, methods=["POST"]),
]
