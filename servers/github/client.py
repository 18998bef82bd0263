"""The GitHub REST client of the github server: githubkit (async), built once, as a dependency part.

- Credentials: ``GITHUB_TOKEN``, or a GitHub App (``GITHUB_APP_ID``, its private key, the installation to act
  as; githubkit refreshes installation tokens by itself); GitHub Enterprise Server through ``GITHUB_API_URL``.
  No credentials: the part is "not configured", and every call raises :class:`NotConfigured` naming them.
- Rate limits and faults: at most ``AFU9_GITHUB_MAX_CONCURRENCY`` requests in flight; a rate limit or a 5xx
  is retried once or twice when the wait is short (``AFU9_GITHUB_RETRY_WAIT_SECONDS``), otherwise the call
  fails with :class:`RateLimited` saying when to retry. Every other failure is translated here, once:
  401 invalid or expired credentials, 403 with the permission GitHub says is missing, 404 naming what was not
  found, 409/422 with GitHub's own message, timeouts and 5xx as unavailable.
- Answers are read as JSON, not through githubkit's response models, so a field that GitHub Enterprise Server
  or a newer API adds, omits or leaves null never breaks a tool (the projections in ``models.py`` are lenient).
- ``/ready`` reads ``GET /rate_limit`` (free of charge) at most once a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from servers.github.settings import GitHubSettings
from shared.deps import Dependency, Health
from shared.errors import (
    DependencyUnavailable,
    NotConfigured,
    RateLimited,
    UpstreamError,
)

if TYPE_CHECKING:
    import httpx
    from githubkit import GitHub

__all__ = ["CREDENTIALS", "GitHubAnswer", "GitHubClient", "Identity"]

CREDENTIALS = (
    "GITHUB_TOKEN, or GITHUB_APP_ID with GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE) "
    "and GITHUB_APP_INSTALLATION_ID"
)
_SERVICE = "GitHub"
_CHECK_EVERY = 60.0  # seconds /ready reuses a check that reached GitHub (credentials good or refused)
_RECHECK_UNREACHABLE = 5.0  # seconds /ready reuses "GitHub unreachable"
_RETRIES = 2


@dataclass(frozen=True)
class GitHubAnswer:
    """A successful answer: its JSON (``None`` for an empty body) and its headers."""

    status: int
    data: Any
    headers: Mapping[str, str]

    @property
    def has_next_page(self) -> bool:
        return 'rel="next"' in self.headers.get("link", "")


@dataclass(frozen=True)
class Identity:
    """Who the server acts as, and what it may still spend."""

    login: str
    kind: str  # "token" or "app"
    scopes: tuple[str, ...]
    rate_limit: int | None
    rate_remaining: int | None
    rate_reset: datetime | None


class GitHubClient(Dependency):
    """The one GitHub client of the process (see the module docstring)."""

    name = "github"

    def __init__(self, settings: GitHubSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport
        self._github: GitHub[Any] | None = None
        self._app_github: GitHub[Any] | None = None
        self._checked: tuple[float, Health] | None = None  # until when, what
        self._identity: Identity | None = None

    @property
    def kind(self) -> str | None:
        """``token``, ``app`` or None (not configured)."""
        if self.settings.token is not None:
            return "token"
        app = self.settings
        if app.app_id and app.app_installation_id and (app.app_private_key or app.app_private_key_file):
            return "app"
        return None

    @property
    def github(self) -> GitHub[Any]:
        """The githubkit client, built on first use (githubkit is imported then, not at start)."""
        if self._github is None:
            self._github = self._build()
        return self._github

    @property
    def app_github(self) -> GitHub[Any]:
        """The client acting as the GitHub App itself (a JWT), for the App's own endpoints (``/app/...``)."""
        if self.kind != "app":
            raise NotConfigured(
                "a GitHub App", "GITHUB_APP_ID with its private key", "The App's own endpoints need the App"
            )
        if self._app_github is None:
            from githubkit import AppAuthStrategy

            self._app_github = self.github.with_auth(AppAuthStrategy(self.settings.app_id, self._private_key()))
        return self._app_github

    def _build(self) -> GitHub[Any]:
        from githubkit import AppAuthStrategy, GitHub, TokenAuthStrategy
        from githubkit.throttling import LocalThrottler

        from shared.http_client import user_agent

        settings = self.settings
        auth: Any
        if self.kind == "token":
            assert settings.token is not None
            auth = TokenAuthStrategy(settings.token.get_secret_value())
        elif self.kind == "app":
            assert settings.app_installation_id is not None
            auth = AppAuthStrategy(settings.app_id, self._private_key()).as_installation(settings.app_installation_id)
        else:
            raise NotConfigured("GitHub credentials", CREDENTIALS, "This tool talks to GitHub")
        return GitHub(
            auth,
            base_url=settings.api_url + "/",
            user_agent=user_agent("github"),
            timeout=settings.timeout_seconds,
            async_transport=self.transport,
            http_cache=False,
            throttler=LocalThrottler(settings.max_concurrency),
            auto_retry=self._retry,
            rest_api_validate_body=False,
        )

    def _private_key(self) -> str:
        settings = self.settings
        if settings.app_private_key is not None:
            return settings.app_private_key.get_secret_value()
        assert settings.app_private_key_file is not None
        try:
            return settings.app_private_key_file.read_text()
        except OSError as error:
            raise NotConfigured(
                "the GitHub App's private key",
                "GITHUB_APP_PRIVATE_KEY_FILE (a readable PEM file) or GITHUB_APP_PRIVATE_KEY",
                f"The private key file cannot be read ({type(error).__name__})",
            ) from None

    def _retry(self, error: Any, count: int) -> Any:
        """githubkit's retry decision: a short wait after a rate limit or a 5xx, a bounded number of times."""
        from githubkit.exception import RateLimitExceeded, RequestFailed, RequestTimeout
        from githubkit.typing import RetryOption

        limit = self.settings.retry_wait_seconds
        if count >= _RETRIES:
            return RetryOption(False)
        if isinstance(error, RateLimitExceeded):
            wait = error.retry_after.total_seconds()
            # githubkit waits a minute for a zero wait ("retry-after: 0"): ask for a millisecond instead.
            after = error.retry_after if wait > 0 else timedelta(milliseconds=1)
            return RetryOption(True, after) if wait <= limit else RetryOption(False)
        idempotent = getattr(getattr(error, "request", None), "method", "") in ("GET", "HEAD", "PUT", "DELETE")
        if isinstance(error, RequestFailed) and error.response.status_code in (502, 503, 504) and idempotent:
            return RetryOption(True, timedelta(seconds=min(limit, float(count + 1))))
        if isinstance(error, RequestTimeout) and idempotent:
            return RetryOption(True, timedelta(seconds=min(limit, float(count + 1))))
        return RetryOption(False)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: str | None = None,
        as_app: bool = False,
    ) -> GitHubAnswer:
        """One REST call answered with JSON; failures become the kit's errors (see the module docstring).
        ``as_app``: sent as the GitHub App itself rather than its installation (``/app/...`` endpoints)."""
        raw = await self._send(method, path, params=params, json=json, accept=accept, as_app=as_app)
        data = raw.json() if raw.content else None
        return GitHubAnswer(status=raw.status_code, data=data, headers=dict(raw.headers))

    async def request_chunks(
        self,
        method: str,
        path: str,
        consume: Callable[[str], object],
        *,
        max_bytes: int,
        params: Mapping[str, Any] | None = None,
    ) -> bool:
        """One REST call answered with text, read as it arrives: ``consume`` gets it piece by piece (decoded, at
        most 64 KiB each), so a large answer (a job's log, followed through GitHub's redirect) is never held
        whole. Reading stops after ``max_bytes`` bytes: True says the answer was read to its end, False that it
        was cut there. Failures are translated as :meth:`request` translates them, its deadline
        (``AFU9_GITHUB_DOWNLOAD_TIMEOUT_SECONDS``) covers the whole exchange (the body included), and the body is
        read holding a place under the concurrency cap."""
        from shared.http_client import outcome_of, transport_failure

        github = self.github
        limit = self.settings.download_timeout_seconds
        shown = "/" + path.lstrip("/")
        try:
            # Within `github`, githubkit keeps the exchange's HTTP client open until the body has been read.
            async with asyncio.timeout(limit), github:
                response = await self._send(method, path, params=params, stream=True)
                try:
                    # githubkit's throttler let go when the headers came; the body counts as in flight too
                    async with github.config.throttler.async_acquire(response.request):
                        return await _read_text(response, consume, max_bytes)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise DependencyUnavailable(
                f"GitHub did not answer {method} {shown} within {limit:g} s. {outcome_of(method)} Retry later."
            ) from None
        except _httpx().TransportError as error:  # the connection failed while the body was read
            raise transport_failure(error, service=_SERVICE) from None

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        accept: str | None = None,
        as_app: bool = False,
        stream: bool = False,
    ) -> httpx.Response:
        from githubkit.exception import (
            AuthCredentialError,
            AuthExpiredError,
            RateLimitExceeded,
            RequestError,
            RequestFailed,
            RequestTimeout,
        )

        from shared.http_client import outcome_of, transport_failure

        github = self.app_github if as_app else self.github
        headers = {"Accept": accept} if accept else None
        query = {k: v for k, v in (params or {}).items() if v is not None}
        limit = self.settings.timeout_seconds
        shown = "/" + path.lstrip("/")
        try:
            # one deadline for the whole exchange (httpx's timeouts are per phase: a slow trickle passes them)
            async with asyncio.timeout(limit):
                response = await github.arequest(
                    method, path, params=query or None, json=json, headers=headers, stream=stream
                )
        except TimeoutError:
            raise DependencyUnavailable(
                f"GitHub did not answer {method} {shown} within {limit:g} s. {outcome_of(method)} Retry later."
            ) from None
        except RateLimitExceeded as error:
            wait = max(0.0, error.retry_after.total_seconds())
            at = (datetime.now(UTC) + error.retry_after).strftime("%H:%M:%S UTC")
            raise RateLimited(
                f"GitHub's rate limit is exhausted for {method} {shown}; retry in {wait:.0f} s (at {at}). "
                "Nothing was changed by this call.",
                retry_after=wait,
            ) from None
        except RequestFailed as error:
            raise _failure(error.response.raw_response, self.kind) from None
        except RequestTimeout as error:
            raise transport_failure(error.exc, service=_SERVICE) from None
        except RequestError as error:
            failure = error.exc
            if isinstance(failure, _httpx().TransportError):
                raise transport_failure(failure, service=_SERVICE) from None
            raise DependencyUnavailable(f"GitHub could not be reached for {method} {shown}; retry later.") from None
        except (AuthCredentialError, AuthExpiredError):
            raise UpstreamError(
                f"GitHub refused the server's credentials for {method} {shown}: they are invalid or expired. "
                f"An operator should check {CREDENTIALS}.",
                status=401,
            ) from None
        return response.raw_response

    async def identity(self, *, fresh: bool = False) -> Identity:
        """Who the server acts as and its rate limit (``GET /rate_limit`` is free; the login is asked once)."""
        limits = await self.request("GET", "rate_limit")
        core = (limits.data or {}).get("resources", {}).get("core", {}) if isinstance(limits.data, dict) else {}
        if self._identity is None or fresh:
            if self.kind == "app":
                login, scopes = await self._app_identity()
            else:
                me = await self.request("GET", "user")
                login = str((me.data or {}).get("login", "?"))
                scopes = tuple(s.strip() for s in me.headers.get("x-oauth-scopes", "").split(",") if s.strip())
            self._identity = Identity(login, self.kind or "?", scopes, None, None, None)
        reset = core.get("reset")
        return Identity(
            login=self._identity.login,
            kind=self._identity.kind,
            scopes=self._identity.scopes,
            rate_limit=core.get("limit"),
            rate_remaining=core.get("remaining"),
            rate_reset=datetime.fromtimestamp(reset, UTC) if isinstance(reset, int | float) else None,
        )

    async def _app_identity(self) -> tuple[str, tuple[str, ...]]:
        installation = await self.request("GET", "installation/repositories", params={"per_page": 1})
        del installation
        app_id = self.settings.app_id or "?"
        return f"app {app_id} (installation {self.settings.app_installation_id})", ()

    def unconfigured(self) -> str | None:
        return CREDENTIALS if self.kind is None else None

    async def check(self) -> Health:
        if self.kind is None:
            return Health.not_configured(CREDENTIALS)
        if self._checked is not None and time.monotonic() < self._checked[0]:
            return self._checked[1]
        try:
            identity = await self.identity()
        except (UpstreamError, NotConfigured) as error:
            # refused credentials: asked again a minute later, not on every probe (GitHub locks out clients
            # that keep sending bad credentials; a new secret needs a restart anyway)
            health, ttl = Health.down(str(error).split(". ")[0]), _CHECK_EVERY
        except (TimeoutError, DependencyUnavailable) as error:
            health, ttl = Health.down(f"GitHub unreachable: {str(error)[:120]}"), _RECHECK_UNREACHABLE
        else:
            remaining = f"{identity.rate_remaining}/{identity.rate_limit}" if identity.rate_limit else "unknown"
            health, ttl = Health.up(f"{identity.kind} {identity.login}; rate limit left {remaining}"), _CHECK_EVERY
        self._checked = (time.monotonic() + ttl, health)
        return health

    async def close(self) -> None:
        self._github = self._app_github = None


