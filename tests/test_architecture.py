"""The layout rules of ARCHITECTURE.md that code review alone would let slip."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shared", "servers", "orchestrator", "afu9")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_shared_imports_nothing_of_ours() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in _sources("shared")
        for module in _imports(path)
        if module.split(".")[0] in {"servers", "orchestrator", "afu9"}
    }
    assert not offenders


def test_no_server_imports_another_server() -> None:
    offenders = set()
    for server in (p for p in (ROOT / "servers").iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        for path in sorted(server.rglob("*.py")):
            for module in _imports(path):
                parts = module.split(".")
                if parts[0] == "servers" and len(parts) > 1 and parts[1] != server.name:
                    offenders.add(f"{path.relative_to(ROOT)}: {module}")
                if parts[0] in {"orchestrator", "afu9"}:
                    offenders.add(f"{path.relative_to(ROOT)}: {module}")
    assert not offenders


def test_nothing_imports_the_cli_package() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for package in ("shared", "servers", "orchestrator")
        for path in _sources(package)
        for module in _imports(path)
        if module.split(".")[0] == "afu9"
    }
    assert not offenders


def test_heavy_libraries_live_only_in_their_extras() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"]).lower()
    extras = {name: " ".join(deps).lower() for name, deps in project["optional-dependencies"].items()}
    for library, extra in {
        "githubkit": "github",
        "boto3": "aws",
        "anthropic": "orchestrator",
        "dbos": "orchestrator",
        "aws-cdk-lib": "infra",
        "asyncpg": "postgres",
    }.items():
        assert library not in core, f"{library} must not be a core dependency"
        assert library in extras[extra], f"{library} belongs in the [{extra}] extra"


def test_building_a_server_and_listing_tools_loads_no_database_or_cloud_library() -> None:
    """Cold start: answering initialize and tools/list over stdio loads no database or cloud library.

    (uvicorn is not checked: the SDK itself imports it.)
    """
    probe = (
        "import sys, asyncio\n"
        "from servers.registry import definitions\n"
        "for definition in definitions():\n"
        "    server = definition.build(definition.settings())\n"
        "    asyncio.run(server.list_tools())\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'alembic', 'asyncpg', 'aiosqlite', 'boto3', 'githubkit', 'anthropic')"
        " if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
