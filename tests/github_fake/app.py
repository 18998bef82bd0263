"""The fake GitHub as an ASGI app: authentication, faults, rate-limit headers, and every area's routes.

Each area of the API is a module (``context``, ``issues``, ``pulls``, ``repos``, ``actions``) exporting
``ROUTES``, a list of Starlette routes; handlers find the state at ``request.app.state.github``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.github_fake.payloads import InvalidAnswer
from tests.github_fake.state import FakeGitHub, FakeRepo

__all__ = ["answer", "build_app", "found_repo", "not_found", "page", "state_of"]


def state_of(request: Request) -> FakeGitHub:
    return request.app.state.github


def answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = b"" if data is None else json.dumps(data).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def not_found() -> Response:
    return answer({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, 404)


def found_repo(request: Request) -> FakeRepo | None:
    name = f"{request.path_params['owner']}/{request.path_params['repo']}"
    return state_of(request).repos.get(name)


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    return json.loads(raw) if raw else {}


def page(request: Request, items: Sequence[Any]) -> Response:
    """One page of ``items`` as GitHub pages lists (``per_page``, ``page``, a ``Link`` header with rel=next)."""
    per_page = min(int(request.query_params.get("per_page", "30")), 100)
    number = int(request.query_params.get("page", "1"))
    chunk = list(items[(number - 1) * per_page : number * per_page])
    headers: dict[str, str] = {}
    if number * per_page < len(items):
        following = request.url.include_query_params(page=number + 1, per_page=per_page)
        headers["link"] = f'<{following}>; rel="next"'
    return answer(chunk, headers=headers)


class _Gate:
    """Authentication, faults, rate-limit headers and the call log, in front of every route."""

    def __init__(self, app: ASGIApp, state: FakeGitHub) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        state = self.state
        path = scope["path"]
        state.calls.append((scope["method"], path))
        for fault in state.faults:
            if fault.times > 0 and fault.method == scope["method"] and fault.path.search(path):
                fault.times -= 1
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                await answer(fault.body or {"message": "fault"}, fault.status, fault.headers)(scope, receive, send)
                return
        token = request.headers.get("authorization", "").partition(" ")[2]
        if path.startswith("/app/") and _app_jwt(token, state):
            state.calls[-1] = (scope["method"], path + " (app)")
            await self.app(scope, receive, send)
            return
        if token not in state.tokens:
            await answer({"message": "Bad credentials"}, 401)(scope, receive, send)
            return
        state.rate_used += 1
        headers = {
            "x-ratelimit-limit": str(state.rate_limit),
            "x-ratelimit-remaining": str(max(0, state.rate_limit - state.rate_used)),
            "x-ratelimit-reset": str(state.rate_reset),
            "x-oauth-scopes": state.scopes.get(token, ""),
        }

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message["headers"]) + [(k.encode(), v.encode()) for k, v in headers.items()]
            await send(message)

        scope["github_login"] = state.tokens[token]
        try:
            await self.app(scope, receive, send_with_headers)
        except InvalidAnswer as error:
            state.invalid.append(str(error))
            await answer({"message": f"fake: {error}"}, 500)(scope, receive, send)


def _app_jwt(token: str, state: FakeGitHub) -> bool:
    """Whether ``token`` is a JWT a GitHub App signed for the fake's app (the signature is not checked)."""
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return state.app_id is not None and str(claims.get("iss")) == state.app_id


def build_app(state: FakeGitHub) -> ASGIApp:
    """The fake GitHub over ``state``, with every area's routes."""
    from tests.github_fake import actions, context, hooks, issues, pulls, repos

    routes: list[BaseRoute] = [*context.ROUTES, *issues.ROUTES, *pulls.ROUTES, *repos.ROUTES, *actions.ROUTES]
    routes += hooks.ROUTES
    app = Starlette(routes=routes)
    app.state.github = state
    return _Gate(app, state)
