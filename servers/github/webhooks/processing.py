"""Processing stored webhook deliveries off the request path: rules, targets, retries, dead letters.

:class:`Webhooks` is a dependency part of the github server. Over HTTP (where the intake is) it runs a
processor loop from :meth:`Webhooks.warm`: it claims due deliveries (a lease per row, so several processes
share the work and a process that dies mid-processing leaves its deliveries to the next), runs the targets of
every matching rule, and records the outcome. A failed target is retried with exponential backoff and jitter
(``AFU9_GITHUB_WEBHOOK_RETRY_SECONDS`` doubling up to ``..._MAX_RETRY_SECONDS``) until
``AFU9_GITHUB_WEBHOOK_MAX_ATTEMPTS``, then the delivery is dead-lettered with the last error. Each target run
is at-least-once with an idempotency key per delivery, rule and replay generation: a retry never applies a
target that already succeeded, and the tool called gets the same key as its ``idempotency_key`` when it
takes one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from servers.github.models import as_dict, text
from servers.github.settings import GitHubSettings
from servers.github.webhooks.rules import DEFAULT_PORTS, Context, Rules, ServerAddress, Target, load_rules
from servers.github.webhooks.store import DEAD, DONE, PENDING, DeliveryStore, Outcome
from servers.github.webhooks.summaries import branch_of, labels_of
from shared.deps import Dependency, Health
from shared.errors import CallError, DependencyUnavailable
from shared.redaction import redact_text

if TYPE_CHECKING:
    from shared.db import Database
    from shared.idempotency import Idempotency

__all__ = ["TargetFailed", "TargetOutcome", "ToolCaller", "Webhooks", "context_of"]

log = logging.getLogger(__name__)

_IDLE_POLL = 5.0  # seconds between two looks at the table when nothing is due and nothing woke the loop
_PAUSE_AFTER_FAILURE = 5.0
_STOP_GRACE = 5.0  # seconds the loop gets to finish its deliveries in hand when the server stops
_ERROR_CHARS = 500
SETTING = "GITHUB_WEBHOOK_SECRET"


class TargetFailed(Exception):
    """A target did not succeed; the message says why (for ``last_error``)."""


class TargetOutcome(BaseModel):
    """What a target run answered, kept as the idempotency record's result."""

    summary: str
    replayed: bool = False


class ToolCaller:
    """Calls a tool of one of the suite's servers over MCP (streamable HTTP; in tests, an in-process server).

    A server's address comes from the rules file's ``servers`` section, else ``http://127.0.0.1:<its default
    port>/mcp`` with the first of ``AFU9_HTTP_TOKENS`` as bearer token (the sidecars of one task share
    loopback and tokens).
    """

    def __init__(
        self,
        addresses: Mapping[str, ServerAddress],
        default_token: str | None,
        *,
        local: Mapping[str, Any] | None = None,
    ) -> None:
        self.addresses = dict(addresses)
        self.default_token = default_token
        self.local = dict(local or {})  # in-process servers (tests): one call at a time, each runs its lifespan
        self._local_lock = asyncio.Lock()

    def url(self, server: str) -> str:
        if server in self.addresses:
            return self.addresses[server].url
        if server in DEFAULT_PORTS:
            return f"http://127.0.0.1:{DEFAULT_PORTS[server]}/mcp"
        raise TargetFailed(f"server {server!r} has no address: add it under servers: in the rules file")

    def _token(self, server: str) -> str | None:
        address = self.addresses.get(server)
        if address is not None and address.token_env:
            return os.environ.get(address.token_env) or None
        return self.default_token

    async def call(self, server: str, tool: str, arguments: dict[str, Any], *, idempotency_key: str) -> str:
        """Call ``tool`` on ``server``; its text answer (cut), or :class:`TargetFailed`."""
        from mcp import Client

        shown = f"{server}.{tool}"
        if server in self.local:
            try:
                async with self._local_lock, Client(self.local[server]) as client:
                    return await _call(client, server, tool, arguments, idempotency_key)
            except Exception as error:  # noqa: BLE001 - every failure becomes one sentence for last_error
                raise _failure(error, shown, "in-process") from None
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        url = self.url(server)
        token = self._token(server)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            async with (
                httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                return await _call(client, server, tool, arguments, idempotency_key)
        except Exception as error:  # noqa: BLE001 - every failure becomes one sentence for last_error
            raise _failure(error, shown, url) from None


def _failure(error: BaseException, shown: str, url: str) -> TargetFailed:
    """One sentence for a failed call (the client wraps connection failures in exception groups)."""
    import httpx2
    from mcp import MCPError

    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, TargetFailed):
        return error
    if isinstance(error, MCPError):
        return TargetFailed(f"{shown}: MCP error {error.code}: {error.message[:200]}")
    if isinstance(error, httpx2.HTTPError | OSError):
        return TargetFailed(f"{shown}: {url} could not be reached ({type(error).__name__})")
    return TargetFailed(f"{shown}: {type(error).__name__}: {redact_text(str(error))[:200]}")


