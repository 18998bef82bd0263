"""The outbound HTTP client: user agent, bounded retries of idempotent requests, and the translation of every
upstream failure into the kit's errors (through ``httpx.MockTransport`` only: no network, no waiting)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import shared.http_client
from shared.errors import (
    CallError,
    Conflict,
    DependencyUnavailable,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamError,
)
from shared.http_client import UpstreamClient, http_client, raise_for_upstream, user_agent

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the retries asked for (none really happens)."""
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(shared.http_client, "retry_sleep", fake_sleep)
    return waited


def _client(
    handler: Handler, *, retries: int = 2, credentials_setting: str | None = "AFU9_GITHUB_TOKEN"
) -> UpstreamClient:
    return http_client(
        service="GitHub",
        base_url="https://api.example.test",
        headers={"Authorization": f"token {TOKEN}"},
        retries=retries,
        transport=httpx.MockTransport(handler),
        credentials_setting=credentials_setting,
    )


def _answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def _sequence(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving ``responses`` in turn (an exception is raised), and the requests it saw."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = responses[min(len(seen), len(responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


async def _fail(handler: Handler, method: str = "GET", **kwargs: Any) -> CallError:
    async with _client(handler, **kwargs) as client:
        with pytest.raises(CallError) as caught:
            await client.call(method, "/repos/o/r")
    return caught.value


async def test_every_request_says_it_comes_from_afu9_and_which_service_it_talks_to(sleeps: list[float]) -> None:
    handler, seen = _sequence(httpx.Response(200, json={}))
    async with _client(handler) as client:
        await client.call("GET", "/user")
    agent = seen[0].headers["user-agent"]
    assert agent == user_agent("GitHub")
    assert agent.startswith("afu9/")
    assert agent.endswith(" (+GitHub)")


async def test_a_get_answered_503_is_retried_with_jittered_backoff_until_it_succeeds(sleeps: list[float]) -> None:
    handler, seen = _sequence(httpx.Response(503), httpx.Response(503), httpx.Response(200, json={"ok": True}))
    async with _client(handler, retries=2) as client:
        response = await client.call("GET", "/repos/o/r")
    assert response.json() == {"ok": True}
    assert len(seen) == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5
    assert 0 <= sleeps[1] <= 1.0


async def test_retries_are_bounded_and_a_lasting_503_is_a_dependency_unavailable_error(sleeps: list[float]) -> None:
    handler, seen = _sequence(httpx.Response(503, json={"message": "Service Unavailable"}))
    error = await _fail(handler, retries=2)
    assert type(error) is DependencyUnavailable
    assert len(seen) == 3
    assert len(sleeps) == 2
    assert "GitHub failed to answer GET /repos/o/r (HTTP 503): Service Unavailable" in str(error)
    assert "Nothing was changed by this call." in str(error)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_post_or_patch_is_never_retried_and_its_outcome_is_called_unknown(
    sleeps: list[float], method: str
) -> None:
    handler, seen = _sequence(httpx.Response(503), httpx.Response(201, json={}))
    error = await _fail(handler, method)
    assert type(error) is DependencyUnavailable
    assert len(seen) == 1
    assert sleeps == []
    assert "outcome is unknown" in str(error)
    assert "Nothing was changed" not in str(error)


async def test_a_retry_waits_as_long_as_the_upstreams_retry_after_says(sleeps: list[float]) -> None:
    handler, seen = _sequence(httpx.Response(503, headers={"Retry-After": "3"}), httpx.Response(200, json={}))
    async with _client(handler) as client:
        await client.call("PUT", "/repos/o/r/topics", json={"names": ["a"]})
    assert sleeps == [3.0]
    assert len(seen) == 2
    assert json.loads(seen[1].content) == {"names": ["a"]}  # the body is sent again whole


async def test_a_retry_after_longer_than_the_cap_ends_the_retries_and_says_when_to_retry(sleeps: list[float]) -> None:
    handler, seen = _sequence(httpx.Response(503, headers={"Retry-After": "120"}), httpx.Response(200, json={}))
    error = await _fail(handler)
    assert type(error) is DependencyUnavailable
    assert len(seen) == 1
    assert sleeps == []
    assert "Retry in 120 s." in str(error)


async def test_a_connect_error_is_retried_and_then_a_dependency_unavailable_error_saying_nothing_changed(
    sleeps: list[float],
) -> None:
    handler, seen = _sequence(httpx.ConnectError("[Errno 111] Connection refused"))
    error = await _fail(handler, "POST")
    assert type(error) is DependencyUnavailable
    assert len(seen) == 1  # a POST is not retried, even when it never left
    assert "Could not reach GitHub for POST /repos/o/r (ConnectError: [Errno 111] Connection refused)" in str(error)
    assert "Nothing was changed by this call." in str(error)

    handler, seen = _sequence(httpx.ConnectError("refused"), httpx.Response(200, json={}))
    async with _client(handler) as client:
        await client.call("GET", "/repos/o/r")
    assert len(seen) == 2
    assert len(sleeps) == 1


async def test_a_post_that_timed_out_has_an_unknown_outcome_and_a_get_changed_nothing(sleeps: list[float]) -> None:
    handler, seen = _sequence(httpx.ReadTimeout("timed out"))
    post = await _fail(handler, "POST")
    assert type(post) is DependencyUnavailable
    assert len(seen) == 1
    assert "GitHub did not answer POST /repos/o/r in time (ReadTimeout: timed out)." in str(post)
    assert "outcome is unknown: check whether it took effect before repeating it" in str(post)
    assert "Nothing was changed" not in str(post)

    get = await _fail(handler, "GET", retries=1)
    assert type(get) is DependencyUnavailable
    assert len(seen) == 3  # one POST, then a GET tried twice
    assert "Nothing was changed by this call." in str(get)


async def test_rejected_credentials_are_an_upstream_error_naming_the_setting_to_fix(sleeps: list[float]) -> None:
    error = await _fail(_answer(401, {"message": "Bad credentials"}))
    assert isinstance(error, UpstreamError)
    assert error.status == 401
    assert "GitHub rejected the credentials (HTTP 401) for GET /repos/o/r: Bad credentials." in str(error)
    assert "check AFU9_GITHUB_TOKEN" in str(error)


async def test_a_403_with_an_exhausted_rate_limit_is_a_rate_limit_error_saying_when_to_retry(
    sleeps: list[float],
) -> None:
    reset = int(time.time()) + 120
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    error = await _fail(_answer(403, {"message": "API rate limit exceeded for user ID 1."}, headers))
    assert isinstance(error, RateLimited)
    assert error.retry_after is not None
    assert 115 <= error.retry_after <= 121
    assert "GitHub rate limit reached (HTTP 403) for GET /repos/o/r: API rate limit exceeded" in str(error)
    assert f"Retry in {int(error.retry_after)} s (after " in str(error)
    assert sleeps == []  # rate limits are not retried


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"Retry-After": "30"}, 30.0),
        (403, {"Retry-After": "60"}, 60.0),
        (429, {}, None),
    ],
)
async def test_a_rate_limit_with_retry_after_says_when_to_retry(
    sleeps: list[float], status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    error = await _fail(_answer(status, {"message": "You have exceeded a secondary rate limit."}, headers))
    assert isinstance(error, RateLimited)
    assert error.retry_after == retry_after
    assert ("Retry in a minute or more." if retry_after is None else f"Retry in {retry_after:.0f} s") in str(error)


async def test_a_plain_403_is_an_upstream_error_saying_it_is_not_allowed(sleeps: list[float]) -> None:
    error = await _fail(_answer(403, {"message": "Resource not accessible by integration"}))
    assert type(error) is UpstreamError
    assert error.status == 403
    assert "GitHub does not allow GET /repos/o/r (HTTP 403): Resource not accessible by integration." in str(error)
    assert "AFU9_GITHUB_TOKEN" in str(error)


async def test_a_404_is_not_found(sleeps: list[float]) -> None:
    error = await _fail(_answer(404, {"message": "Not Found"}))
    assert type(error) is NotFound
    assert str(error).startswith("GitHub found nothing at GET /repos/o/r (HTTP 404): Not Found.")


async def test_a_409_is_a_conflict(sleeps: list[float]) -> None:
    error = await _fail(_answer(409, {"message": "Git Repository is empty."}), "PUT")
    assert type(error) is Conflict
    assert "(HTTP 409): Git Repository is empty." in str(error)


async def test_a_422_is_an_invalid_request_carrying_the_upstreams_own_messages(sleeps: list[float]) -> None:
    body = {
        "message": "Validation Failed",
        "errors": [
            {"resource": "Issue", "field": "title", "code": "missing_field"},
            {"resource": "Label", "field": "name", "message": "name is too long"},
            "a plain string error",
        ],
        "documentation_url": "https://docs.github.com/rest",
    }
    error = await _fail(_answer(422, body), "POST")
    assert type(error) is InvalidRequest
    assert str(error) == (
        "GitHub refused POST /repos/o/r as invalid (HTTP 422): Validation Failed "
        "(title: missing_field; name: name is too long; a plain string error). Fix the request."
    )


async def test_a_400_in_plain_text_carries_its_first_line(sleeps: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="\nProblems parsing JSON\nat line 1\n", headers={"content-type": "text/plain"})

    error = await _fail(handler, "POST")
    assert type(error) is InvalidRequest
    assert "(HTTP 400): Problems parsing JSON. Fix the request." in str(error)
    assert "line 1" not in str(error)


async def test_another_4xx_is_an_upstream_error_with_its_status(sleeps: list[float]) -> None:
    error = await _fail(_answer(410, {"message": "Issues are disabled for this repo"}))
    assert type(error) is UpstreamError
    assert error.status == 410
    assert "(HTTP 410 Gone): Issues are disabled for this repo." in str(error)


async def test_a_500_is_a_dependency_unavailable_error_and_is_not_retried(sleeps: list[float]) -> None:
    handler, seen = _sequence(
        httpx.Response(500, text="<html><body>oops</body></html>", headers={"content-type": "text/html"})
    )
    error = await _fail(handler)
    assert type(error) is DependencyUnavailable
    assert len(seen) == 1
    assert str(error) == (
        "GitHub failed to answer GET /repos/o/r (HTTP 500). Nothing was changed by this call. Retry later."
    )


@pytest.mark.parametrize(
    "handler",
    [
        _answer(401, {"message": "Bad credentials"}),
        _answer(403, {"message": "Forbidden"}),
        _answer(404, {"message": "Not Found"}),
        _answer(422, {"message": "Validation Failed"}),
        _answer(503, {"message": "down"}),
        _sequence(httpx.ConnectError("refused"))[0],
        _sequence(httpx.ReadTimeout("timed out"))[0],
    ],
)
async def test_the_token_of_the_authorization_header_never_appears_in_an_error(
    sleeps: list[float], handler: Handler
) -> None:
    error = await _fail(handler)
    assert TOKEN not in str(error)
    assert TOKEN[4:20] not in str(error)


async def test_a_secret_in_the_upstreams_text_comes_out_redacted(sleeps: list[float]) -> None:
    secret = "ghp_" + "Z" * 36
    error = await _fail(_answer(422, {"message": f"token {secret} is not valid here", "errors": [{"message": secret}]}))
    assert secret not in str(error)
    assert "[REDACTED]" in str(error)


async def test_upstream_text_is_cut_to_a_bounded_length(sleeps: list[float]) -> None:
    error = await _fail(_answer(404, {"message": "x" * 5000}))
    assert "x" * 299 + "…" in str(error)
    assert "x" * 301 not in str(error)


async def test_a_secret_in_the_query_string_stays_out_of_the_message(sleeps: list[float]) -> None:
    async with _client(_answer(404, {"message": "Not Found"})) as client:
        with pytest.raises(NotFound) as caught:
            await client.call("GET", "/repos/o/r", params={"access_token": "s3cr3t-value"})
    assert "s3cr3t-value" not in str(caught.value)


def test_a_2xx_or_3xx_answer_passes_the_translation() -> None:
    for status in (200, 201, 204, 304):
        raise_for_upstream(httpx.Response(status), service="GitHub", credentials_setting=None)


def test_a_401_without_a_known_setting_still_says_what_to_check() -> None:
    with pytest.raises(UpstreamError) as caught:
        raise_for_upstream(httpx.Response(401), service="GitHub")
    assert "check the credentials this server uses" in str(caught.value)


def test_the_server_kit_does_not_import_the_http_client() -> None:
    probe = "import sys, shared.server; print('shared.http_client' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "False"
