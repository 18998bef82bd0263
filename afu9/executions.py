"""``afu9 workflow run | status | logs | approve | reject | cancel | resume`` and ``afu9 worker``.

``run`` starts an execution of a published workflow (by name, optionally version) or of a document file
(published first when its version is free, else stored as a draft the run is pinned to) and, unless
``--detach``, runs it in this process while printing each step as its status changes. Its exit code says
how the execution ended:

====  =====================================================================
0     completed
1     failed
3     cancelled
4     still running (``--detach``, or ``--wait-seconds`` passed)
2     the command itself was refused (bad input, database unreachable, ...)
====  =====================================================================

``status`` and ``logs`` read the AFU-9 tables, so they show executions any process runs. ``approve`` and
``reject`` send the decision to the waiting step; ``cancel`` stops an execution and runs its compensations here;
``resume`` takes up an execution whose process died. ``afu9 worker`` runs the executions and branches others
enqueue, until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from shared.exits import fail

if TYPE_CHECKING:
    from orchestrator.engine import Engine
    from orchestrator.settings import OrchestratorSettings

__all__ = ["EXIT_CODES", "add_run_commands", "add_worker_command", "run_command", "worker"]

EXIT_CODES = {"completed": 0, "failed": 1, "cancelled": 3, "running": 4, "pending": 4}
_MARKS = {
    "pending": "·",
    "running": "…",
    "waiting": "?",
    "completed": "✓",
    "failed": "✗",
    "skipped": "-",
    "cancelled": "⊘",
}
T = TypeVar("T")


def add_run_commands(sub: Any) -> None:
    """The execution subcommands of ``afu9 workflow``."""
    run = sub.add_parser(
        "run",
        help="run a workflow (published name or document file) and follow it",
        description="Exit code: 0 completed, 1 failed, 3 cancelled, 4 still running (--detach or --wait-seconds).",
    )
    run.add_argument("target", help="a published workflow's name, or a YAML/JSON document file")
    run.add_argument("--version", help="the published version to run (default: the highest)")
    run.add_argument(
        "--input",
        default="{}",
        metavar="JSON|@FILE",
        help="the inputs as JSON, or @file; for an AFU-9 v0.4 document its context {input, repo, variables}",
    )
    run.add_argument("--detach", action="store_true", help="enqueue it for `afu9 worker` and exit (code 4)")
    run.add_argument("--wait-seconds", type=float, help="stop following after this long (the run goes on: resume)")
    run.add_argument("--json", action="store_true", help="print the final status as JSON")

    status = sub.add_parser("status", help="an execution's status and steps, or the latest executions")
    status.add_argument("execution", nargs="?", help="an execution id (omitted: the latest executions)")
    status.add_argument("--status", dest="only", help="with no id: only executions with this status")
    status.add_argument("--limit", type=int, default=20)
    status.add_argument("--json", action="store_true")

    logs = sub.add_parser("logs", help="an execution's steps in order, with inputs, outputs and errors")
    logs.add_argument("execution")
    logs.add_argument("--follow", action="store_true", help="keep printing until the execution ends")
    logs.add_argument("--json", action="store_true", help="one JSON object per line")

    for name, verb in (("approve", "approve"), ("reject", "reject")):
        decide = sub.add_parser(name, help=f"{verb} an approval step that is waiting")
        decide.add_argument("execution")
        decide.add_argument("step", help="the approval step's id (or its path inside parallel/map)")
        decide.add_argument("--reason")
        decide.add_argument("--as", dest="actor", help="who decides (default: cli:<user>)")
        if name == "approve":
            decide.add_argument("--phrase", help="the confirmation phrase the step requires, if any")

    cancel = sub.add_parser("cancel", help="stop an execution and run its compensations, newest first")
    cancel.add_argument("execution")
    cancel.add_argument("--as", dest="actor")

    resume = sub.add_parser("resume", help="take up an execution whose process stopped")
    resume.add_argument("execution")
    resume.add_argument("--detach", action="store_true", help="enqueue it for `afu9 worker` instead of running here")
    resume.add_argument("--wait-seconds", type=float)


def add_worker_command(commands: Any) -> None:
    worker_parser = commands.add_parser(
        "worker",
        help="run enqueued workflow executions and branches until stopped",
        description="A worker with a stable id (--id, AFU9_WORKER_ID) takes up its own unfinished executions when "
        "it starts again; see docs/operations.md for a worker that never comes back.",
    )
    worker_parser.add_argument(
        "--id", dest="worker_id", help="the worker id (default: AFU9_WORKER_ID or worker-<host>)"
    )
    worker_parser.add_argument("--executions", type=int, help="executions at once (AFU9_WORKER_EXECUTIONS)")
    worker_parser.add_argument("--branches", type=int, help="branches at once (AFU9_WORKER_BRANCHES)")


# -- the engine of a command ----------------------------------------------------------------------------------


def _settings() -> OrchestratorSettings:
    from orchestrator.settings import OrchestratorSettings
    from shared.logs import configure_logging
    from shared.settings import load_settings

    settings = load_settings(OrchestratorSettings)
    configure_logging("WARNING")
    # DBOS warns when a workflow task is cancelled, which is what cancelling an execution does on purpose.
    logging.getLogger("dbos").setLevel(logging.ERROR)
    return settings


@contextlib.asynccontextmanager
async def _engine(
    settings: OrchestratorSettings, *, mode: Literal["worker", "local"], executor_id: str, **options: Any
) -> AsyncIterator[Engine]:
    from orchestrator.clients import ClientPool, load_servers
    from orchestrator.definitions import Definitions
    from orchestrator.engine import Engine, EngineOptions, dbos_url
    from orchestrator.schema import MIGRATIONS
    from shared.db import KIT_MIGRATIONS, Database

    config = settings.mcp_config
    if not config.is_file():
        raise _Refused(f"no MCP server configuration at {config} (set AFU9_MCP_CONFIG to the mcp.json to use)")
    environ = {**os.environ, "AFU9_ORCHESTRATOR_TRANSPORT": settings.orchestrator_transport}
    specs = load_servers(config, environ)
    database = Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS, MIGRATIONS))
    engine_options = EngineOptions(
        executor_id=executor_id,
        mode=mode,
        system_database_url=dbos_url(settings.sqlalchemy_url(), settings.data_dir),
        **options,
    )
    try:
        async with (
            ClientPool(specs, log_dir=settings.data_dir / "logs") as pool,
            Engine(database, pool, Definitions(database), engine_options) as engine,
        ):
            yield engine
    finally:
        await database.aclose()


class _Refused(Exception):
    """The command cannot do what was asked; the message says why."""


def _run_async(work: Callable[[], Awaitable[T]]) -> T:
    """``work`` with the failures a user can act on said in one line (exit 2)."""
    from shared.errors import Afu9Error, DependencyUnavailable
    from shared.redaction import redact_text

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except _Refused as refused:
        fail(str(refused))
    except DependencyUnavailable as error:
        fail(f"cannot reach the database: {redact_text(str(error))}")
    except Afu9Error as error:
        fail(redact_text(str(error)))
    except KeyboardInterrupt:
        sys.stderr.write("afu9: interrupted\n")
        raise SystemExit(130) from None


def _actor(args: argparse.Namespace) -> str:
    if getattr(args, "actor", None):
        return str(args.actor)
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _cli_executor() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}"


# -- commands -------------------------------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> None:
    """Run the execution subcommand ``args`` names."""
    handlers: dict[str, Callable[[argparse.Namespace], None]] = {
        "run": _run,
        "status": _status,
        "logs": _logs,
        "approve": _decide,
        "reject": _decide,
        "cancel": _cancel,
        "resume": _resume,
    }
    handlers[args.workflow_command](args)


def _inputs(text: str, *, v04: bool) -> dict[str, Any]:
    raw = text
    if text.startswith("@"):
        try:
            raw = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as error:
            fail(f"--input {text}: cannot read it ({error.strerror or type(error).__name__})")
    try:
        value = json.loads(raw)
    except ValueError as error:
        fail(f"--input is not JSON: {error}")
    if not isinstance(value, dict):
        fail("--input must be a JSON object")
    if v04:
        from orchestrator.v04 import context_inputs

        return context_inputs(value)
    return value


def _run(args: argparse.Namespace) -> None:
    from orchestrator.documents import prepare
    from orchestrator.problems import WorkflowInvalid

    settings = _settings()
    path = Path(args.target)
    prepared = None
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        from afu9.workflows import read_document, refuse, suite_catalog

        source = read_document(path)
        try:
            prepared = prepare(source.data, suite_catalog())
        except WorkflowInvalid as invalid:
            refuse(source, invalid, "; nothing was run")
        if args.version:
            fail("--version is for a published workflow's name, not a file (its metadata.version counts)")
    inputs = _inputs(args.input, v04=bool(prepared and prepared.from_v04))

    async def work() -> str:
        from orchestrator.definitions import Definitions

        published = None
        if prepared is None:  # found (or an unknown name refused) before the engine starts
            published = await _checked(
                settings, lambda readmodel: Definitions(readmodel.database).get(args.target, args.version)
            )
        async with _engine(settings, mode="local", executor_id=_cli_executor()) as engine:
            stored = published if prepared is None else await Definitions(engine.database).for_run(prepared)
            assert stored is not None
            execution_id = await engine.start(stored, inputs, triggered_by=_actor(args), enqueue=args.detach)
            sys.stderr.write(f"execution {execution_id}: {stored.name} {stored.version} ({stored.status})\n")
            if args.detach:
                sys.stdout.write(execution_id + "\n")
                return "pending"
            _print_plan(stored.definition)
            return await _follow(engine, execution_id, args.wait_seconds, as_json=args.json)

    status = _run_async(work)
    raise SystemExit(EXIT_CODES.get(status, 1))


def _print_plan(definition: dict[str, Any]) -> None:
    """Every step whose path is known before the run (not those inside a map or loop), as pending."""

    def paths(steps: list[Any], prefix: str) -> list[str]:
        found: list[str] = []
        for step in steps:
            found.append(f"{prefix}{step['id']}")
            for branch, inner in (step.get("branches") or {}).items():
                found += paths(inner, f"{prefix}{step['id']}/{branch}/")
        return found

    for path in paths(definition.get("steps", []), ""):
        sys.stderr.write(f"  {_MARKS['pending']} {path:<32} pending\n")


async def _follow(engine: Engine, execution_id: str, limit: float | None, *, as_json: bool) -> str:
    """Print each step's changes until the execution ends (or ``limit`` seconds pass); its final status."""
    seen: dict[str, tuple[str, int]] = {}
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        row = await engine.readmodel.execution(execution_id)
        for step in await engine.readmodel.steps(execution_id):
            key = ("undo:" if step["is_compensation"] else "") + step["step_path"]
            state = (step["status"], step["attempt"])
            if seen.get(key) != state:
                seen[key] = state
                sys.stderr.write(_progress_line(execution_id, key, step) + "\n")
        status = row["status"] if row else "failed"
        if status in ("completed", "failed", "cancelled"):
            break
        if deadline is not None and time.monotonic() > deadline:
            sys.stderr.write(f"still {status}: `afu9 workflow status {execution_id}` follows it\n")
            return "running"
        await asyncio.sleep(0.2)
    assert row is not None
    if as_json:
        sys.stdout.write(json.dumps(_execution_json(row), ensure_ascii=False, default=str) + "\n")
    else:
        detail = f": {row['error']}" if row["error"] else ""
        sys.stdout.write(f"{status}{detail}\n")
        if row["output"]:
            sys.stdout.write(json.dumps(row["output"], ensure_ascii=False, indent=2, default=str) + "\n")
    return status


