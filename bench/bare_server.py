"""The baseline: a bare SDK ``MCPServer`` with the benchmark's one tool, and nothing of the kit.

    python bench/bare_server.py                                  # stdio
    python bench/bare_server.py --transport http --port 8123     # streamable HTTP (stateful, SSE)
    python bench/bare_server.py --transport http --port 8123 --stateless   # stateless JSON

Over HTTP it is the SDK's plain ``streamable_http_app()`` under uvicorn, configured like the kit's
(no access log, no log config), so the comparison isolates what the kit adds.
"""

from __future__ import annotations

import argparse

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from trivial import add_numbers


def build() -> MCPServer:
    server = MCPServer("bench-bare", version="0.1.0")
    server.add_tool(
        add_numbers,
        title="Add two numbers",
        annotations=ToolAnnotations(
            title="Add two numbers",
            read_only_hint=True,
            destructive_hint=False,
            idempotent_hint=True,
            open_world_hint=False,
        ),
    )
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

    app = server.streamable_http_app(stateless_http=args.stateless, json_response=args.stateless, host="127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False, lifespan="on")
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
