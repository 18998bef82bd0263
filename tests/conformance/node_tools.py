"""Where the Node tools live, and one rule for tests that need them.

``scripts/install-node-tools`` installs Node 22, the MCP conformance suite and the MCP Inspector into
``.tools/node`` from the lock file in ``scripts/node-tools``. A test that needs them calls :func:`node_tools`:
it **fails** (it does not skip) when they are missing or older than the lock file, telling what to run, so a
machine without them cannot pass the suite by accident. ``AFU9_SKIP_NODE_TESTS=1`` skips them explicitly.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import pytest
from processes import ServerProcess, afu9_http

__all__ = ["NodeTools", "factory_http", "node_tools", "server_http"]

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "scripts" / "node-tools"
PREFIX = ROOT / ".tools" / "node"
INSTALL = "scripts/install-node-tools"

# Read once at import: the suite's autouse fixture removes every AFU9_* variable before each test runs.
SKIP = os.environ.get("AFU9_SKIP_NODE_TESTS") == "1"


@dataclass(frozen=True)
class NodeTools:
    """The installed tools, as argv prefixes that run them on Node 22."""

    node: Path
    conformance: list[str]
    inspector: list[str]


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((SPEC / name).read_bytes())
    return digest.hexdigest()


def node_tools() -> NodeTools:
    """The Node tools; fails the calling test when they are not installed (skips under AFU9_SKIP_NODE_TESTS=1)."""
    if SKIP:
        pytest.skip("AFU9_SKIP_NODE_TESTS=1: Node tool tests skipped on request")
    bin_dir = PREFIX / "node_modules" / ".bin"
    node = bin_dir / "node"
    needed = [node, bin_dir / "conformance", bin_dir / "mcp-inspector"]
    missing = [str(path.relative_to(ROOT)) for path in needed if not path.exists()]
    if missing:
        pytest.fail(
            f"Node tools are not installed (missing {', '.join(missing)}): run {INSTALL} "
            "(or set AFU9_SKIP_NODE_TESTS=1 to skip these tests on purpose)",
            pytrace=False,
        )
    stamp = PREFIX / ".installed"
    if not stamp.exists() or stamp.read_text().strip() != _fingerprint():
        pytest.fail(f"Node tools in .tools/node do not match scripts/node-tools: run {INSTALL}", pytrace=False)
    return NodeTools(
        node=node,
        conformance=[str(node), str(bin_dir / "conformance")],
        inspector=[str(node), str(bin_dir / "mcp-inspector")],
    )


def server_http(server: str, data_dir: Path, *flags: str) -> AbstractContextManager[ServerProcess]:
    """One of our servers over HTTP on a free port of 127.0.0.1, healthy; always stopped."""
    return afu9_http("serve", server, "--transport", "http", *flags, data_dir=data_dir)


def factory_http(data_dir: Path, *flags: str) -> AbstractContextManager[ServerProcess]:
    """The factory server over HTTP on a free port of 127.0.0.1, healthy; always stopped."""
    return server_http("factory", data_dir, *flags)