def _progress_line(execution_id: str, key: str, step: dict[str, Any]) -> str:
    status = step["status"]
    mark = _MARKS.get(status, " ")
    extra = ""
    if status == "running" and step["attempt"] > 1:
        extra = f" (attempt {step['attempt']})"
    elif status == "waiting":
        message = (step["input"] or {}).get("message") or ""
        extra = f" for approval: {str(message)[:120]}  → afu9 workflow approve {execution_id} {step['step_path']}"
    elif status == "failed" and step["error"]:
        extra = f": {str(step['error'])[:300]}"
    elif status == "completed" and step["duration_ms"] is not None:
        extra = f" ({step['duration_ms']} ms)"
    elif status == "skipped" and step["error"]:
        extra = f" ({step['error']})"
    return f"  {mark} {key:<32} {status}{extra}"


def _execution_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "execution_id": str(row["id"]),
        "workflow": row.get("workflow_name"),
        "version": row.get("workflow_semver"),
        "status": row["status"],
        "started_at": row["started_at"],
        "completed_at": row["completed_at"],
        "output": row["output"],
        "error": row["error"],
        "triggered_by": row["triggered_by"],
        "executor_id": row["executor_id"],
        "definition_hash": row["definition_hash"],
    }


async def _checked(settings: OrchestratorSettings, check: Callable[[Any], Awaitable[T]]) -> T:
    """``check`` on the read model, before the engine (DBOS) is started: a refusal comes in a moment."""
    readmodel = await _readmodel(settings)
    try:
        return await check(readmodel)
    finally:
        await readmodel.database.aclose()