async def _call(client: Any, server: str, tool: str, arguments: dict[str, Any], key: str) -> str:
    listed = await client.list_tools()
    found = next((t for t in listed.tools if t.name == tool), None)
    if found is None:
        raise TargetFailed(f"{server} serves no tool {tool!r} (is its toolset on, are writes allowed?)")
    properties = as_dict(found.input_schema).get("properties") or {}
    if "idempotency_key" in properties and "idempotency_key" not in arguments:
        arguments = {**arguments, "idempotency_key": key}
    result = await client.call_tool(tool, arguments)
    answer = " ".join(getattr(block, "text", "") for block in result.content).strip()
    if result.is_error:
        raise TargetFailed(f"{server}.{tool} answered an error: {answer[:300]}")
    return answer[:200]


def context_of(row: Mapping[str, Any]) -> Context:
    """What rules see of a stored delivery."""
    payload = as_dict(row["payload"])
    return Context(
        delivery=row["delivery_id"],
        event=row["event"],
        action=row["action"],
        repository=row["repository"],
        branch=branch_of(row["event"], payload),
        labels=labels_of(payload),
        sender=row["sender"] or text(as_dict(payload.get("sender")), "login"),
        payload=payload,
    )


class Webhooks(Dependency):
    """The webhook deliveries: their store, the rules, and the processor loop (see the module docstring)."""

    name = "webhooks"
    required = False  # the github tools do not need it; /ready still shows it

    def __init__(self, settings: GitHubSettings, database: Database, idempotency: Idempotency) -> None:
        self.settings = settings
        self.store = DeliveryStore(database)
        self.idempotency = idempotency
        self.rules = Rules()
        self.caller: ToolCaller | None = None
        self.lease = timedelta(seconds=settings.webhook_target_timeout_seconds * 2 + 30)
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop: asyncio.Task[None] | None = None
        # The event feed shows rows received this long ago or more: on PostgreSQL a row may commit after one
        # with a higher seq, and a cursor already past it would skip it. SQLite commits in seq order.
        self.feed_settle = timedelta(seconds=2 if database.dialect == "postgresql" else 0)

    async def start(self) -> None:
        self.rules = load_rules(self.settings.webhook_rules)  # a bad rules file stops the start, saying why
        if self.caller is None:
            tokens = self.settings.http_tokens  # "token" or "client:token" entries: the first one's token
            first = tokens[0].partition(":")[2] or tokens[0] if tokens else None
            self.caller = ToolCaller(self.rules.servers, first)

    async def warm(self) -> None:
        """Start the processor loop (HTTP serving: where deliveries arrive)."""
        if self._loop is None:
            self._stopping = False
            self._loop = asyncio.create_task(self._run(), name="webhook-processor")

    async def close(self) -> None:
        """Let the loop finish what it is doing (a short grace), then stop it; unfinished deliveries stay
        claimed until their lease runs out, and are then processed again (by this process once restarted)."""
        if self._loop is None:
            return
        self._stopping = True
        self._wake.set()
        await asyncio.wait({self._loop}, timeout=_STOP_GRACE)
        self._loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._loop
        self._loop = None

    def unconfigured(self) -> str | None:
        return None if self.settings.webhook_secret is not None else SETTING

    async def check(self) -> Health:
        if self.settings.webhook_secret is None:
            return Health.not_configured(SETTING, "webhook intake off: POST /webhooks/github answers 503")
        try:
            counts = await self.store.counts()
        except DependencyUnavailable as error:
            return Health.down(str(error)[:200])
        processing = "processing" if self._loop is not None and not self._loop.done() else "not processing here"
        return Health.up(
            f"{processing}; pending {counts.get(PENDING, 0)}, dead letters {counts.get(DEAD, 0)}, "
            f"rules {len(self.rules.rules)}"
        )

    def wake(self) -> None:
        """A delivery was stored: look for due work now."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if await self.process_due():
                    continue
                due = await self.store.next_due()
            except Exception as error:  # noqa: BLE001 - the loop outlives a bad moment; the rows stay pending
                log.warning("webhook processing paused: %s", redact_text(str(error))[:300])
                due = datetime.now(UTC) + timedelta(seconds=_PAUSE_AFTER_FAILURE)
            if self._stopping:
                return
            wait = _IDLE_POLL
            if due is not None:
                wait = min(wait, max(0.05, (due - datetime.now(UTC)).total_seconds()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def process_due(self) -> int:
        """Claim and process the deliveries due now (at most ``AFU9_GITHUB_WEBHOOK_WORKERS`` at once), then
        record their outcomes together; how many."""
        rows = await self.store.claim_due(
            self.settings.webhook_workers, self.lease, with_payloads=self.rules.read_payloads
        )
        if not rows:
            return 0
        outcomes = await asyncio.gather(*(self._process(row) for row in rows))
        try:
            await self.store.finish(outcomes)
        except DependencyUnavailable:
            log.warning(
                "the outcomes of webhook deliveries %s could not be recorded; they are retried when their lease "
                "runs out",
                ", ".join(row["delivery_id"] for row in rows),
            )
        return len(rows)

    async def _process(self, row: Mapping[str, Any]) -> Outcome:
        outcomes: list[dict[str, Any]] = []
        failures: list[str] = []
        try:
            context = context_of(row)
            rules = self.rules.matching(context)
            for rule in rules:
                outcome = await self._run_target(row, rule.target(context))
                outcomes.append(outcome)
                if outcome["outcome"] == "failed":
                    failures.append(f"{rule.name}: {outcome['detail']}")
        except Exception as error:  # noqa: BLE001 - a rule that cannot be evaluated fails this attempt only
            failures.append(f"rules: {type(error).__name__}: {redact_text(str(error))[:300]}")
        attempts = int(row["attempts"])
        if not failures:
            return Outcome(row["seq"], DONE, outcomes, None, None)
        error_text = "; ".join(failures)[:_ERROR_CHARS]
        if attempts >= self.settings.webhook_max_attempts:
            log.warning(
                "webhook delivery %s dead-lettered after %d attempts: %s", row["delivery_id"], attempts, error_text
            )
            return Outcome(row["seq"], DEAD, outcomes, error_text, None)
        when = datetime.now(UTC) + timedelta(seconds=self.backoff(attempts))
        return Outcome(row["seq"], PENDING, outcomes, error_text, when)

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones: exponential, capped, jittered
        (between half and all of the capped delay, so retries of many deliveries spread out)."""
        settings = self.settings
        delay = min(settings.webhook_max_retry_seconds, settings.webhook_retry_seconds * 2 ** max(0, attempts - 1))
        return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret

    async def _run_target(self, row: Mapping[str, Any], target: Target) -> dict[str, Any]:
        if target.kind == "record":
            return {"rule": target.rule, "target": "record", "outcome": "recorded"}
        server, tool = target.server or "", target.tool or ""
        shown = f"{server}.{tool}"
        key = f"webhook-{row['delivery_id']}-{target.rule}-{row['replays']}"
        caller = self.caller
        assert caller is not None

        async def act() -> TargetOutcome:
            try:
                async with asyncio.timeout(self.settings.webhook_target_timeout_seconds):
                    answer = await caller.call(server, tool, target.arguments, idempotency_key=key)
            except TimeoutError:
                raise TargetFailed(
                    f"{shown} did not answer within {self.settings.webhook_target_timeout_seconds:g} s"
                ) from None
            return TargetOutcome(summary=answer)

        try:
            done = await self.idempotency.once(
                tool=f"webhook:{target.rule}",
                key=key,
                request={"rule": target.rule},
                action=act,
                result_type=TargetOutcome,
            )
        except (TargetFailed, CallError) as error:
            return {"rule": target.rule, "target": shown, "outcome": "failed", "detail": redact_text(str(error))[:300]}
        except Exception as error:  # noqa: BLE001 - any other failure of a target is this attempt's failure
            detail = f"{type(error).__name__}: {redact_text(str(error))[:300]}"
            return {"rule": target.rule, "target": shown, "outcome": "failed", "detail": detail}
        outcome = "already applied" if done.replayed else "applied"
        return {"rule": target.rule, "target": shown, "outcome": outcome, "detail": done.summary}
