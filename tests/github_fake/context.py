"""The fake's identity endpoints: the authenticated user, the rate limit, an app installation's repositories."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.github_fake.app import answer, state_of
from tests.github_fake.payloads import NOW, iso, repository, shaped, simple_user

__all__ = ["ROUTES"]


async def get_user(request: Request) -> Response:
    state = state_of(request)
    login = request.scope["github_login"]
    user = simple_user(state, login) | {
        "name": login.title(),
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "public_repos": len(state.repos),
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": iso(),
        "updated_at": iso(),
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": True,
    }
    return answer(shaped("PrivateUser", user, f"{state.base_url}/users/{login}"))


async def get_rate_limit(request: Request) -> Response:
    state = state_of(request)
    state.rate_used -= 1  # GitHub does not count this call
    core = {
        "limit": state.rate_limit,
        "remaining": max(0, state.rate_limit - state.rate_used),
        "reset": state.rate_reset,
        "used": state.rate_used,
    }
    search = {"limit": 30, "remaining": 30, "reset": state.rate_reset, "used": 0}
    return answer(shaped("RateLimitOverview", {"resources": {"core": core, "search": search}, "rate": core}))


async def installation_repositories(request: Request) -> Response:
    state = state_of(request)
    repos = [repository(state, repo) for repo in state.repos.values()]
    return answer({"total_count": len(repos), "repositories": repos[:1]})


async def installation_token(request: Request) -> Response:
    state = state_of(request)
    installation = request.path_params["installation"]
    token = f"ghs_installation{installation}x{len(state.tokens):020d}"
    state.add_token(token, f"app{state.app_id}", scopes="")
    payload = {
        "token": token,
        "expires_at": iso(NOW + timedelta(hours=1)),
        "permissions": {"issues": "write", "contents": "write", "pull_requests": "write"},
        "repository_selection": "all",
    }
    return answer(shaped("InstallationToken", payload), 201)


ROUTES = [
    Route("/app/installations/{installation}/access_tokens", installation_token, methods=["POST"]),
    Route("/user", get_user),
    Route("/rate_limit", get_rate_limit),
    Route("/installation/repositories", installation_repositories),
]
