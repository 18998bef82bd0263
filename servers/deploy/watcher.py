"""The watcher: a background look at the services named in ``AFU9_DEPLOY_WATCH_SERVICES``, so failures are
stored before ECS forgets them (about an hour) and deployment outcomes reach the history without anyone asking.

:class:`Watcher` is a dependency part of the deploy server. Over HTTP it runs one loop from :meth:`Watcher.warm`
(stdio servers live as long as one client session: they do not poll). Every ``AFU9_DEPLOY_WATCH_INTERVAL_SECONDS``
it looks at each service once: ``DescribeServices`` (the deployments: the newest is recorded as seen, and its
outcome once its rollout is COMPLETED or FAILED), ``ListTasks`` of the stopped tasks and ``DescribeTasks`` of
those it has not seen yet (the failures among them are stored). Each look is bounded in calls and time; one
that fails is logged (redacted) and tried again at the next interval; nothing stops the loop but :meth:`close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from servers.deploy.diagnosis import describe_tasks, failure_row, stopped_task_arns
from servers.deploy.rollouts import service_of, text
from servers.deploy.settings import DeploySettings
from shared.aws import AwsClients
from shared.deps import Dependency, Health
from shared.redaction import redact_text
from shared.timestamps import iso, utc

if TYPE_CHECKING:
    from servers.deploy.history import History

__all__ = ["SETTING", "Watcher"]

log = logging.getLogger(__name__)

SETTING = f"{DeploySettings.model_config.get('env_prefix', '')}watch_services".upper()
LOOK_TIMEOUT = 60.0  # seconds one look at one service may take (AWS calls included) before it is given up
STOP_GRACE = 0.5  # seconds the loop gets to finish a look when the server stops, before it is cancelled
REMEMBERED = 5000  # task ARNs and deployment ids remembered per process (then forgotten, and read again)
_OUTCOMES = {"COMPLETED": "completed", "FAILED": "failed"}


@dataclass(frozen=True)
class Look:
    """The last look at one service."""

    service: str
    at: datetime
    captured: int
    error: str | None


class Watcher(Dependency):
    """The watched services and the loop that looks at them (see the module docstring)."""

    name = "watcher"
    required = False  # the tools do not need it; /ready still shows it

    def __init__(self, settings: DeploySettings, aws: AwsClients, history: Callable[[], History]) -> None:
        self.settings = settings
        self.aws = aws
        self._history = history  # made on first use: SQLAlchemy is not imported at start (cold start)
        self.services = [tuple(entry.split("/", 1)) for entry in settings.watch_services]
        self.interval = settings.watch_interval_seconds
        self.captured = 0  # failures stored by this process's loop
        self.rounds = 0  # rounds over every service finished
        self.last: Look | None = None
        self._seen_tasks: set[str] = set()
        self._seen_deployments: set[tuple[str, str, str]] = set()
        self._finished: set[tuple[str, str, str]] = set()
        self._stop = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    @property
    def configured(self) -> bool:
        return bool(self.services)

    async def warm(self) -> None:
        """Start the loop (HTTP serving), when services are named."""
        if self.configured and self._loop is None:
            self._stop.clear()
            self._loop = asyncio.create_task(self._run(), name="deploy-watcher")

    async def close(self) -> None:
        """Stop the loop: the look in hand gets ``STOP_GRACE`` seconds, then it is cancelled."""
        if self._loop is None:
            return
        self._stop.set()
        await asyncio.wait({self._loop}, timeout=STOP_GRACE)
        self._loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._loop
        self._loop = None

    def unconfigured(self) -> str | None:
        return None if self.configured else SETTING

    async def check(self) -> Health:
        if not self.configured:
            return Health.not_configured(SETTING, f"watcher off: set {SETTING} (cluster/service, comma-separated)")
        watching = f"watching {len(self.services)} service(s) every {self.interval:g} s"
        if self._loop is None or self._loop.done():
            watching += ", not polling in this process (only HTTP serving polls)"
        last = self.last
        if last is None:
            return Health.up(f"{watching}; no look yet")
        outcome = f"failed: {last.error}" if last.error else f"ok, {last.captured} new failure(s) stored"
        return Health.up(
            f"{watching}; last looked at {last.service} at {iso(last.at)} ({outcome}); "
            f"{self.captured} failure(s) stored since start"
        )

    async def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            await self.look_all()
            wait = max(0.0, self.interval - (time.monotonic() - began))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    async def look_all(self) -> None:
        """One look at every watched service; never raises (but is cancelled by :meth:`close`)."""
        for cluster, service in self.services:
            if self._stop.is_set():
                return
            await self._guarded(cluster, service)
        self.rounds += 1

    async def _guarded(self, cluster: str, service: str) -> None:
        error: str | None = None
        captured = 0
        try:
            async with asyncio.timeout(LOOK_TIMEOUT):
                captured = await self.look(cluster, service)
        except TimeoutError:
            error = f"no answer within {LOOK_TIMEOUT:g} s"
        except Exception as failure:  # noqa: BLE001 - the loop outlives a bad moment; the next interval tries again
            error = f"{type(failure).__name__}: {redact_text(str(failure))[:300]}"
        if error is not None:
            log.warning(
                "deploy watcher: %s/%s not read, tried again in %g s: %s", cluster, service, self.interval, error
            )
        self.captured += captured
        self.last = Look(f"{cluster}/{service}", datetime.now(UTC), captured, error)

    async def look(self, cluster: str, service: str) -> int:
        """Record the service's deployments and store its failed stopped tasks not seen yet; how many were new."""
        history = self._history()
        described = await service_of(self.aws, cluster, service)
        await self._deployments(history, cluster, service, described)
        arns = [arn for arn in await stopped_task_arns(self.aws, cluster, service) if arn not in self._seen_tasks]
        if not arns:
            return 0
        rows: list[dict[str, Any]] = []
        finals: list[str] = []
        for task in await describe_tasks(self.aws, cluster, arns):
            if task.get("lastStatus") != "STOPPED":
                continue  # still stopping: its exit codes may still come; read it again next time
            finals.append(str(task.get("taskArn")))
            row = failure_row(task, cluster, service)
            if row is not None:
                rows.append(row)
        stored = await history.captured(rows)
        _remember(self._seen_tasks, finals)  # only once stored: a failed insert is tried again next time
        return stored

    async def _deployments(self, history: History, cluster: str, service: str, described: Mapping[str, Any]) -> None:
        from servers.deploy.history import Started

        deployments = list(described.get("deployments") or [])
        active = next((d for d in deployments if d.get("status") == "ACTIVE"), None)
        for raw in deployments:
            key = (cluster, service, str(raw.get("id")))
            state = raw.get("rolloutState")
            primary = raw.get("status") == "PRIMARY"
            if not (primary or state == "FAILED") or key in self._finished:
                continue
            if key not in self._seen_deployments:
                created = raw.get("createdAt")
                await history.started(
                    Started(
                        cluster=cluster,
                        service=service,
                        deployment_id=key[2],
                        task_definition=str(raw.get("taskDefinition")),
                        previous_task_definition=(
                            str(active.get("taskDefinition")) if primary and active is not None else None
                        ),
                        container=None,
                        image=None,
                        previous_image=None,
                        requested_by=None,
                        reason=None,
                    ),
                    at=utc(created) if isinstance(created, datetime) else None,
                )
                _remember(self._seen_deployments, [key])
            outcome = _OUTCOMES.get(str(state))
            if outcome is not None:
                updated = raw.get("updatedAt")
                reason = text(raw["rolloutStateReason"], 1000) if raw.get("rolloutStateReason") else None
                at = utc(updated) if isinstance(updated, datetime) else None
                await history.finished(cluster, service, key[2], outcome, reason, at)
                _remember(self._finished, [key])


def _remember(seen: set[Any], items: list[Any]) -> None:
    """Add ``items`` to ``seen``, forgetting everything first when it grew past ``REMEMBERED`` (bounded memory)."""
    if len(seen) + len(items) > REMEMBERED:
        seen.clear()
    seen.update(items)
