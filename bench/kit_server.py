"""The kit side: the benchmark's one tool served through everything an AFU-9 server has.

A :class:`~shared.server.ServerDefinition` like every server's, with a real ``shared.db.Database`` (SQLite
under ``AFU9_DATA_DIR``; the audit trail writes every call into it), served by ``shared.runner.run_server``, the
same entry point as ``afu9 serve <server>``: JSON logging with redaction, MCP logging, bearer-token auth when
``AFU9_HTTP_TOKENS`` is set, the Host/Origin check, size limits, ``gc.freeze()`` after start. With
``AFU9_BENCH_TEXT_TOOL=1`` it also serves ``count_characters`` (as the bare side does).

    AFU9_DATA_DIR=/tmp/x python bench/kit_server.py                        # stdio
    AFU9_DATA_DIR=/tmp/x AFU9_HTTP_TOKENS=bench:secret-secret-secret \
        python bench/kit_server.py --transport http --port 8124 [--stateless]
"""

from __future__ import annotations

import os
from typing import ClassVar

from trivial import add_numbers, count_characters, text_tool_served

from shared.audit import AuditMiddleware
from shared.db import Database
from shared.server import Afu9Server, DatabaseDeps, ServerDefinition
from shared.settings import ServerSettings
from shared.toolset import Toolset

bench = Toolset("bench", "The benchmark's trivial tool.")
bench.read(title="Add two numbers")(add_numbers)
if text_tool_served():  # AFU9_BENCH_TEXT_TOOL=1: health_under_load.py sends ~1 MB arguments to it
    bench.read(title="Count characters")(count_characters)


class BenchSettings(ServerSettings):
    """The shared settings, with the prefix ``AFU9_BENCH_`` for the server's own."""

    server: ClassVar[str] = "bench"


def _deps(settings: BenchSettings) -> DatabaseDeps:
    return DatabaseDeps(Database(settings.sqlalchemy_url()))


class _Definition(ServerDefinition[BenchSettings, DatabaseDeps]):
    """The definition, with the profiling ablations of ``AFU9_BENCH_ABLATE`` applied to what it builds."""

    def build(self, settings: BenchSettings, deps: DatabaseDeps | None = None) -> Afu9Server:
        server = super().build(settings, deps)
        ablate(server, os.environ.get("AFU9_BENCH_ABLATE", ""))
        return server


SERVER = _Definition(
    settings=BenchSettings,
    summary="Benchmark server",
    intro="Benchmark server: one trivial tool.",
    toolsets=(bench,),
    deps=_deps,
)

ABLATIONS = ("audit", "audit-writer", "unserved")


def ablate(server: Afu9Server, names: str) -> None:
    """Profiling aid (``overhead.py --ablate``): take one part of the kit out to see what it costs.

    ``audit`` drops the audit middleware, ``audit-writer`` keeps it but never writes (records are dropped when
    the queue is full), ``unserved`` drops the middleware that explains unknown tools. Never used for the
    headline figures.
    """
    for name in filter(None, (part.strip() for part in names.split(","))):
        if name not in ABLATIONS:
            raise SystemExit(f"AFU9_BENCH_ABLATE: unknown part {name!r}; known: {', '.join(ABLATIONS)}")
        if name == "audit":
            server.middleware[:] = [m for m in server.middleware if not isinstance(m, AuditMiddleware)]
        elif name == "audit-writer":
            server.audit.start = lambda: None  # type: ignore[method-assign]
        else:
            server.middleware[:] = [m for m in server.middleware if getattr(m, "__name__", "") != "explain_unserved"]


def main() -> None:
    SERVER.main()


if __name__ == "__main__":
    main()
