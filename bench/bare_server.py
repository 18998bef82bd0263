"""The baseline: a bare SDK ``MCPServer`` with the benchmark's one tool, and nothing of the kit.

    python bench/bare_server.py                                  # stdio
    python bench/bare_server.py --transport http --port 8123     # streamable HTTP (stateful, SSE)
    python bench/bare_server.py --transport http --port 8123 --stateless   # stateless JSON

Over HTTP it is the SDK's plain ``streamable_http_app()`` under uvicorn, configured like the kit's
(no access log, no log config), so the comparison isolates what the kit adds, plus a plain ``GET /health``
(the SDK's ``custom_route``, after ``/mcp``) answering like the kit's, for ``health_under_load.py``. With
``AFU9_BENCH_TEXT_TOOL=1`` it also serves ``count_characters`` (as the kit side does), and
``AFU9_MAX_REQUEST_BYTES`` sets the SDK's request body limit over HTTP (the kit reads the same variable).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from mcp.types import ToolAnnotations
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from trivial import add_numbers, count_characters, text_tool_served


def _read_tool(server: MCPServer, fn: Callable[..., Any], title: str) -> None:
    annotations = ToolAnnotations(
        title=title, read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    server.add_tool(fn, title=title, annotations=annotations)


def build() -> MCPServer:
    server = MCPServer("bench-bare", version="0.1.0")
    _read_tool(server, add_numbers, "Add two numbers")
    if text_tool_served():
        _read_tool(server, count_characters, "Count characters")

    @server.custom_route("/health", methods=["GET"])
    async def health(_request: Request) -> Response:  # pyright: ignore[reportUnusedFunction]
        return JSONResponse({"status": "ok", "server": "bench-bare", "version": "0.1.0"})

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stateless", action="store_true")
    args = parser.parse_args()
    server = build()
    if args.transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    limit = int(os.environ.get("AFU9_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BODY_SIZE))
    app = server.streamable_http_app(
        stateless_http=args.stateless, json_response=args.stateless, host="127.0.0.1", max_request_body_size=limit
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False, lifespan="on")
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
