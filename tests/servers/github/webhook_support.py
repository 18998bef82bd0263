"""What the webhook tests share: settings with a secret, the github server's HTTP app on the fake GitHub,
signed posts, and bounded waits for a delivery's status."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, cast

import anyio
import httpx

from servers.github.deps import GitHubDeps
from servers.github.server import SERVER
from servers.github.settings import GitHubSettings
from servers.github.webhooks.processing import Webhooks
from shared.server import Afu9Server
from shared.transports import http_app
from tests.github_fake.state import FakeGitHub
from tests.github_fake.webhooks import signed
from tests.servers.github.world import fake_deps, settings_overrides

__all__ = ["SECRET", "make_settings", "post", "serving", "wait_for_status", "webhooks_of"]

SECRET = "whsec-" + "s3cr3t" * 5


def make_settings(data_dir: Path, database_url: str | None = None, **overrides: Any) -> GitHubSettings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "allow_writes": True,
        "toolsets": ["all"],
        "webhook_secret": SECRET,
        "webhook_retry_seconds": 0,
        "webhook_max_attempts": 3,
        **settings_overrides(),
    }
    if database_url is not None:
        values["database_url"] = database_url
    return GitHubSettings(**(values | overrides))


def webhooks_of(server: Afu9Server) -> Webhooks:
    """The webhooks part of a github server."""
    return cast("GitHubDeps", server.deps).webhooks


@contextlib.asynccontextmanager
async def serving(
    settings: GitHubSettings, state: FakeGitHub, *, targets: Mapping[str, Any] | None = None
) -> AsyncIterator[tuple[Afu9Server, httpx.AsyncClient]]:
    """The github server's HTTP app (its processor running) on the fake GitHub ``state``; ``targets`` are
    in-process servers the rules' tool targets call instead of reaching them over HTTP."""
    server = SERVER.build(settings, deps=fake_deps(settings, state))
    app = http_app(server, settings, stateless=True)
    async with app.router.lifespan_context(app):
        caller = webhooks_of(server).caller
        if targets and caller is not None:
            caller.local.update(targets)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3001") as http:
            yield server, http


async def post(
    http: httpx.AsyncClient, event: str, payload: dict[str, Any] | bytes, *, delivery: str | None = None
) -> httpx.Response:
    body, headers = signed(SECRET, event, payload, delivery=delivery)
    return await http.post("/webhooks/github", content=body, headers=headers)


async def wait_for_status(server: Afu9Server, delivery: str, status: str, timeout: float = 15.0) -> Any:
    """The stored row of ``delivery`` once its status is ``status`` (fails after ``timeout`` seconds)."""
    store = webhooks_of(server).store
    with anyio.fail_after(timeout):
        while True:
            row = await store.get(delivery)
            if row is not None and row["status"] == status:
                return row
            await anyio.sleep(0.02)
