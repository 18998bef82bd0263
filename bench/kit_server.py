"""The kit side: the benchmark's one tool served through everything an AFU-9 server has.

Built with ``shared.toolset.Toolset`` and ``shared.server.build_mcp_server``, with a real ``shared.db.Database``
(SQLite under ``AFU9_DATA_DIR``; the audit trail writes every call into it) and served by
``shared.runner.run_server``, the same entry point as ``afu9 serve <server>``: JSON logging with redaction,
bearer-token auth when ``AFU9_HTTP_TOKENS`` is set, Host/Origin checks, size limit, ``gc.freeze()`` after
start.

    AFU9_DATA_DIR=/tmp/x python bench/kit_server.py                        # stdio
    AFU9_DATA_DIR=/tmp/x AFU9_HTTP_TOKENS=bench:secret \
        python bench/kit_server.py --transport http --port 8124 [--stateless]
"""

from __future__ import annotations

import os

from pydantic_settings import SettingsConfigDict
from trivial import add_numbers

from shared.audit import AuditMiddleware
from shared.db import Database
from shared.runner import run_server
from shared.server import Afu9Server, DatabaseDeps, build_mcp_server
from shared.settings import ServerSettings
from shared.toolset import Toolset

NAME = "bench"

bench = Toolset("bench", "The benchmark's trivial tool.")
bench.read(title="Add two numbers")(add_numbers)


class BenchSettings(ServerSettings):
    """The shared settings, with the prefix ``AFU9_BENCH_`` for the server's own."""

    model_config = SettingsConfigDict(env_prefix="AFU9_BENCH_")


ABLATIONS = ("audit", "audit-writer", "unserved")


def build(settings: BenchSettings) -> Afu9Server:
    server = build_mcp_server(
        name=NAME,
        instructions="Benchmark server: one trivial tool.",
        settings=settings,
        toolsets=[bench],
        deps=DatabaseDeps(Database(settings.sqlalchemy_url())),
    )
    _ablate(server, os.environ.get("AFU9_BENCH_ABLATE", ""))
    return server


def _ablate(server: Afu9Server, names: str) -> None:
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
    run_server(NAME, BenchSettings, build)


if __name__ == "__main__":
    main()