def _httpx() -> Any:
    import httpx

    return httpx


_CHUNK = 64 * 1024  # bytes handed to a consumer at a time


async def _read_text(response: httpx.Response, consume: Callable[[str], object], max_bytes: int) -> bool:
    """Feed ``response``'s body to ``consume`` as text, at most ``max_bytes`` bytes; False when it was cut."""
    import codecs

    decoder = codecs.getincrementaldecoder(response.encoding or "utf-8")(errors="replace")
    read = 0
    async for chunk in response.aiter_bytes(_CHUNK):
        room = max_bytes - read
        if len(chunk) > room:
            consume(decoder.decode(chunk[:room]))
            return False
        read += len(chunk)
        consume(decoder.decode(chunk))
    consume(decoder.decode(b"", final=True))
    return True


def _failure(response: httpx.Response, kind: str | None) -> Exception:
    """The kit's error for a GitHub answer that failed (rate limits are githubkit's own exception)."""
    if response.status_code == 403:
        needed = response.headers.get("x-accepted-github-permissions") or response.headers.get(
            "x-accepted-oauth-scopes"
        )
        message = _message(response)
        if needed and "rate limit" not in message.lower():
            what = "GitHub App permission(s)" if kind == "app" else "token permission(s) or scope(s)"
            return UpstreamError(
                f"GitHub does not allow this with the server's credentials (HTTP 403: {message}). It needs the "
                f"{what} {needed}; an operator can grant them. Nothing was changed.",
                status=403,
            )
    from shared.http_client import raise_for_upstream

    try:
        raise_for_upstream(response, service=_SERVICE, credentials_setting=CREDENTIALS)
    except Exception as error:  # noqa: BLE001 - the translated error is what the caller raises
        return error
    return DependencyUnavailable(f"GitHub answered HTTP {response.status_code} unexpectedly; retry later.")


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase
    return str(data.get("message", response.reason_phrase))[:300] if isinstance(data, dict) else response.reason_phrase
