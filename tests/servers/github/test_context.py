"""The github server's client and its context toolset, against the fake GitHub: credentials of every kind,
none at all, rate limits, faults, readiness."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.types import TextContent

from servers.github.server import SERVER
from servers.github.settings import GitHubSettings
from shared.transports import http_app
from tests.github_fake.issues import add_issue
from tests.github_fake.state import FakeGitHub
from tests.servers.github.conftest import TOKEN, fake_deps


def _text(result: object) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))  # type: ignore[attr-defined]


async def test_get_me_says_who_the_token_acts_as_and_the_rate_limit_left(github: Client) -> None:
    result = await github.call_tool("get_me", {})
    assert not result.is_error, _text(result)
    me = result.structured_content
    assert me is not None
    assert (me["login"], me["kind"], me["scopes"]) == ("octocat", "token", ["repo", "workflow"])
    assert me["api_url"] == "http://github.test"
    assert me["rate_limit"] == 5000
    assert 4990 <= me["rate_remaining"] <= 5000
    assert me["rate_reset"].endswith("Z")


async def test_a_github_app_installation_is_used_with_tokens_the_client_fetches_itself(
    github_state: FakeGitHub, github_settings: Callable[..., GitHubSettings]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    github_state.app_id = "4242"
    settings = github_settings(token=None, app_id="4242", app_private_key=pem.decode(), app_installation_id=77)
    async with Client(SERVER.build(settings, deps=fake_deps(settings, github_state))) as client:
        result = await client.call_tool("get_me", {})
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    assert result.structured_content["kind"] == "app"
    assert result.structured_content["login"] == "app 4242 (installation 77)"
    assert ("POST", "/app/installations/77/access_tokens (app)") in github_state.calls


async def test_without_credentials_the_server_serves_and_every_github_tool_names_the_settings_to_set(
    tmp_path: Path,
) -> None:
    settings = GitHubSettings(data_dir=tmp_path, api_url="http://github.test")
    server = SERVER.build(settings)
    async with Client(server) as client:
        listed = [tool.name for tool in (await client.list_tools()).tools]
        result = await client.call_tool("get_me", {})
    assert "get_me" in listed
    assert result.is_error
    assert "set GITHUB_TOKEN, or GITHUB_APP_ID" in _text(result)
    app = http_app(server, settings, stateless=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:3001") as http,
    ):
        ready = await http.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["github"]["state"] == "not_configured"
    assert ready.json()["checks"]["github"]["setting"].startswith("GITHUB_TOKEN")


async def test_a_wrong_token_gets_a_sentence_about_the_credentials_without_the_token(
    github_state: FakeGitHub, github_settings: Callable[..., GitHubSettings]
) -> None:
    wrong = "ghp_" + "W" * 36
    settings = github_settings(token=wrong)
    async with Client(SERVER.build(settings, deps=fake_deps(settings, github_state))) as client:
        result = await client.call_tool("get_me", {})
    assert result.is_error
    assert "rejected the credentials (HTTP 401)" in _text(result)
    assert wrong not in _text(result)
    assert TOKEN not in _text(result)


async def test_an_exhausted_rate_limit_is_an_error_saying_when_to_retry(
    github: Client, github_state: FakeGitHub
) -> None:
    github_state.fail(
        "GET",
        "^/user$",
        403,
        body={"message": "API rate limit exceeded for user ID 1."},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "4102444800", "x-ratelimit-limit": "5000"},
        times=5,
    )
    result = await github.call_tool("get_me", {})
    assert result.is_error
    assert "rate limit is exhausted" in _text(result)
    assert "retry in" in _text(result)
    assert github_state.calls.count(("GET", "/user")) == 1  # refused once, not retried: the wait is too long


async def test_a_short_secondary_rate_limit_and_server_errors_are_retried_before_answering(
    github: Client, github_state: FakeGitHub
) -> None:
    github_state.fail("GET", "^/user$", 403, body={"message": "secondary rate limit"}, headers={"retry-after": "0"})
    github_state.fail("GET", "^/rate_limit$", 502, body={"message": "Server Error"})
    result = await github.call_tool("get_me", {})
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    assert result.structured_content["login"] == "octocat"


async def test_server_errors_that_persist_become_an_unavailable_answer(
    github: Client, github_state: FakeGitHub
) -> None:
    github_state.fail("GET", "^/rate_limit$", 503, body={"message": "Unavailable"}, times=10)
    result = await github.call_tool("get_me", {})
    assert result.is_error
    assert "GitHub failed to answer GET /rate_limit (HTTP 503)" in _text(result)
    assert "Nothing was changed by this call" in _text(result)


async def test_a_github_that_answers_too_slowly_fails_the_call_in_time_saying_what_may_have_changed(
    github_state: FakeGitHub, github_settings: Callable[..., GitHubSettings]
) -> None:
    settings = github_settings(timeout_seconds=0.3)
    github_state.repo("octo/shop")
    github_state.fail("GET", "^/user$", 200, delay=5)
    github_state.fail("POST", "^/repos/octo/shop/issues$", 201, delay=5)
    async with Client(SERVER.build(settings, deps=fake_deps(settings, github_state))) as client:
        with anyio.fail_after(3):  # no hang: the deadline is the server's, not the fake's delay
            read = await client.call_tool("get_me", {})
            write = await client.call_tool("create_issue", {"owner": "octo", "repo": "shop", "title": "Slow"})
    assert read.is_error
    assert "GitHub did not answer GET /user within 0.3 s. Nothing was changed by this call." in _text(read)
    assert write.is_error
    assert "did not answer POST /repos/octo/shop/issues within 0.3 s" in _text(write)
    assert "outcome is unknown: check whether it took effect before repeating it" in _text(write)


async def test_a_rate_limit_in_the_middle_of_paging_loses_no_page(github: Client, github_state: FakeGitHub) -> None:
    shop = github_state.repo("octo/shop")
    for n in range(5):
        add_issue(github_state, shop, f"Issue {n}")
    first = await github.call_tool("list_issues", {"owner": "octo", "repo": "shop", "limit": 2})
    assert first.structured_content is not None
    cursor = first.structured_content["next_cursor"]
    exhausted = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "4102444800", "x-ratelimit-limit": "5000"}
    github_state.fail("GET", "^/repos/octo/shop/issues$", 403, body={"message": "API rate limit exceeded"},
                      headers=exhausted, times=1)  # fmt: skip
    arguments = {"owner": "octo", "repo": "shop", "limit": 2, "cursor": cursor}
    limited = await github.call_tool("list_issues", arguments)
    assert limited.is_error
    assert "retry in" in _text(limited)

    second = await github.call_tool("list_issues", arguments)  # the same cursor, once the limit has passed
    assert second.structured_content is not None
    numbers = [item["number"] for item in first.structured_content["items"] + second.structured_content["items"]]
    assert numbers == [5, 4, 3, 2]


async def test_ready_reports_the_token_and_rate_limit_and_spends_no_request_per_probe(
    github_state: FakeGitHub, github_settings: Callable[..., GitHubSettings]
) -> None:
    settings = github_settings(http_tokens=["ops:" + "o" * 24])
    server = SERVER.build(settings, deps=fake_deps(settings, github_state))
    app = http_app(server, settings, stateless=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:3001") as http,
    ):
        first = await http.get("/ready", headers={"Authorization": "Bearer " + "o" * 24})
        server.parts._cache = None  # pyright: ignore[reportPrivateUsage] - past the one-second cache of /ready
        second = await http.get("/ready", headers={"Authorization": "Bearer " + "o" * 24})
    assert first.status_code == second.status_code == 200
    detail = first.json()["checks"]["github"]["detail"]
    assert detail.startswith("token octocat; rate limit left ")
    assert TOKEN not in first.text
    assert github_state.calls.count(("GET", "/rate_limit")) == 1  # the second probe used the cached check


async def test_ready_says_refused_credentials_are_down_and_does_not_keep_sending_them(
    github_state: FakeGitHub, github_settings: Callable[..., GitHubSettings]
) -> None:
    wrong = "ghp_" + "W" * 36
    settings = github_settings(token=wrong, http_tokens=["ops:" + "o" * 24])
    server = SERVER.build(settings, deps=fake_deps(settings, github_state))
    app = http_app(server, settings, stateless=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:3001") as http,
    ):
        answers = []
        for _ in range(3):
            server.parts._cache = None  # pyright: ignore[reportPrivateUsage] - past the one-second cache of /ready
            answers.append(await http.get("/ready", headers={"Authorization": "Bearer " + "o" * 24}))
    assert [answer.status_code for answer in answers] == [503, 503, 503]
    check = answers[0].json()["checks"]["github"]
    assert check["state"] == "down"
    assert "credentials" in check["detail"]
    assert wrong not in answers[0].text
    assert github_state.calls == [("GET", "/rate_limit")]  # asked once, not on every probe


@pytest.mark.parametrize("url", ["ftp://github.test", "github.test"])
def test_a_github_api_url_that_is_not_http_is_refused_at_start(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"https://api\.github\.com"):
        GitHubSettings(data_dir=tmp_path, api_url=url)
