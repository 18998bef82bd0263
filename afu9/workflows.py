"""``afu9 workflow``: check a workflow document, publish it, list what is published.

``validate FILE`` prints every problem with its place (``FILE:LINE: path: message``) and exits 1 when there is
one; ``publish FILE`` validates the same way, then stores the definition (same content again: nothing changes;
other content under a published version: refused, exit 1); ``list`` prints name, version, status and hash.

Tool steps are checked against what the servers' ``tools/list`` says: by default the suite's servers built
in-process (the code the servers run, every toolset, no credentials needed); ``--server NAME=URL`` asks a
running server instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from shared.exits import fail

if TYPE_CHECKING:
    from orchestrator.catalog import Catalog
    from orchestrator.documents import Prepared, Source
    from orchestrator.problems import WorkflowInvalid
    from shared.db import Database

__all__ = ["add_commands", "read_document", "refuse", "run", "suite_catalog"]


def add_commands(commands: Any) -> None:
    """The ``workflow`` command and its subcommands, on the CLI's subparsers."""
    workflow = commands.add_parser("workflow", help="validate, publish, list and run workflows; steer executions")
    sub = workflow.add_subparsers(dest="workflow_command", required=True, metavar="WORKFLOW_COMMAND")

    check = sub.add_parser(
        "validate",
        help="check a workflow document (YAML or JSON, orchestrator/v1 or AFU-9 v0.4)",
        description="Print every problem with its place in the file; exit 1 if there is any.",
    )
    check.add_argument("file", type=Path)
    _catalog_options(check)
    check.add_argument("--no-catalog", action="store_true", help="check the document only, not servers and tools")
    check.add_argument("--print", dest="show", action="store_true", help="print the document as it would be stored")

    publish = sub.add_parser(
        "publish",
        help="validate a workflow document, then publish it",
        description="A published (name, version) never changes: the same content again is a no-op, other content "
        "under it is refused.",
    )
    publish.add_argument("file", type=Path)
    publish.add_argument("--version", help="publish under this version instead of metadata.version (semver)")
    _catalog_options(publish)

    listing = sub.add_parser("list", help="published workflow definitions")
    listing.add_argument("--name", help="only this workflow's versions")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    from afu9.executions import add_run_commands

    add_run_commands(sub)


def _catalog_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="check NAME's tools with tools/list at URL (e.g. factory=http://127.0.0.1:3004/mcp); "
        "default: the suite's servers built in-process",
    )
    parser.add_argument("--token-env", metavar="VAR", help="bearer token for the --server URLs, from this variable")


def run(args: argparse.Namespace) -> None:
    """Run the ``workflow`` subcommand ``args`` names."""
    import importlib.util

    missing = [name for name in ("jmespath", "yaml", "jsonschema") if importlib.util.find_spec(name) is None]
    if missing:
        fail(f"afu9 workflow needs {', '.join(missing)}: install the orchestrator extra (afu9[orchestrator])")
    if args.workflow_command == "list":
        _list(args)
    elif args.workflow_command == "validate":
        _validate(args)
    elif args.workflow_command == "publish":
        _publish(args)
    else:
        from afu9.executions import run_command

        run_command(args)


def _validate(args: argparse.Namespace) -> None:
    from orchestrator.documents import prepare
    from orchestrator.problems import WorkflowInvalid

    source = read_document(args.file)
    catalog = None if args.no_catalog else _catalog(args)
    try:
        prepared = prepare(source.data, catalog)
    except WorkflowInvalid as invalid:
        refuse(source, invalid, "")
    if args.show:
        sys.stdout.write(json.dumps(prepared.document, indent=2, ensure_ascii=False) + "\n")
        return
    sys.stdout.write(f"{source.name}: valid: {_describe(prepared)}\n")


def _publish(args: argparse.Namespace) -> None:
    from afu9.database import on_database
    from orchestrator.definitions import Definitions, Publication, VersionConflict
    from orchestrator.documents import prepare
    from orchestrator.problems import WorkflowInvalid
    from orchestrator.schema import MIGRATIONS
    from shared.db import KIT_MIGRATIONS
    from shared.logs import configure_logging
    from shared.settings import CommonSettings, load_settings

    source = read_document(args.file)
    catalog = _catalog(args)
    settings = load_settings(CommonSettings)
    configure_logging("WARNING")

    async def work(database: Database) -> Publication:
        definitions = Definitions(database)
        index = await definitions.published()

        def published(name: str, version: str | None) -> bool:
            return name in index and (version is None or version in index[name])

        prepared = prepare(source.data, catalog, published=published, version=args.version)
        return await definitions.publish(prepared)

    try:
        publication = on_database(settings, (KIT_MIGRATIONS, MIGRATIONS), work, undone="nothing was published")
    except WorkflowInvalid as invalid:
        refuse(source, invalid, "; nothing was published")
    except VersionConflict as conflict:
        sys.stderr.write(f"afu9: {conflict}\n")
        raise SystemExit(1) from None
    stored = publication.workflow
    what = f"{stored.name} {stored.version} (sha256 {stored.content_hash[:12]}, publication {stored.publication})"
    if publication.created:
        sys.stdout.write(f"published {what}\n")
    else:
        sys.stdout.write(f"{what} is already published with this content; nothing changed\n")


