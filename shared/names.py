"""Names every part of the suite agrees on: servers, their default ports, environment prefixes.

The CLI, ``mcp.json``, the docs and the infrastructure read these, so the stack and the code cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SERVERS", "ServerName", "server_name"]


@dataclass(frozen=True)
class ServerName:
    """A server of the suite: its name, default HTTP port and one-line purpose."""

    name: str
    port: int
    summary: str

    @property
    def env_prefix(self) -> str:
        return f"AFU9_{self.name.upper()}_"

    @property
    def module(self) -> str:
        return f"servers.{self.name}"


# In AFU-9 sidecar order. A server is listed here once its package exists.
SERVERS: tuple[ServerName, ...] = (
    ServerName("factory", 3004, "Factory KPIs, cost attribution and the prompt library"),
)


def server_name(name: str) -> ServerName:
    """The entry for ``name``, or a ValueError listing the known servers."""
    for entry in SERVERS:
        if entry.name == name:
            return entry
    raise ValueError(f"unknown server {name!r}; known: {', '.join(s.name for s in SERVERS)}")
