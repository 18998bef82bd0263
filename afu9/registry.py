"""The servers the CLI can run, found by the convention ``servers.<name>.server``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.names import SERVERS, ServerName, server_name
from shared.server import Afu9Server
from shared.settings import ServerSettings

__all__ = ["ServerEntry", "all_servers", "load"]


@dataclass(frozen=True)
class ServerEntry:
    """A server's name, settings class, factory and ``main``."""

    info: ServerName
    settings: type[ServerSettings]
    build: Callable[[Any], Afu9Server]
    main: Callable[[list[str] | None], None]

    @property
    def name(self) -> str:
        return self.info.name


def load(name: str) -> ServerEntry:
    """The server called ``name`` (ValueError naming the known ones otherwise)."""
    info = server_name(name)
    module = importlib.import_module(f"{info.module}.server")
    return ServerEntry(info=info, settings=module.SETTINGS, build=module.build_server, main=module.main)


def all_servers() -> list[ServerEntry]:
    return [load(info.name) for info in SERVERS]