def _list(args: argparse.Namespace) -> None:
    from afu9.database import on_database
    from orchestrator.definitions import Definitions
    from orchestrator.schema import MIGRATIONS
    from shared.db import KIT_MIGRATIONS
    from shared.logs import configure_logging
    from shared.settings import CommonSettings, load_settings

    settings = load_settings(CommonSettings)
    configure_logging("WARNING")

    async def work(database: Database) -> list[Any]:
        return await Definitions(database).list(args.name)

    stored = on_database(settings, (KIT_MIGRATIONS, MIGRATIONS), work, undone="nothing was listed")
    if args.json:
        for item in stored:
            row = {
                "name": item.name,
                "version": item.version,
                "publication": item.publication,
                "status": item.status,
                "content_hash": item.content_hash,
                "created_at": item.created_at.isoformat(),
                "description": item.description,
            }
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    if not stored:
        sys.stdout.write("no workflows are published" + (f" under the name {args.name}" if args.name else "") + "\n")
        return
    width = max(len(item.name) for item in stored)
    version_width = max(len(item.version) for item in stored)
    for item in stored:
        when = item.created_at.strftime("%Y-%m-%d %H:%M")
        summary = f"  {_first_line(item.description)}" if item.description else ""
        sys.stdout.write(
            f"{item.name:<{width}}  {item.version:<{version_width}}  {item.status:<10}  "
            f"sha256:{item.content_hash[:12]}  {when}{summary}\n"
        )


# --- helpers ---------------------------------------------------------------------------------------------------


def read_document(path: Path) -> Source:
    from orchestrator.documents import read_source
    from orchestrator.problems import WorkflowInvalid

    try:
        return read_source(path)
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or type(error).__name__}")
    except WorkflowInvalid as invalid:
        from orchestrator.documents import Source

        refuse(Source(None, "", str(path)), invalid, "")


def refuse(source: Source, invalid: WorkflowInvalid, suffix: str) -> NoReturn:
    """Every problem, one a line, as ``FILE:LINE: path: message``; exit 1."""
    located = [(None if problem.converted else source.line(problem.path), problem) for problem in invalid.problems]
    located.sort(key=lambda pair: pair[0] if pair[0] is not None else 0)  # stable: paths in order within a line
    lines = [f"{source.name}:{line}: {problem}" if line else f"{source.name}: {problem}" for line, problem in located]
    count = len(invalid.problems)
    lines.append(f"{count} problem{'s' if count != 1 else ''}{suffix}")
    sys.stdout.write("\n".join(lines) + "\n")
    raise SystemExit(1)


def _describe(prepared: Prepared) -> str:
    steps = _count_steps(prepared.document.get("steps", []))
    origin = ", up-converted from AFU-9 v0.4" if prepared.from_v04 else ""
    return (
        f"{prepared.name} {prepared.version}, {steps} step{'s' if steps != 1 else ''}{origin} "
        f"(sha256 {prepared.content_hash[:12]})"
    )


def _count_steps(steps: list[Any]) -> int:
    total = 0
    for step in steps:
        total += 1
        for branch in (step.get("branches") or {}).values():
            total += _count_steps(branch)
        total += _count_steps(step.get("steps") or [])
    return total


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 80 else line[:79] + "…"


def _catalog(args: argparse.Namespace) -> Catalog:
    """The catalog the document is checked against: the suite's servers in-process, with the ``--server``
    ones asked over HTTP instead."""
    urls: dict[str, str] = {}
    for entry in args.server:
        name, sep, url = entry.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            fail(f"--server takes NAME=URL (e.g. factory=http://127.0.0.1:3004/mcp), not {entry!r}")
        urls[name] = url
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            fail(f"--token-env {args.token_env}: that variable is not set")
    catalog = suite_catalog(skip=set(urls))
    if urls:
        from orchestrator.catalog import fetch_catalog

        catalog = catalog.merged(asyncio.run(fetch_catalog(urls, token=token)))
    return catalog


def suite_catalog(skip: set[str] | None = None) -> Catalog:
    """What every server of the suite lists with every toolset and writes allowed, built in-process (no
    dependency is started: listing tools needs none). A server that cannot be built is marked unavailable."""
    import logging

    from orchestrator.catalog import Catalog
    from servers import registry

    listed: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # building a server notes what is not configured; irrelevant to listing

    async def fetch() -> None:
        for name in registry.names():
            if name in (skip or set()):
                continue
            try:
                definition = registry.load(name)
                settings = definition.settings.model_construct(allow_writes=True, toolsets=["all"])
                listed[name] = await definition.build(settings).list_tools()
            except Exception as error:  # noqa: BLE001 - one broken server must not hide the others
                unavailable[name] = f"it could not be built in-process ({type(error).__name__}: {error})"[:300]

    try:
        asyncio.run(fetch())
    finally:
        quiet.setLevel(level)
    return Catalog.of(listed, unavailable)
