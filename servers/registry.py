"""The suite's servers, found by convention: every package ``servers/<name>/`` whose ``server.py`` exports
``SERVER`` (a :class:`~shared.server.ServerDefinition`). Listed in port order (the AFU-9 sidecar order).

The CLI, the generated files, the suite-wide tests and the infrastructure read the servers from here, so a
new server is picked up everywhere by existing. Nothing here is imported by a server.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from pathlib import Path
from typing import Any

from shared.server import ServerDefinition

__all__ = ["definitions", "load", "names"]

_ROOT = Path(__file__).parent


@functools.cache
def names() -> tuple[str, ...]:
    """Every server's name, in port order."""
    found = [
        info.name
        for info in pkgutil.iter_modules([str(_ROOT)])
        if info.ispkg and (_ROOT / info.name / "server.py").exists()
    ]
    return tuple(sorted(found, key=lambda name: (load(name).port, name)))


def load(name: str) -> ServerDefinition[Any, Any]:
    """The definition of the server ``name`` (ValueError naming the known servers otherwise)."""
    if not name.isidentifier() or not (_ROOT / name / "server.py").exists():
        known = sorted(info.name for info in pkgutil.iter_modules([str(_ROOT)]) if info.ispkg)
        raise ValueError(f"unknown server {name!r}; known: {', '.join(known)}")
    definition = importlib.import_module(f"servers.{name}.server").SERVER
    if not isinstance(definition, ServerDefinition) or definition.name != name:
        raise TypeError(f"servers/{name}/server.py must export SERVER, a ServerDefinition named {name!r}")
    return definition


def definitions() -> list[ServerDefinition[Any, Any]]:
    """Every server's definition, in port order."""
    return [load(name) for name in names()]
