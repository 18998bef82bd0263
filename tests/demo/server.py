"""A small server on the kit, for the kit's own tests: every kind of declaration and dependency in a few lines.

- toolset ``notes``: read tools, a write tool with an idempotency key, a prompt and resources with completions,
  and a tool that logs (MCP logging);
- toolset ``weather``: a tool whose dependency is configured only when ``AFU9_DEMO_WEATHER_URL`` is set;
- routes: a bearer-guarded JSON echo and an HMAC-signed hook.

``python -m tests.demo`` serves it like any server (stdio, or ``--transport http``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import sqlalchemy as sa
from pydantic import BaseModel, Field
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from shared.db import KIT_MIGRATIONS, Database, Migrations
from shared.deps import Dependency, Health
from shared.errors import NotConfigured, NotFound
from shared.idempotency import Idempotency
from shared.routes import BEARER, RouteSpec, SignatureCheck, Signed
from shared.schema import metadata
from shared.server import DatabaseDeps, ServerDefinition
from shared.settings import ServerSettings, port_field
from shared.toolset import Toolset

log = logging.getLogger("servers.demo")

MIGRATIONS = Migrations("demo", Path(__file__).parent / "migrations")

demo_notes = sa.Table(
    "demo_notes",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("text", sa.Text(), nullable=False),
)


class DemoSettings(ServerSettings):
    server: ClassVar[str] = "demo"
    port: int = port_field(3999)
    weather_url: str | None = Field(default=None, description="Where the weather comes from (demo).")
    hook_secret: str | None = Field(default=None, description="HMAC secret of the demo hook.")


class WeatherPart(Dependency):
    """A dependency that is configured only when its setting is set."""

    name = "weather"

    def __init__(self, url: str | None) -> None:
        self.url = url

    async def check(self) -> Health:
        if self.url is None:
            return Health.not_configured("AFU9_DEMO_WEATHER_URL")
        return Health.up(f"weather from {self.url}")

    def forecast(self, city: str) -> str:
        if self.url is None:
            raise NotConfigured(
                "the weather service", "AFU9_DEMO_WEATHER_URL", "The forecast comes from a weather service"
            )
        return f"sunny in {city}"


@dataclass
class DemoDeps(DatabaseDeps):
    weather: WeatherPart
    hook_secret: str | None = None

    @classmethod
    def from_settings(cls, settings: DemoSettings) -> DemoDeps:
        database = Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS, MIGRATIONS))
        return cls(database=database, weather=WeatherPart(settings.weather_url), hook_secret=settings.hook_secret)

    def parts(self) -> Sequence[Dependency]:
        return (self.database, self.weather)

    @functools.cached_property
    def idempotency(self) -> Idempotency:
        return Idempotency(self.database, "demo")


class Note(BaseModel):
    """A stored note."""

    id: str = Field(description="Note id.")
    text: str = Field(description="The note's text.")


class Notes(BaseModel):
    """Notes."""

    notes: list[Note] = Field(description="Every note, oldest first.")


class Forecast(BaseModel):
    """A forecast."""

    text: str = Field(description="The forecast.")


notes = Toolset("notes", "Notes kept by the demo server.", start_with="list_notes")
weather = Toolset("weather", "The weather, from a service that must be configured.")


async def note_ids(deps: DemoDeps, prefix: str, _resolved: Mapping[str, str]) -> Sequence[str]:
    return [note.id for note in (await list_notes(deps)).notes if note.id.startswith(prefix)]


@notes.read(title="List notes")
async def list_notes(deps: DemoDeps) -> Notes:
    """List every note, oldest first. Call add_note to add one."""
    async with deps.database.connect() as connection:
        rows = (await connection.execute(sa.select(demo_notes))).all()
    return Notes(notes=[Note(id=row.id, text=row.text) for row in rows])


@notes.read(title="Get a note")
async def get_note(deps: DemoDeps, note_id: Annotated[str, Field(max_length=64, description="Note id.")]) -> Note:
    """Get one note by id; list_notes shows the ids."""
    async with deps.database.connect() as connection:
        row = (await connection.execute(sa.select(demo_notes).where(demo_notes.c.id == note_id))).first()
    if row is None:
        raise NotFound(f"There is no note {note_id!r}; call list_notes for the ids.")
    return Note(id=row.id, text=row.text)


@notes.write(title="Add a note", destructive=False, idempotent=False)
async def add_note(
    deps: DemoDeps,
    text: Annotated[str, Field(min_length=1, max_length=10_000, description="The note's text.")],
    idempotency_key: Annotated[str | None, Field(max_length=255, description="Retry-safe key.")] = None,
) -> Note:
    """Add a note and return it. Pass an idempotency_key when the call may be retried."""

    async def insert(connection: object) -> Note:
        note = Note(id=str(uuid.uuid4()), text=text)
        await connection.execute(demo_notes.insert().values(id=note.id, text=note.text))  # type: ignore[attr-defined]
        log.info("note added", extra={"note_id": note.id})
        return note

    note, _ = await deps.idempotency.run(
        tool="add_note", key=idempotency_key, request={"text": text}, action=insert, result_type=Note
    )
    return note


@notes.read(title="Log at every level")
async def log_levels(deps: DemoDeps) -> Notes:
    """Log one line at each level (debug to error) and return no notes: for MCP logging tests."""
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        log.log(level, "demo %s line with token=ghp_%s", logging.getLevelName(level).lower(), "X" * 36)
    return Notes(notes=[])


@notes.read(title="Wait a while")
async def wait_seconds(
    deps: DemoDeps, seconds: Annotated[float, Field(ge=0, le=60, description="How long to wait.")]
) -> Notes:
    """Wait, then return no notes: for cancellation and shutdown tests."""
    await asyncio.sleep(seconds)
    return Notes(notes=[])


@notes.prompt(title="Summarise a note", complete={"note_id": note_ids})
async def summarise_note(deps: DemoDeps, note_id: Annotated[str, Field(description="Note id.")]) -> str:
    """Ask the model to summarise one note."""
    note = await get_note(deps, note_id)
    return f"Summarise this note in one sentence: {note.text}"


@notes.resource("note://{note_id}", title="A note", complete={"note_id": note_ids})
async def read_note(deps: DemoDeps, note_id: str) -> Note:
    """One note as JSON."""
    return await get_note(deps, note_id)


@weather.read(title="Get the forecast", open_world=True)
async def get_forecast(deps: DemoDeps, city: Annotated[str, Field(max_length=64, description="City.")]) -> Forecast:
    """The forecast for a city (needs the weather service)."""
    return Forecast(text=deps.weather.forecast(city))


async def echo(request: Request, server: object) -> Response:
    body = await request.body()
    return JSONResponse({"echo": body.decode("utf-8", "replace"), "method": request.method})


def hook_check(deps: DemoDeps) -> SignatureCheck | None:
    secret = deps.hook_secret
    if not secret:
        return None

    def check(headers: Headers, body: bytes) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get("x-signature-256", ""))

    return check


async def hook(request: Request, server: object) -> Response:
    return JSONResponse({"received": len(await request.body())}, status_code=202)


SERVER = ServerDefinition(
    settings=DemoSettings,
    summary="The kit's demo server",
    intro="Demo server of the AFU-9 kit.",
    toolsets=(notes, weather),
    deps=DemoDeps.from_settings,
    migrations=MIGRATIONS,
    routes=(
        RouteSpec("/api/echo", echo, ("POST",), BEARER, "Echo the body (bearer)."),
        RouteSpec(
            "/hooks/demo",
            hook,
            ("POST",),
            Signed(hook_check, "AFU9_DEMO_HOOK_SECRET"),
            "A signed hook (HMAC-SHA256).",
            max_body_bytes=4096,
        ),
    ),
)
