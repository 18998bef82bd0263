"""Outbound HTTP: the factory of clients for upstream HTTP APIs, and the one translation of their failures.

:func:`http_client` builds an :class:`UpstreamClient` (an ``httpx.AsyncClient``) with a connect and an overall
timeout, an ``afu9/<version> (+<service>)`` user agent and :class:`RetryTransport` under it: bounded retries
with exponential backoff and full jitter, for idempotent methods only. :meth:`UpstreamClient.call` sends a
request and turns every failure into the kit's errors (:func:`raise_for_upstream` for answers,
:func:`transport_failure` for requests that got none), so tool bodies hold no try/except.

Error messages carry the upstream's own text (first line, redacted, bounded), never request headers.
"""

from __future__ import annotations

import asyncio
import email.utils
import json as jsonlib
import math
import random
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx

from shared.errors import (
    CallError,
    Conflict,
    DependencyUnavailable,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamError,
)
from shared.redaction import redact_text
from shared.version import version

__all__ = [
    "RetryTransport",
    "UpstreamClient",
    "http_client",
    "outcome_of",
    "raise_for_upstream",
    "retry_sleep",
    "transport_failure",
    "user_agent",
]

CONNECT_TIMEOUT = 5.0  # seconds to open a connection
MAX_RETRY_AFTER = 10.0  # longest Retry-After a retry waits for; a longer one ends the retries
BACKOFF_BASE = 0.5  # seconds: the first retry waits up to this, each next one up to twice as long
BACKOFF_CAP = 10.0  # seconds: no backoff waits longer
MAX_TEXT = 300  # characters of upstream text in a message

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
# Failures after which an idempotent request may be sent again.
_RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.RemoteProtocolError)
# Failures that happen before the request left this process: nothing can have changed upstream.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def user_agent(service: str) -> str:
    """The ``User-Agent`` AFU-9 sends to ``service``: ``afu9/<version> (+<service>)``."""
    return f"afu9/{version()} (+{service})"


async def retry_sleep(seconds: float) -> None:
    """Wait between two attempts: the one place retries wait (tests replace it, so they never wait)."""
    await asyncio.sleep(seconds)