async def _readmodel(settings: OrchestratorSettings) -> Any:
    from orchestrator.readmodel import ReadModel
    from orchestrator.schema import MIGRATIONS
    from shared.db import KIT_MIGRATIONS, Database

    database = Database(settings.sqlalchemy_url(), migrations=(KIT_MIGRATIONS, MIGRATIONS))
    await database.ensure_schema()
    return ReadModel(database)


def _status(args: argparse.Namespace) -> None:
    settings = _settings()

    async def work() -> None:
        readmodel = await _readmodel(settings)
        try:
            if args.execution is None:
                rows = await readmodel.executions(status=args.only, limit=max(1, min(args.limit, 1000)))
                for row in rows:
                    if args.json:
                        sys.stdout.write(json.dumps(_execution_json(row), default=str) + "\n")
                    else:
                        name = f"{row.get('workflow_name')} {row.get('workflow_semver')}"
                        sys.stdout.write(
                            f"{row['id']}  {row['status']:<9}  {name:<30}  {row['started_at']:%Y-%m-%d %H:%M:%S}\n"
                        )
                if not rows and not args.json:
                    sys.stdout.write("no executions\n")
                return
            row = await readmodel.execution(args.execution)
            if row is None:
                raise _Refused(f"no execution {args.execution}")
            steps = await readmodel.steps(args.execution)
            if args.json:
                body = _execution_json(row)
                body["steps"] = [_step_json(step) for step in steps]
                sys.stdout.write(json.dumps(body, ensure_ascii=False, default=str) + "\n")
                return
            sys.stdout.write(
                f"{row['id']}  {row.get('workflow_name')} {row.get('workflow_semver')}  {row['status']}"
                f"{': ' + str(row['error']) if row['error'] else ''}\n"
            )
            for step in steps:
                key = ("undo:" if step["is_compensation"] else "") + step["step_path"]
                sys.stdout.write(_progress_line(str(row["id"]), key, step) + "\n")
        finally:
            await readmodel.database.aclose()

    _run_async(work)


