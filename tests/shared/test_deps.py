"""Dependencies as parts: started in order, closed in reverse (all of them, whatever fails), checked at once."""

from __future__ import annotations

import asyncio

import pytest

from shared import deps
from shared.deps import Dependency, Health, Parts


class Recorder(Dependency):
    def __init__(self, name: str, log: list[str], *, fail_start: bool = False, health: Health | None = None) -> None:
        self.name = name
        self.log = log
        self.fail_start = fail_start
        self.health = health or Health.up()
        self.checks = 0

    async def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("cannot start")
        self.log.append(f"start {self.name}")

    async def close(self) -> None:
        self.log.append(f"close {self.name}")
        if self.name == "b":
            raise RuntimeError("closing b failed")

    async def check(self) -> Health:
        self.checks += 1
        await asyncio.sleep(0.05)
        return self.health


async def test_parts_start_in_order_and_close_in_reverse_even_when_one_close_fails() -> None:
    log: list[str] = []
    parts = Parts([Recorder("a", log), Recorder("b", log), Recorder("c", log)])
    await parts.start()
    await parts.close()
    assert log == ["start a", "start b", "start c", "close c", "close b", "close a"]


async def test_a_part_that_cannot_start_closes_the_ones_already_started() -> None:
    log: list[str] = []
    parts = Parts([Recorder("a", log), Recorder("x", log, fail_start=True), Recorder("c", log)])
    with pytest.raises(RuntimeError, match="cannot start"):
        await parts.start()
    assert log == ["start a", "close a"]


class Meeting(Recorder):
    """A check that answers only once every other check has started too (so only concurrent checks pass)."""

    def __init__(self, name: str, barrier: asyncio.Barrier) -> None:
        super().__init__(name, [])
        self.barrier = barrier

    async def check(self) -> Health:
        self.checks += 1
        await self.barrier.wait()
        return Health.up()


async def test_readiness_checks_run_at_once_and_are_cached_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deps, "CHECK_TIMEOUT", 2.0)
    barrier = asyncio.Barrier(4)
    meeting = [Meeting(name, barrier) for name in "abcd"]
    parts = Parts(meeting)
    first = await parts.readiness()
    second = await parts.readiness()
    assert all(health.ok for health in first.values())  # one after the other, none would have met the others
    assert first is second
    assert all(part.checks == 1 for part in meeting)


async def test_an_optional_part_that_is_down_does_not_make_the_server_unready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deps, "CACHE_SECONDS", 0.0)
    optional = Recorder("cache", [], health=Health.down("unreachable"))
    optional.required = False
    parts = Parts([Recorder("db", []), optional])
    results = await parts.readiness()
    assert parts.ready(results)
    required = Recorder("db", [], health=Health.not_configured("AFU9_X"))
    assert not Parts([required]).ready(await Parts([required]).readiness())


def test_part_names_are_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        Parts([Recorder("a", []), Recorder("a", [])])


class _Unconfigured(Dependency):
    name = "mail"

    def unconfigured(self) -> str | None:
        return "MAIL_URL"


async def test_a_part_without_settings_is_named_at_start_and_the_server_still_starts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parts = Parts([_Unconfigured(), Dependency()])
    assert parts.unconfigured() == {"mail": "MAIL_URL"}

    with caplog.at_level("WARNING", logger="shared.deps"):
        await parts.start()
    assert "mail is not configured: set MAIL_URL" in caplog.text
    await parts.close()