class RetryTransport(httpx.AsyncBaseTransport):
    """Wraps a transport with bounded retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE).

    A request is sent again, at most ``retries`` times, after a connect error, a read timeout or a dropped
    connection, or on a 502/503/504 answer. Each retry waits for the answer's ``Retry-After`` when it has
    one (a longer one than ``MAX_RETRY_AFTER`` ends the retries: the answer is returned as it is), otherwise
    for a random time up to ``BACKOFF_BASE * 2**attempt`` (full jitter). POST and PATCH are never retried.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, *, retries: int = 2) -> None:
        self.inner = inner
        self.retries = max(0, retries)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in IDEMPOTENT_METHODS or not self.retries:
            return await self.inner.handle_async_request(request)
        await request.aread()  # a body read into memory can be sent again
        attempt = 0
        while True:
            try:
                response = await self.inner.handle_async_request(request)
            except _RETRY_ERRORS:
                if attempt >= self.retries:
                    raise
                delay = _backoff(attempt)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    return response
                delay = _retry_after(response.headers)
                if delay is None:
                    delay = _backoff(attempt)
                elif delay > MAX_RETRY_AFTER:
                    return response
                await response.aclose()
            attempt += 1
            await retry_sleep(delay)

    async def aclose(self) -> None:
        await self.inner.aclose()


class UpstreamClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` for one upstream API, which knows the API's name and credential setting.

    Send through :meth:`call` to get the kit's errors; the plain httpx methods do not translate.
    """

    def __init__(
        self,
        *,
        service: str,
        credentials_setting: str | None,
        base_url: str,
        headers: Mapping[str, str],
        timeout: httpx.Timeout,
        transport: httpx.AsyncBaseTransport,
    ) -> None:
        super().__init__(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport, follow_redirects=True
        )
        self.service = service
        self.credentials_setting = credentials_setting

    async def call(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int | float | bool] | None = None,
        json: object = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request and return its (read) 2xx/3xx answer; every failure raises a kit error
        (see :func:`raise_for_upstream` and :func:`transport_failure`)."""
        try:
            response = await self.request(method, url, params=params, json=json, content=content, headers=headers)
        except httpx.TransportError as error:
            raise transport_failure(error, service=self.service) from error
        raise_for_upstream(response, service=self.service, credentials_setting=self.credentials_setting)
        return response


def http_client(
    *,
    service: str,
    base_url: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    retries: int = 2,
    transport: httpx.AsyncBaseTransport | None = None,
    credentials_setting: str | None = None,
) -> UpstreamClient:
    """A client for the HTTP API ``service`` (a display name, e.g. ``"GitHub"``) at ``base_url``.

    ``headers`` go with every request (an ``Authorization`` header is never put in an error message);
    ``timeout`` bounds each request in seconds (connecting: 5 s); idempotent requests are retried up to
    ``retries`` times; ``transport`` is the inner transport (tests pass an ``httpx.MockTransport``);
    ``credentials_setting`` names the setting to fix when the API rejects the credentials. Redirects are
    followed (httpx drops ``Authorization`` when one leaves the host). Close the client when done.
    """
    return UpstreamClient(
        service=service,
        credentials_setting=credentials_setting,
        base_url=base_url,
        headers={"User-Agent": user_agent(service), **(headers or {})},
        timeout=httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
        transport=RetryTransport(transport or httpx.AsyncHTTPTransport(), retries=retries),
    )


def raise_for_upstream(response: httpx.Response, *, service: str, credentials_setting: str | None = None) -> None:
    """Raise the kit's error for a failed answer of ``service``; a 2xx or 3xx answer passes.

    401 → :class:`UpstreamError` naming ``credentials_setting``; 403/429 with rate-limit signs →
    :class:`RateLimited` (``retry_after`` in seconds); other 403 → :class:`UpstreamError`; 404 → :class:`NotFound`;
    409 → :class:`Conflict`; 400/422 → :class:`InvalidRequest` with the upstream's message; other 4xx →
    :class:`UpstreamError`; 5xx → :class:`DependencyUnavailable`. The body is used only if it was read.
    """
    status = response.status_code
    if status < 400:
        return
    text = _upstream_text(response)
    detail = f": {text}" if text else ""
    method, target = _target(response)
    asked = f"{method} {target}".strip() or "the request"
    setting = f" in {credentials_setting}" if credentials_setting else ""
    if status == 401:
        fix = f"check {credentials_setting}" if credentials_setting else "check the credentials this server uses"
        raise UpstreamError(
            f"{service} rejected the credentials (HTTP 401) for {asked}{detail}. They may be wrong, expired or "
            f"revoked: {fix} (an operator setting).",
            status=401,
        )
    if status == 429 or (status == 403 and _rate_limit_signs(response, text)):
        wait = _rate_limit_wait(response.headers)
        raise RateLimited(
            f"{service} rate limit reached (HTTP {status}) for {asked}{detail}. {_when(wait)} "
            "Nothing was changed by this call.",
            retry_after=wait,
        )
    if status == 403:
        raise UpstreamError(
            f"{service} does not allow {asked} (HTTP 403){detail}. The credentials{setting} lack a permission "
            "this needs, or the resource refuses it; nothing was changed, and retrying will not help.",
            status=403,
        )
    if status == 404:
        raise NotFound(
            f"{service} found nothing at {asked} (HTTP 404){detail}. Check the names and ids: it does not "
            "exist, or the credentials this server uses cannot see it."
        )
    if status == 409:
        raise Conflict(f"{service} refused {asked}: it conflicts with the current state (HTTP 409){detail}.")
    if status in (400, 422):
        raise InvalidRequest(f"{service} refused {asked} as invalid (HTTP {status}){detail}. Fix the request.")
    if status < 500:
        raise UpstreamError(f"{service} refused {asked} (HTTP {status} {response.reason_phrase}){detail}.", status)
    wait = _retry_after(response.headers)
    later = f"Retry in {math.ceil(wait)} s." if wait is not None else "Retry later."
    raise DependencyUnavailable(
        f"{service} failed to answer {asked} (HTTP {status}){detail}. {outcome_of(method)} {later}"
    )


def transport_failure(error: httpx.TransportError, *, service: str) -> CallError:
    """The kit's error for a request to ``service`` that got no answer (connect error, timeout, dropped)."""
    try:
        method = error.request.method
        target = _path(error.request.url)
    except RuntimeError:  # an error raised outside a client has no request
        method, target = "", ""
    asked = f"{method} {target}".strip() or "the request"
    reason = _clean(str(error))
    because = f" ({type(error).__name__}{': ' + reason if reason else ''})"
    if isinstance(error, _NOT_SENT_ERRORS):
        return DependencyUnavailable(
            f"Could not reach {service} for {asked}{because}. Nothing was changed by this call. Retry later."
        )
    if isinstance(error, httpx.TimeoutException):
        return DependencyUnavailable(
            f"{service} did not answer {asked} in time{because}. {outcome_of(method)} Retry later."
        )
    return DependencyUnavailable(
        f"The connection to {service} failed during {asked}{because}. {outcome_of(method)} Retry later."
    )