def _step_json(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": step["step_path"],
        "status": step["status"],
        "compensation": step["is_compensation"],
        "attempt": step["attempt"],
        "started_at": step["started_at"],
        "completed_at": step["completed_at"],
        "duration_ms": step["duration_ms"],
        "input": step["input"],
        "output": step["output"],
        "error": step["error"],
        "step_id": str(step["id"]),
    }


def _logs(args: argparse.Namespace) -> None:
    settings = _settings()

    async def work() -> None:
        readmodel = await _readmodel(settings)
        seen: dict[str, Any] = {}
        try:
            while True:
                row = await readmodel.execution(args.execution)
                if row is None:
                    raise _Refused(f"no execution {args.execution}")
                for step in await readmodel.steps(args.execution):
                    body = _step_json(step)
                    key = ("undo:" if step["is_compensation"] else "") + step["step_path"]
                    state = (step["status"], step["attempt"])
                    if seen.get(key) == state:
                        continue
                    seen[key] = state
                    if args.json:
                        sys.stdout.write(json.dumps(body, ensure_ascii=False, default=str) + "\n")
                    else:
                        sys.stdout.write(_log_text(key, body))
                if not args.follow or row["status"] in ("completed", "failed", "cancelled"):
                    if not args.json:
                        sys.stdout.write(
                            f"execution {row['status']}{': ' + str(row['error']) if row['error'] else ''}\n"
                        )
                    return
                sys.stdout.flush()
                await asyncio.sleep(0.5)
        finally:
            await readmodel.database.aclose()

    _run_async(work)


