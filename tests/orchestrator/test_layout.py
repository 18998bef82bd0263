"""The orchestrator reaches servers only over MCP: none of its modules imports a server (the v0.4 GitHub table
is a copy, checked against the github server's in test_v04.py) or the ``afu9`` command."""

from __future__ import annotations

import ast

from tests.orchestrator.conftest import ROOT


def test_the_orchestrator_imports_no_server_and_not_the_cli() -> None:
    offenders = set()
    for path in sorted((ROOT / "orchestrator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders |= {f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in {"servers", "afu9"}}
    assert not offenders