def outcome_of(method: str) -> str:
    """What a failed request may have changed, by method."""
    if method in READ_METHODS:
        return "Nothing was changed by this call."
    if method in IDEMPOTENT_METHODS:
        return "It may or may not have taken effect; repeating it is safe."
    return "Its outcome is unknown: check whether it took effect before repeating it."


def _backoff(attempt: int) -> float:
    return random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))  # noqa: S311 - jitter, not a secret


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from a ``Retry-After`` header (a number of seconds or an HTTP date), if there is one."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _rate_limit_reset(headers: httpx.Headers) -> float | None:
    """Seconds until ``x-ratelimit-reset`` (epoch seconds) when ``x-ratelimit-remaining`` is 0."""
    if headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    try:
        reset = float(headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return None
    return max(0.0, math.ceil(reset - time.time())) if math.isfinite(reset) else None


def _rate_limit_signs(response: httpx.Response, text: str) -> bool:
    headers = response.headers
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining", "").strip() == "0"
        or "rate limit" in text.lower()
    )


def _rate_limit_wait(headers: httpx.Headers) -> float | None:
    wait = _retry_after(headers)
    return wait if wait is not None else _rate_limit_reset(headers)


def _when(wait: float | None) -> str:
    if wait is None:
        return "Retry in a minute or more."
    at = datetime.now(UTC) + timedelta(seconds=wait)
    return f"Retry in {math.ceil(wait)} s (after {at:%H:%M:%S} UTC)."


def _target(response: httpx.Response) -> tuple[str, str]:
    try:
        request = response.request
    except RuntimeError:  # a response built outside a client has no request
        return "", ""
    return request.method, _path(request.url)


def _path(url: httpx.URL) -> str:
    """The URL's path, without the query (which may carry a token), redacted."""
    return redact_text(url.path)[:MAX_TEXT]


def _clean(text: str) -> str:
    """Upstream text fit for a message: its first non-empty line, redacted, at most ``MAX_TEXT`` characters."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    # Redact before cutting, so a cut cannot leave a secret too short to be recognised.
    line = redact_text(line[: MAX_TEXT * 8])
    return line if len(line) <= MAX_TEXT else line[: MAX_TEXT - 1] + "…"


def _upstream_text(response: httpx.Response) -> str:
    """The upstream's own explanation: the JSON ``message`` (with GitHub-style ``errors``) or plain text."""
    try:
        body = response.content
    except httpx.ResponseNotRead:
        return ""
    if not body:
        return ""
    content_type = response.headers.get("content-type", "").lower()
    if "json" in content_type or body.lstrip()[:1] in (b"{", b"["):
        try:
            data: object = jsonlib.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return _json_text(cast("dict[str, object]", data))
    if "html" in content_type:
        return ""
    return _clean(body[: MAX_TEXT * 8].decode("utf-8", "replace"))


def _json_text(data: dict[str, object]) -> str:
    message = next(
        (_clean(value) for key in ("message", "error_description", "error") if isinstance(value := data.get(key), str)),
        "",
    )
    parts: list[str] = []
    errors = data.get("errors")
    if isinstance(errors, list):
        for item in cast("list[object]", errors)[:5]:
            if isinstance(item, str):
                parts.append(_clean(item))
            elif isinstance(item, dict):
                entry = cast("dict[str, object]", item)
                field, text = entry.get("field"), entry.get("message") or entry.get("code")
                text = _clean(text) if isinstance(text, str) else ""
                parts.append(f"{_clean(field)}: {text}" if isinstance(field, str) and text else text)
    listed = "; ".join(part for part in parts if part)
    if message and listed:
        return _clean(f"{message} ({listed})")
    return _clean(message or listed)
