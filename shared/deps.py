"""Dependencies as parts: each outside thing a server needs (database, audit log, GitHub, AWS...) is one part
with a name, a start, a close and a readiness check in three states: ok, down, not configured.

The kit starts a server's parts together (in order) when the server starts, closes them in reverse order
when it stops, and ``/ready`` asks every part at once, each with its own timeout, caching the answers
briefly so a busy load balancer does not hammer the outside world. A part that is down or not configured
never stops the server from answering ``initialize``, ``tools/list`` and the tools that do not need it; a
tool that needs a part that is not configured gets an ``isError`` naming the setting (raise
:class:`~shared.errors.NotConfigured`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Dependency", "Health", "Parts", "Readiness"]

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0  # seconds one readiness check may take before it counts as down
CACHE_SECONDS = 1.0  # how long /ready answers from the last round of checks


class Readiness(enum.StrEnum):
    OK = "ok"
    DOWN = "down"
    NOT_CONFIGURED = "not_configured"


@dataclass(frozen=True)
class Health:
    """One part's readiness. ``detail`` is for operators (logged, or shown to an authenticated caller);
    ``setting`` names what would configure a part that is not configured."""

    state: Readiness
    detail: str = ""
    setting: str | None = None

    @property
    def ok(self) -> bool:
        return self.state is Readiness.OK

    @classmethod
    def up(cls, detail: str = "") -> Health:
        return cls(Readiness.OK, detail)

    @classmethod
    def down(cls, detail: str) -> Health:
        return cls(Readiness.DOWN, detail)

    @classmethod
    def not_configured(cls, setting: str, detail: str = "") -> Health:
        return cls(Readiness.NOT_CONFIGURED, detail or f"not configured: set {setting}", setting)


class Dependency:
    """A part of a server's outside world. Subclasses override what they need; the defaults do nothing.

    ``required``: whether the server is ready only while this part is ok (an optional part is reported but
    does not make ``/ready`` answer 503).
    """

    name: str = "dependency"
    required: bool = True

    async def start(self) -> None:
        """Called once when the server starts (cheap: no network; see :meth:`warm`)."""

    async def warm(self) -> None:
        """Begin reaching the outside world now (HTTP servers call it at start, so /ready turns green early;
        stdio servers do not, to keep the cold start short)."""

    async def close(self) -> None:
        """Called once when the server stops; release what :meth:`start` or use opened."""

    async def check(self) -> Health:
        """Readiness right now. Must not raise; slow checks are cut off by the kit's timeout."""
        return Health.up()

    def unconfigured(self) -> str | None:
        """The settings to set when this part has none (known without I/O), or None: named at start."""
        return None


class Parts:
    """A server's parts, started in order, closed in reverse order, checked concurrently."""

    def __init__(self, parts: Sequence[Dependency]) -> None:
        names = [part.name for part in parts]
        if len(set(names)) != len(names):
            raise ValueError(f"dependency names must be unique: {names}")
        self.parts = tuple(parts)
        self._started: list[Dependency] = []
        self._cache: tuple[float, dict[str, Health]] | None = None
        self._checking: asyncio.Task[dict[str, Health]] | None = None
        self._last_state: dict[str, Readiness] = {}

    def __iter__(self):
        return iter(self.parts)

    def unconfigured(self) -> dict[str, str]:
        """The parts that have no settings yet, each with the settings to set."""
        return {part.name: setting for part in self.parts if (setting := part.unconfigured())}

    async def start(self) -> None:
        """Start every part in order (a part without settings is named in a log line, the server still starts);
        on failure close the ones already started and re-raise."""
        for name, setting in self.unconfigured().items():
            log.warning("%s is not configured: set %s; the tools that need it say so until then", name, setting)
        for part in self.parts:
            try:
                await part.start()
            except BaseException:
                await self.close()
                raise
            self._started.append(part)

    async def warm(self) -> None:
        for part in self.parts:
            await part.warm()

    async def close(self) -> None:
        """Close the started parts in reverse order; one failing close does not skip the others."""
        while self._started:
            part = self._started.pop()
            try:
                await part.close()
            except Exception:
                log.exception("closing %s failed", part.name)

    async def readiness(self) -> dict[str, Health]:
        """Every part's health, checked concurrently (each cut off after ``CHECK_TIMEOUT``), cached briefly."""
        now = time.monotonic()
        if self._cache is not None and now - self._cache[0] < CACHE_SECONDS:
            return self._cache[1]
        if self._checking is None or self._checking.done():
            self._checking = asyncio.ensure_future(self._check_all())
        results = await asyncio.shield(self._checking)
        self._cache = (time.monotonic(), results)
        return results

    def ready(self, results: dict[str, Health]) -> bool:
        required = {part.name for part in self.parts if part.required}
        return all(health.ok for name, health in results.items() if name in required)

    async def _check_all(self) -> dict[str, Health]:
        healths = await asyncio.gather(*(self._check(part) for part in self.parts))
        results = {part.name: health for part, health in zip(self.parts, healths, strict=True)}
        for name, health in results.items():
            if self._last_state.get(name) is not health.state:
                level = logging.INFO if health.ok else logging.WARNING
                log.log(level, "dependency %s is %s", name, health.state.value, extra={"detail": health.detail})
                self._last_state[name] = health.state
        return results

    @staticmethod
    async def _check(part: Dependency) -> Health:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                return await part.check()
        except TimeoutError:
            return Health.down(f"no answer within {CHECK_TIMEOUT:.0f}s")
        except Exception as error:  # noqa: BLE001 - a readiness check reports, never raises
            return Health.down(f"check failed: {type(error).__name__}")