def _log_text(key: str, body: dict[str, Any]) -> str:
    when = body["completed_at"] or body["started_at"]
    stamp = f"{when:%H:%M:%S}" if when is not None else "--:--:--"
    lines = [f"{stamp} {key} {body['status']}" + (f" attempt {body['attempt']}" if body["attempt"] > 1 else "")]
    for label in ("input", "output", "error"):
        value = body[label]
        if value not in (None, {}, []):
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            lines.append(f"    {label}: {text[:500]}{'…' if len(text) > 500 else ''}")
    return "\n".join(lines) + "\n"


def _decide(args: argparse.Namespace) -> None:
    settings = _settings()
    decision: Literal["approved", "rejected"] = "approved" if args.workflow_command == "approve" else "rejected"

    async def work() -> dict[str, Any]:
        await _checked(settings, lambda readmodel: readmodel.waiting_step(args.execution, args.step))
        async with _engine(settings, mode="local", executor_id=_cli_executor()) as engine:
            return await engine.decide(
                args.execution,
                args.step,
                decision,
                actor=_actor(args),
                reason=args.reason,
                phrase=getattr(args, "phrase", None),
            )

    sent = _run_async(work)
    sys.stdout.write(f"{sent['decision']} {sent['step']} of {sent['execution_id']} as {sent['actor']}\n")


def _cancel(args: argparse.Namespace) -> None:
    settings = _settings()

    async def work() -> dict[str, Any]:
        row = await _checked(settings, lambda readmodel: readmodel.execution(args.execution))
        if row is None:
            raise _Refused(f"no execution {args.execution}; `afu9 workflow status` lists executions")
        if row["status"] in ("completed", "failed", "cancelled"):  # said without starting the engine
            return {"changed": False, "status": row["status"]}
        async with _engine(settings, mode="local", executor_id=_cli_executor()) as engine:
            return await engine.cancel(args.execution, actor=_actor(args))

    outcome = _run_async(work)
    if not outcome["changed"]:
        sys.stdout.write(f"execution {args.execution} already ended {outcome['status']}; nothing changed\n")
        return
    undone = ", ".join(outcome["compensated"]) or "nothing to compensate"
    sys.stdout.write(f"cancelled {args.execution}; compensated (newest first): {undone}\n")


def _resume(args: argparse.Namespace) -> None:
    settings = _settings()

    async def work() -> str:
        async with _engine(settings, mode="local", executor_id=_cli_executor()) as engine:
            what = await engine.resume(args.execution, enqueue=args.detach)
            if what in ("completed", "failed", "cancelled"):
                sys.stdout.write(f"execution {args.execution} already ended {what}; nothing changed\n")
                return what
            sys.stderr.write(f"execution {args.execution}: {what}\n")
            if args.detach:
                return "running"
            return await _follow(engine, args.execution, args.wait_seconds, as_json=False)

    raise SystemExit(EXIT_CODES.get(_run_async(work), 1))


def worker(args: argparse.Namespace) -> None:
    """``afu9 worker``: run what the queues hold until SIGINT or SIGTERM."""
    settings = _settings()
    executor_id = args.worker_id or settings.worker_id or f"worker-{socket.gethostname()}"
    executions = args.executions or settings.worker_executions
    branches = args.branches or settings.worker_branches

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with _engine(
            settings,
            mode="worker",
            executor_id=executor_id,
            execution_concurrency=executions,
            branch_concurrency=branches,
        ):
            sys.stderr.write(
                f"afu9 worker {executor_id}: running up to {executions} executions and {branches} branches at once\n"
            )
            await stop.wait()
            sys.stderr.write(f"afu9 worker {executor_id}: stopping; unfinished executions resume when it restarts\n")

    _run_async(work)
