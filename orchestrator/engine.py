"""The workflow engine: published workflow definitions run durably on DBOS Transact, as an MCP client of the
suite's servers.

How an execution runs:

- ``start`` checks the inputs against the definition's ``inputs`` schema, writes a ``pending`` row in
  ``workflow_executions`` pinned to the definition's row and content hash, and starts the DBOS workflow
  ``afu9_execution`` with the execution's id as its workflow id (in this process, or enqueued on the
  ``afu9_executions`` queue for the workers).
- The workflow reads its pinned definition in a checkpointed step, then interprets the steps (:class:`Run`).
  Every tool call attempt is a DBOS step whose JSON outcome is stored (DBOS is configured with its portable JSON
  serializer, never pickle), so a workflow replayed after a crash takes completed calls' outcomes from the
  checkpoints and calls again only the one that was in flight, with the same idempotency key.
- Everything else the interpreter decides (conditions, templates, retry waits and their jitter) is computed
  from the inputs and those checkpoints, so a replay decides the same way. Waits between attempts, ``wait``
  steps and approval timeouts are durable DBOS sleeps and receives.
- Parallel branches and map elements run as child workflows (``afu9_block``) with ids derived from the
  execution and the step's path: a worker enqueues them on ``afu9_branches`` so several workers share them; a
  process running one execution for the command line starts them itself.
- Approvals are DBOS messages to the waiting workflow (topic ``approval:<path>``) with a timeout.
- Cancelling stops the DBOS workflow and its children, then runs the compensations the completed steps
  registered, newest first (``afu9_compensation``); a step failing with ``on_error: compensate`` runs them
  inline before the execution fails.
- The AFU-9 tables (:mod:`orchestrator.readmodel`) are written as the read model; each tool call carries the
  execution and step ids in its request ``_meta`` so the servers' audit rows (``mcp_tool_calls``) link to them.

DBOS is one instance per process: an :class:`Engine` launches it and the workflow functions below find the
engine of their process through :func:`_engine`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dbos import DBOS, SetWorkflowID

from orchestrator.expressions import evaluate, render, truthy
from orchestrator.format import (
    AgentStep,
    ApprovalStep,
    Goto,
    LoopStep,
    MapStep,
    ParallelStep,
    Step,
    SwitchStep,
    ToolStep,
    WaitStep,
    Workflow,
    WorkflowStep,
    parse_duration,
    parse_workflow,
)
from orchestrator.readmodel import TERMINAL, NotWaiting, ReadModel, execution_row_id, step_row_id
from orchestrator.retry import Policy, policy_of
from shared.errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    from orchestrator.clients import ClientPool
    from orchestrator.definitions import Definitions, StoredWorkflow
    from shared.db import Database

__all__ = [
    "BRANCHES_QUEUE",
    "ENGINE_VERSION",
    "EXECUTIONS_QUEUE",
    "Engine",
    "EngineOptions",
    "InvalidInputs",
    "NotWaiting",
    "dbos_url",
]

log = logging.getLogger(__name__)

ENGINE_VERSION = "afu9-engine-1"
"""DBOS's application version: every process running this interpreter recovers the others' workflows. Raise it
only with an interpreter change that would decide differently on replay."""
EXECUTIONS_QUEUE = "afu9_executions"
BRANCHES_QUEUE = "afu9_branches"
APPROVAL_TIMEOUT = 24 * 3600.0
_ERROR_CHARS = 2000
_INPUT_BYTES = 1_000_000
_POLL = 0.1  # seconds between two looks at a child workflow's end (DBOS's default, 1 s, adds up per branch)


class InvalidInputs(InvalidRequest):
    """The inputs do not fit the workflow's ``inputs`` schema; nothing was started."""


@dataclass(frozen=True)
class EngineOptions:
    """How this process takes part: a ``worker`` dequeues executions and branches from the queues (with these
    concurrency limits); a ``local`` process (the command line) runs only what it starts, and starts
    branches itself instead of enqueueing them."""

    executor_id: str
    mode: Literal["worker", "local"] = "local"
    execution_concurrency: int = 8
    branch_concurrency: int = 16
    system_database_url: str = ""
    sleep: Callable[[float], Awaitable[None]] | None = None
    """How the engine waits (retry backoff, wait steps): DBOS's durable sleep unless a test gives a clock."""


def dbos_url(database_url: str, data_dir: Path) -> str:
    """DBOS's system database for the suite's database URL: on PostgreSQL the same database (DBOS keeps its
    tables in its own ``dbos`` schema), on SQLite a file of its own beside the suite's."""
    scheme, _, rest = database_url.partition("://")
    if scheme.startswith("postgresql"):
        return f"postgresql+psycopg://{rest}"
    path = Path(rest[1:]) if rest.startswith("/") and len(rest) > 1 else data_dir / "afu9.db"
    return f"sqlite:///{(path.parent / 'afu9-dbos.sqlite').as_posix()}"


_ACTIVE: Engine | None = None


def _engine() -> Engine:
    if _ACTIVE is None:
        raise RuntimeError("no orchestrator engine is running in this process")
    return _ACTIVE


# -- the DBOS workflows ---------------------------------------------------------------------------------------


@DBOS.workflow(name="afu9_execution")
async def _execution_workflow(execution_id: str) -> dict[str, Any]:
    return await _engine().run_execution(execution_id)


@DBOS.workflow(name="afu9_block")
async def _block_workflow(
    execution_id: str, owner: str, branch: str | None, prefix: str, scope: dict[str, Any]
) -> dict[str, Any]:
    engine = _engine()
    return await engine.unless_stopping(engine.run_block(execution_id, owner, branch, prefix, scope))


@DBOS.workflow(name="afu9_compensation")
async def _compensation_workflow(execution_id: str, reason: str) -> dict[str, Any]:
    engine = _engine()
    return await engine.unless_stopping(engine.run_cancellation(execution_id, reason))


# -- the engine -----------------------------------------------------------------------------------------------


class Engine:
    """Launches DBOS for this process, starts and steers executions, and runs their workflows."""

    def __init__(
        self,
        database: Database,
        pool: ClientPool,
        definitions: Definitions,
        options: EngineOptions,
    ) -> None:
        self.database = database
        self.pool = pool
        self.definitions = definitions
        self.options = options
        self.readmodel = ReadModel(database)
        self._sleep = options.sleep
        self._key_arguments: dict[tuple[str, str], bool] = {}
        self._sqlite_engine: Any = None
        self._closing = False

    # -- lifecycle --

    async def __aenter__(self) -> Engine:
        await self.launch()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def launch(self) -> None:
        """Configure and launch DBOS in this process (on the running event loop, so recovered and dequeued
        workflows run on it too) and register the queues."""
        global _ACTIVE
        from dbos._serialization import DBOSPortableJSON

        if _ACTIVE is not None:
            raise RuntimeError("an orchestrator engine is already running in this process")
        await self.database.ensure_schema()
        config: dict[str, Any] = {
            "name": "afu9",
            "system_database_url": self.options.system_database_url,
            "application_version": ENGINE_VERSION,
            "executor_id": self.options.executor_id,
            "serializer": DBOSPortableJSON,
            "log_level": "WARNING",
            "notification_listener_polling_interval_sec": 0.1,
        }
        if self.options.system_database_url.startswith("sqlite"):
            self._sqlite_engine = _sqlite_system_engine(self.options.system_database_url)
            config["system_database_engine"] = self._sqlite_engine
        DBOS(config=config)  # type: ignore[arg-type]
        if self.options.mode == "local":
            DBOS.listen_queues([])
        _ACTIVE = self
        try:
            DBOS.launch()  # here, on the loop: DBOS runs recovered and dequeued workflows on the launching loop
            await DBOS.register_queue_async(
                EXECUTIONS_QUEUE, worker_concurrency=self.options.execution_concurrency, polling_interval_sec=0.2
            )
            await DBOS.register_queue_async(
                BRANCHES_QUEUE, worker_concurrency=self.options.branch_concurrency, polling_interval_sec=0.1
            )
        except BaseException:
            _ACTIVE = None
            DBOS.destroy()
            raise

    async def aclose(self) -> None:
        global _ACTIVE
        self._closing = True
        if _ACTIVE is self:
            await asyncio.to_thread(DBOS.destroy)
            _ACTIVE = None
        if self._sqlite_engine is not None:
            self._sqlite_engine.dispose()
            self._sqlite_engine = None

    # -- starting and steering --

    async def start(
        self,
        stored: StoredWorkflow,
        inputs: Mapping[str, Any],
        *,
        triggered_by: str,
        context: Mapping[str, Any] | None = None,
        enqueue: bool = False,
    ) -> str:
        """Start an execution of ``stored`` (pinned to it); its id. :class:`InvalidInputs` when the inputs do
        not fit. ``enqueue``: for the workers, instead of this process."""
        workflow = parse_workflow(stored.definition)
        checked = check_inputs(workflow, inputs)
        execution_id = uuid.uuid4()
        await self.readmodel.create_execution(
            execution_id,
            stored,
            inputs=checked,
            context=dict(context or {}),
            triggered_by=triggered_by,
        )
        await self._launch_execution(str(execution_id), enqueue=enqueue)
        return str(execution_id)

    async def _launch_execution(self, execution_id: str, *, enqueue: bool) -> None:
        with SetWorkflowID(execution_id):
            if enqueue:
                await DBOS.enqueue_workflow_async(EXECUTIONS_QUEUE, _execution_workflow, execution_id)
            else:
                await DBOS.start_workflow_async(_execution_workflow, execution_id)

    async def result(self, execution_id: str) -> dict[str, Any]:
        """Wait for an execution's DBOS workflow to end; its summary (status, outputs, error)."""
        handle = await DBOS.retrieve_workflow_async(execution_id)
        try:
            return await handle.get_result(polling_interval_sec=_POLL)
        except Exception:  # noqa: BLE001 - cancelled or errored: the read model says how it ended
            row = await self.readmodel.execution(execution_id)
            return {"status": row["status"] if row else "failed", "error": row["error"] if row else None}

    async def decide(
        self,
        execution_id: str,
        step: str,
        decision: Literal["approved", "rejected"],
        *,
        actor: str,
        reason: str | None = None,
        phrase: str | None = None,
    ) -> dict[str, Any]:
        """Approve or reject the approval step ``step`` (its id or path) of an execution that waits for it;
        :class:`NotWaiting` otherwise. The message sent is the step's output once it arrives."""
        row = await self.readmodel.waiting_step(execution_id, step)
        pending = row["input"] or {}
        required = pending.get("require_phrase")
        if decision == "approved" and required and phrase != required:
            raise InvalidRequest(f"step {row['step_path']} needs the phrase {required!r} to approve (--phrase)")
        message = {
            "decision": decision,
            "actor": actor[:255],
            "reason": (reason or "")[:2000] or None,
            "at": datetime.now(UTC).isoformat(),
        }
        await DBOS.send_async(pending["workflow_id"], message, pending["topic"])
        return {"execution_id": execution_id, "step": row["step_path"], **message}

    async def cancel(self, execution_id: str, *, actor: str) -> dict[str, Any]:
        """Stop a running execution (and its branches and sub-workflows), then run the compensations its
        completed steps registered, newest first. A finished execution is left as it is."""
        row = await self.readmodel.execution(execution_id)
        if row is None:
            raise NotFound(f"no execution {execution_id}; `afu9 workflow status` lists executions")
        if row["status"] in TERMINAL:
            return {"execution_id": execution_id, "status": row["status"], "changed": False, "compensated": []}
        for target in [execution_id, *await self.readmodel.descendants(execution_id)]:
            await DBOS.cancel_workflow_async(target, cancel_children=True)
        reason = f"cancelled by {actor}"
        with SetWorkflowID(f"{execution_id}/cancel"):
            handle = await DBOS.start_workflow_async(_compensation_workflow, execution_id, reason)
        outcome = await handle.get_result(polling_interval_sec=_POLL)
        return {"execution_id": execution_id, "status": "cancelled", "changed": True, **outcome}

    async def resume(self, execution_id: str, *, enqueue: bool) -> str:
        """Take up an execution a process left behind (it crashed and its worker is not coming back): its
        DBOS workflow and those of its branches continue from their last checkpoint."""
        row = await self.readmodel.execution(execution_id)
        if row is None:
            raise NotFound(f"no execution {execution_id}; `afu9 workflow status` lists executions")
        if row["status"] in TERMINAL:
            return row["status"]
        status = await DBOS.get_workflow_status_async(execution_id)
        if status is None:  # the process stopped between writing the row and starting the workflow
            await self._launch_execution(execution_id, enqueue=enqueue)
            return "started"
        stuck = await DBOS.list_workflows_async(
            workflow_id_prefix=f"{execution_id}/", status=["PENDING", "ENQUEUED"], load_input=False, load_output=False
        )
        queue = EXECUTIONS_QUEUE if enqueue else None
        for workflow in stuck:
            await DBOS.resume_workflow_async(workflow.workflow_id, queue_name=BRANCHES_QUEUE if enqueue else None)
        if status.status in ("PENDING", "ENQUEUED", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"):
            await DBOS.resume_workflow_async(execution_id, queue_name=queue)
        return "resumed"

    # -- running (called by the DBOS workflows) --

    async def unless_stopping(self, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """``work``; an error once the process is stopping (DBOS shut down under a running workflow) becomes
        :class:`_Stopping`, which DBOS does not record, so the workflow is taken up again, not marked failed."""
        try:
            return await work
        except Exception as error:
            if self._closing:
                raise _Stopping from error
            raise

    async def run_execution(self, execution_id: str) -> dict[str, Any]:
        from dbos._error import DBOSAwaitedWorkflowCancelledError

        try:
            return await self.unless_stopping(self._run_execution(execution_id))
        except DBOSAwaitedWorkflowCancelledError:
            raise  # a child was cancelled because this execution is being cancelled: the canceller records it
        except Exception as error:  # a defect or a refusal of the database: DBOS marks the workflow failed
            log.exception("execution %s stopped on an unexpected error", execution_id)
            with contextlib.suppress(Exception):
                await self.readmodel.set_execution(execution_id, "failed", error=f"engine error: {error}")
            raise

    async def _run_execution(self, execution_id: str) -> dict[str, Any]:
        loaded = await DBOS.run_step_async({"name": "load"}, self._load, execution_id)
        workflow = parse_workflow(loaded["definition"])
        await self.readmodel.set_execution(execution_id, "running", executor_id=DBOS.executor_id)
        run = Run(self, execution_id, workflow, loaded)
        scope = run.root_scope()
        outcome = await run.block(workflow.steps, "", scope)
        if outcome.status == "completed":
            try:
                outputs = {name: evaluate(expression, scope) for name, expression in workflow.outputs.items()}
            except Exception as error:  # noqa: BLE001 - a JMESPath runtime error
                outcome = Outcome("failed", error=f"outputs: {error}")
            else:
                await self.readmodel.set_execution(execution_id, "completed", output=outputs, error=None)
                if loaded["execution"]["parent_id"] is None:  # a sub-workflow's stay for its parent's saga
                    await self.readmodel.retire_compensations(execution_id)
                return {"status": "completed", "outputs": outputs, "error": None, "now": run.now}
        compensated: list[str] = []
        if outcome.compensate:
            compensated = await run.compensate()
        await self.readmodel.set_execution(execution_id, "failed", error=outcome.error)
        if loaded["execution"]["parent_id"] is None:
            await self.readmodel.retire_compensations(execution_id)
        return {"status": "failed", "outputs": None, "error": outcome.error, "compensated": compensated, "now": run.now}

    async def run_block(
        self, execution_id: str, owner: str, branch: str | None, prefix: str, scope: dict[str, Any]
    ) -> dict[str, Any]:
        loaded = await DBOS.run_step_async({"name": "load"}, self._load, execution_id)
        workflow = parse_workflow(loaded["definition"])
        run = Run(self, execution_id, workflow, loaded)
        steps = _block_of(workflow, owner, branch)
        before = set(scope["steps"])
        outcome = await run.block(steps, prefix, scope)
        inner = {key: value for key, value in scope["steps"].items() if key not in before or key in _ids(steps)}
        return {
            "status": outcome.status,
            "last": outcome.output,
            "error": outcome.error,
            "compensate": outcome.compensate,
            "steps": inner,
            "now": run.now,
        }

    async def run_cancellation(self, execution_id: str, reason: str) -> dict[str, Any]:
        loaded = await DBOS.run_step_async({"name": "load"}, self._load, execution_id)
        run = Run(self, execution_id, parse_workflow(loaded["definition"]), loaded)
        compensated = await run.compensate()
        await self.readmodel.set_execution(execution_id, "cancelled", error=reason)
        for row in await self.readmodel.steps(execution_id, compensation=False):
            if row["status"] in ("running", "waiting", "pending"):
                await self.readmodel.put_step(
                    execution_id, row["step_path"], index=row["step_index"], status="cancelled", error=reason
                )
        return {"compensated": compensated}

    # -- checkpointed effects (DBOS steps) --

    async def _load(self, execution_id: str) -> dict[str, Any]:
        import sqlalchemy as sa

        from orchestrator.schema import workflow_executions as e
        from orchestrator.schema import workflows as w

        query = (
            sa.select(e, w.c.definition, w.c.name, w.c.semver)
            .select_from(e.join(w, e.c.workflow_id == w.c.id))
            .where(e.c.id == uuid.UUID(execution_id))
        )
        async with self.database.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            raise NotFound(f"execution {execution_id} or its workflow definition is gone")
        m = row._mapping
        started = m["started_at"] if m["started_at"].tzinfo else m["started_at"].replace(tzinfo=UTC)
        return {
            "definition": dict(m["definition"]),
            "inputs": dict(m["input"] or {}),
            "execution": {
                "id": execution_id,
                "name": m["name"],
                "version": m["semver"],
                "content_hash": m["definition_hash"],
                "started_at": started.isoformat(),
                "triggered_by": m["triggered_by"],
                "parent_id": str(m["parent_execution_id"]) if m["parent_execution_id"] else None,
            },
            "started": started.timestamp(),
            "now": time.time(),
        }

    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        timeout: float | None,
        meta: dict[str, Any],
        key: str | None,
    ) -> dict[str, Any]:
        """One attempt of a tool call (a DBOS step): its outcome as JSON. The idempotency key is passed as
        the tool's ``idempotency_key`` argument when its input schema has one, and always in ``_meta``."""
        if key is not None and "idempotency_key" not in arguments and await self._takes_key(server, tool):
            arguments = {**arguments, "idempotency_key": key}
        outcome = await self.pool.call(server, tool, arguments, timeout=timeout, meta=meta)
        if self._closing:  # the process is stopping (its servers going away): record nothing, replay this call
            raise _Stopping
        return {
            "ok": outcome.ok,
            "result": _storable(outcome.result),
            "error": (outcome.error or "")[:_ERROR_CHARS] or None,
            "error_class": outcome.error_class,
            "duration_ms": outcome.duration_ms,
            "at": time.time(),
        }

    async def _takes_key(self, server: str, tool: str) -> bool:
        known = self._key_arguments.get((server, tool))
        if known is None:
            try:
                tools = await self.pool.list_tools(server)
            except Exception:  # noqa: BLE001 - the call itself will report the server as unreachable
                return False
            for listed in tools:
                takes = "idempotency_key" in (listed.input_schema.get("properties") or {})
                self._key_arguments[(server, listed.name)] = takes
            known = self._key_arguments.get((server, tool), False)
        return known

    async def create_child(
        self, parent_id: str, path: str, name: str, version: str | None, inputs: Any
    ) -> dict[str, Any]:
        child_id = execution_row_id(parent_id, path)
        try:
            stored = await self.definitions.get(name, version)
            checked = check_inputs(parse_workflow(stored.definition), inputs)
        except (NotFound, InvalidInputs) as error:
            return {"ok": False, "error": str(error)}
        await self.readmodel.create_execution(
            child_id,
            stored,
            inputs=checked,
            context={},
            triggered_by=f"execution {parent_id}",
            parent_execution_id=uuid.UUID(parent_id),
        )
        return {"ok": True, "execution_id": str(child_id), "version": stored.version}

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._sleep is not None:
            await self._sleep(seconds)
        else:
            await DBOS.sleep_async(seconds)


def _sqlite_system_engine(url: str) -> Any:
    """DBOS's SQLite system database as DBOS would open it (IMMEDIATE transactions, a long busy timeout,
    foreign keys), but in WAL mode with ``synchronous=NORMAL``, as the suite's own SQLite file: a checkpoint
    survives a process crash, and a commit does not wait for the disk (a step's checkpoint write drops from
    about 3 ms to under 1 ms)."""
    import sqlalchemy as sa
    from sqlalchemy import event

    engine = sa.create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        connection.isolation_level = "IMMEDIATE"
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    return engine


# -- the interpreter ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """How a step or a step list ended."""

    status: Literal["completed", "failed", "skipped"]
    output: Any = None
    error: str | None = None
    compensate: bool = False
    goto: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict[str, Any])


class Run:
    """Interprets one workflow (or one of its blocks) inside a DBOS workflow. Deterministic: given the same
    checkpoints it makes the same calls in the same order."""

    def __init__(self, engine: Engine, execution_id: str, workflow: Workflow, loaded: Mapping[str, Any]) -> None:
        self.engine = engine
        self.execution_id = execution_id
        self.workflow = workflow
        self.loaded = loaded
        self.now = float(loaded["now"])
        limit = parse_duration(workflow.deadline).total_seconds() if workflow.deadline else None
        self.deadline_at = float(loaded["started"]) + limit if limit is not None else None
        self.defaults = workflow.defaults
        self.readmodel = engine.readmodel

    def root_scope(self) -> dict[str, Any]:
        return {"inputs": self.loaded["inputs"], "steps": {}, "execution": self.loaded["execution"]}

    # -- lists of steps --

    async def block(self, steps: Sequence[Step], prefix: str, scope: dict[str, Any]) -> Outcome:
        order = _ordered(steps)
        positions = {step.id: position for position, step in enumerate(order)}
        indexes = {step.id: index for index, step in enumerate(steps)}
        last: Any = None
        position = 0
        finished: set[str] = set()
        while position < len(order):
            step = order[position]
            path = f"{prefix}{step.id}"
            if self.deadline_at is not None and self.now > self.deadline_at:
                return Outcome("failed", error=f"the execution passed its deadline ({self.workflow.deadline})")
            wave = _wave(order, position, finished)
            if len(wave) > 1:
                outcome = await self._together(wave, prefix, indexes, scope)
                if outcome.status == "failed":
                    return outcome
                last = outcome.output
                finished.update(member.id for member in wave)
                position += len(wave)
                continue
            finished.add(step.id)
            outcome = await self.step(step, path, indexes[step.id], scope)
            scope["steps"][step.id] = {
                "status": outcome.status,
                "output": outcome.output,
                "outputs": outcome.outputs,
                "error": outcome.error,
            }
            target: str | None = outcome.goto
            if outcome.status == "failed":
                action = step.on_error or (self.defaults.on_error if self.defaults else None) or "fail"
                if isinstance(action, Goto):
                    target = action.goto
                elif action == "continue":
                    pass
                elif action == "compensate" or outcome.compensate:
                    return Outcome("failed", error=f"{path}: {outcome.error}", compensate=True)
                else:
                    return Outcome("failed", error=f"{path}: {outcome.error}")
            elif outcome.status == "completed":
                last = outcome.output
            if target is not None and target in positions:
                for skipped in order[position + 1 : positions[target]]:
                    await self._skip(skipped, f"{prefix}{skipped.id}", indexes[skipped.id], scope, "jumped over")
                    finished.add(skipped.id)
                position = positions[target]
                continue
            position += 1
        return Outcome("completed", output=last)

    async def _together(
        self, wave: Sequence[Step], prefix: str, indexes: Mapping[str, int], scope: dict[str, Any]
    ) -> Outcome:
        """Run steps that need nothing of each other at once, each as a child workflow; the first failure
        cancels the others and fails the list (the failing step's ``on_error`` was applied in its child)."""
        handles = [
            await self._child(f"{self.execution_id}/{prefix}{member.id}", f"@{member.id}", None, prefix, _copy(scope))
            for member in wave
        ]
        pending = list(handles)
        failure: dict[str, Any] | None = None
        while pending:
            done = await DBOS.wait_first_async(pending, polling_interval_sec=_POLL)
            pending = [handle for handle in pending if handle.workflow_id != done.workflow_id]
            result = await done.get_result(polling_interval_sec=_POLL)
            self.now = max(self.now, float(result.get("now") or 0))
            scope["steps"].update(result["steps"])
            if result["status"] != "completed" and failure is None:
                failure = result
                for handle in pending:
                    await DBOS.cancel_workflow_async(handle.workflow_id, cancel_children=True)
                stopped = {handle.workflow_id.rsplit("/", 1)[-1] for handle in pending}
                for member in wave:
                    if member.id in stopped:
                        await self._put(
                            f"{prefix}{member.id}",
                            indexes[member.id],
                            status="cancelled",
                            error="stopped: a step running at the same time failed",
                        )
                pending = []
        if failure is not None:
            return Outcome("failed", error=failure["error"], compensate=bool(failure.get("compensate")))
        return Outcome("completed", output=scope["steps"][wave[-1].id]["output"])

    async def _skip(self, step: Step, path: str, index: int, scope: dict[str, Any], why: str) -> None:
        scope["steps"][step.id] = {"status": "skipped", "output": None, "outputs": {}, "error": None}
        await self._put(path, index, status="skipped", error=why, started_at=self._at(), completed_at=self._at())

    def _at(self) -> datetime:
        """The execution's clock (the latest checkpointed time) as a timestamp for the read model."""
        return datetime.fromtimestamp(self.now, UTC)

    async def _put(self, path: str, index: int, *, owner: str | None = None, **fields: Any) -> None:
        await self.readmodel.put_step(owner or self.execution_id, path, index=index, **fields)

    async def _begin(self, path: str, index: int, **fields: Any) -> None:
        await self._put(path, index, status="running", started_at=self._at(), **fields)

    async def _completed(self, path: str, index: int, output: Any) -> Outcome:
        await self._put(path, index, status="completed", output=output, completed_at=self._at())
        return Outcome("completed", output=output)

    # -- one step --

    async def step(self, step: Step, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        if step.if_ is not None:
            try:
                run = truthy(evaluate(step.if_, scope))
            except Exception as error:  # noqa: BLE001 - a JMESPath runtime error fails the step
                return await self._failed(path, index, f"if: {error}")
            if not run:
                await self._skip(step, path, index, scope, "if was false")
                return Outcome("skipped")
        runners: dict[str, Callable[[Any, str, int, dict[str, Any]], Awaitable[Outcome]]] = {
            "tool": self._tool,
            "parallel": self._parallel,
            "map": self._map,
            "loop": self._loop,
            "switch": self._switch,
            "approval": self._approval,
            "wait": self._wait,
            "workflow": self._subworkflow,
            "agent": self._agent,
        }
        try:
            outcome = await runners[step.type](step, path, index, scope)
        except _ExpressionFailed as failure:
            outcome = await self._failed(path, index, str(failure))
        if outcome.status == "completed" and step.outputs:
            try:
                outcome.outputs = {
                    name: evaluate(expression, {**scope, "result": outcome.output})
                    for name, expression in step.outputs.items()
                }
            except Exception as error:  # noqa: BLE001 - a JMESPath runtime error fails the step
                return await self._failed(path, index, f"outputs: {error}")
        return outcome

    async def _agent(self, step: AgentStep, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        del step, scope
        reason = "agent steps are declared in this format but not run by this engine yet"
        return await self._failed(path, index, reason)

    async def _failed(self, path: str, index: int, error: str) -> Outcome:
        await self._put(path, index, status="failed", error=error)
        return Outcome("failed", error=error)

    def _render(self, value: Any, scope: Mapping[str, Any], what: str) -> Any:
        try:
            return render(value, scope)
        except Exception as error:  # noqa: BLE001 - a JMESPath runtime error fails the step
            raise _ExpressionFailed(f"{what}: {error}") from None

    def _policy(self, step: ToolStep | Any) -> Policy:
        retry = getattr(step, "retry", None) or (self.defaults.retry if self.defaults else None)
        return policy_of(retry)

    def _timeout(self, value: str | None) -> float | None:
        text = value or (self.defaults.timeout if self.defaults else None)
        seconds = parse_duration(text).total_seconds() if text else None
        if self.deadline_at is not None:
            left = max(self.deadline_at - self.now, 0.001)
            seconds = left if seconds is None else min(seconds, left)
        return seconds

    # -- tool --

    async def _tool(self, step: ToolStep, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        arguments = self._render(step.arguments, scope, "arguments")
        key = self._render(step.idempotency_key, scope, "idempotency_key") if step.idempotency_key else None
        outcome = await self._attempts(
            path,
            index,
            server=step.server,
            tool=step.tool,
            arguments=arguments,
            key=None if key is None else str(key),
            policy=self._policy(step),
            timeout=self._timeout(step.timeout),
            deadline=parse_duration(step.deadline).total_seconds() if step.deadline else None,
        )
        if outcome.status == "completed" and step.compensate is not None:
            await self._register(
                step,
                path,
                index,
                {
                    **scope,
                    "steps": {
                        **scope["steps"],
                        step.id: {"status": "completed", "output": outcome.output, "outputs": {}, "error": None},
                    },
                },
            )
        return outcome

    async def _attempts(
        self,
        path: str,
        index: int,
        *,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        key: str | None,
        policy: Policy,
        timeout: float | None,
        deadline: float | None,
        compensation: bool = False,
        owner: str | None = None,
    ) -> Outcome:
        """Call until the call succeeds or the policy stops retrying; every attempt is a checkpointed step.
        ``owner``: the execution whose step row this is (a sub-workflow's compensation run by its parent)."""
        owner = owner or self.execution_id
        started = self._at()
        first = self.now
        row_id = step_row_id(owner, path, compensation=compensation)
        meta: dict[str, Any] = {"afu9/execution_id": owner, "afu9/step_id": str(row_id)}
        if key is not None:
            meta["afu9/idempotency_key"] = key
        attempt = 0
        while True:
            attempt += 1
            await self._put(
                path,
                index,
                owner=owner,
                status="running",
                compensation=compensation,
                input={"server": server, "tool": tool, "arguments": arguments},
                attempt=attempt,
                retry_count=attempt - 1,
                started_at=started,
            )
            name = f"{'undo:' if compensation else ''}{path}#{attempt}"
            result = await DBOS.run_step_async(
                {"name": name}, self.engine.call_tool, server, tool, arguments, timeout, meta, key
            )
            self.now = max(self.now, float(result["at"]))
            if result["ok"]:
                await self._put(
                    path,
                    index,
                    owner=owner,
                    status="completed",
                    compensation=compensation,
                    output=result["result"],
                    error=None,
                    completed_at=self._at(),
                    duration_ms=int((self.now - first) * 1000),
                )
                return Outcome("completed", output=result["result"])
            error_class = result["error_class"] or "tool_error"
            error = str(result["error"] or f"{server}/{tool} failed")
            wait = policy.delay(attempt, f"{self.execution_id}/{name.split('#')[0]}")
            out_of_time = deadline is not None and self.now + wait - first > deadline
            if self.deadline_at is not None and self.now + wait > self.deadline_at:
                out_of_time = True
            if not policy.retries(error_class, attempt) or out_of_time:
                tried = f" after {attempt} attempts" if attempt > 1 else ""
                await self._put(
                    path,
                    index,
                    owner=owner,
                    status="failed",
                    compensation=compensation,
                    error=f"{error}{tried}",
                    completed_at=self._at(),
                    duration_ms=int((self.now - first) * 1000),
                )
                return Outcome("failed", error=f"{error}{tried}")
            log.info("retrying %s of execution %s in %.2fs (%s)", path, self.execution_id, wait, error_class)
            await self.engine.sleep(wait)
            self.now += wait

    async def _register(self, step: ToolStep, path: str, index: int, scope: dict[str, Any]) -> None:
        """Register ``step``'s compensation, rendered now (it reads the step's own result)."""
        undo = step.compensate
        assert undo is not None
        if undo.if_ is not None and not truthy(evaluate(undo.if_, scope)):
            return
        call = {
            "server": undo.server,
            "tool": undo.tool,
            "arguments": self._render(undo.arguments, scope, "compensate.arguments"),
            "idempotency_key": (
                str(self._render(undo.idempotency_key, scope, "compensate.idempotency_key"))
                if undo.idempotency_key
                else f"{self.execution_id}-undo-{path}"
            ),
            "retry": (undo.retry or (self.defaults.retry if self.defaults else None) or None)
            and (undo.retry or self.defaults.retry).model_dump(mode="json"),  # type: ignore[union-attr]
            "timeout": undo.timeout,
        }
        await self._put(
            path,
            index,
            status="pending",
            compensation=True,
            input=call,
            created_at=self._at(),
        )

    async def compensate(self) -> list[str]:
        """Run the pending compensations of the execution, newest first; the paths compensated."""
        from orchestrator.format import Retry

        pending = await DBOS.run_step_async({"name": "compensations"}, self._pending)
        done: list[str] = []
        for row in pending:
            call = row["input"]
            retry = Retry.model_validate(call["retry"]) if call.get("retry") else None
            outcome = await self._attempts(
                row["path"],
                row["index"],
                server=call["server"],
                tool=call["tool"],
                arguments=call["arguments"],
                key=call.get("idempotency_key"),
                policy=policy_of(retry),
                timeout=parse_duration(call["timeout"]).total_seconds() if call.get("timeout") else None,
                deadline=None,
                compensation=True,
                owner=row["owner"],
            )
            if outcome.status == "completed":
                done.append(row["path"] if row["owner"] == self.execution_id else f"{row['owner']}:{row['path']}")
        return done

    async def _pending(self) -> list[dict[str, Any]]:
        rows = await self.readmodel.pending_compensations(self.execution_id)
        return [
            {
                "owner": str(row["execution_id"]),
                "path": row["step_path"],
                "index": row["step_index"],
                "input": row["input"],
            }
            for row in rows
        ]

    # -- parallel and map: child workflows --

    async def _child(self, child_id: str, owner: str, branch: str | None, prefix: str, scope: dict[str, Any]) -> Any:
        with SetWorkflowID(child_id):
            if self.engine.options.mode == "worker":
                return await DBOS.enqueue_workflow_async(
                    BRANCHES_QUEUE, _block_workflow, self.execution_id, owner, branch, prefix, scope
                )
            return await DBOS.start_workflow_async(_block_workflow, self.execution_id, owner, branch, prefix, scope)

    async def _parallel(self, step: ParallelStep, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        started = self._at()
        await self._put(path, index, status="running", started_at=started)
        handles: dict[str, Any] = {}
        for name in step.branches:
            handles[name] = await self._child(
                f"{self.execution_id}/{path}/{name}", step.id, name, f"{path}/{name}/", _copy(scope)
            )
        need = {"all": len(handles), "any": 1}.get(step.join, step.quorum or len(handles))
        by_id = {handle.workflow_id: name for name, handle in handles.items()}
        pending = list(handles.values())
        results: dict[str, dict[str, Any]] = {}
        succeeded = failed = 0
        compensate = False
        while pending:
            done = await DBOS.wait_first_async(pending, polling_interval_sec=_POLL)
            pending = [handle for handle in pending if handle.workflow_id != done.workflow_id]
            result = await done.get_result(polling_interval_sec=_POLL)
            self.now = max(self.now, float(result.get("now") or 0))
            results[by_id[done.workflow_id]] = result
            scope["steps"].update(result["steps"])
            if result["status"] == "completed":
                succeeded += 1
            else:
                failed += 1
                compensate = compensate or bool(result.get("compensate"))
            met = succeeded >= need
            hopeless = failed > len(handles) - need
            if (met and step.join != "all") or (hopeless and step.fail_fast):
                for handle in pending:
                    await DBOS.cancel_workflow_async(handle.workflow_id, cancel_children=True)
                break
        output = {name: result["last"] for name, result in results.items() if result["status"] == "completed"}
        finished = self._at()
        if succeeded >= need:
            await self._put(path, index, status="completed", output=output, completed_at=finished)
            return Outcome("completed", output=output)
        errors = "; ".join(f"{name}: {result['error']}" for name, result in results.items() if result["error"])
        error = f"{failed} of {len(handles)} branches failed ({step.join} needed {need}): {errors}"
        await self._put(path, index, status="failed", error=error, completed_at=finished)
        return Outcome("failed", error=error, compensate=compensate)

    async def _map(self, step: MapStep, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        items = self._render("${{ " + step.items + " }}", scope, "items")
        if not isinstance(items, list):
            return await self._failed(path, index, f"items is not a list but {type(items).__name__}")
        await self._begin(path, index, input={"items": len(items)})
        outputs: list[Any] = []
        window: list[Any] = []
        position = 0
        failure: dict[str, Any] | None = None
        while position < len(items) or window:
            while position < len(items) and len(window) < step.max_concurrency and failure is None:
                inner = _copy(scope)
                inner[step.as_] = items[position]
                inner["index"] = position
                window.append(
                    await self._child(
                        f"{self.execution_id}/{path}[{position}]", step.id, None, f"{path}[{position}]/", inner
                    )
                )
                position += 1
            if not window:
                break
            result = await window.pop(0).get_result(polling_interval_sec=_POLL)
            self.now = max(self.now, float(result.get("now") or 0))
            if result["status"] == "completed":
                outputs.append(result["last"])
            elif failure is None:
                failure = result
                for handle in window:
                    await DBOS.cancel_workflow_async(handle.workflow_id, cancel_children=True)
                window = []
        finished = self._at()
        if failure is not None:
            error = f"element {len(outputs)}: {failure['error']}"
            await self._put(path, index, status="failed", error=error, completed_at=finished)
            return Outcome("failed", error=error, compensate=bool(failure.get("compensate")))
        await self._put(path, index, status="completed", output=outputs, completed_at=finished)
        return Outcome("completed", output=outputs)

    # -- loop and switch --

    async def _loop(self, step: LoopStep, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        await self._begin(
            path,
            index,
        )
        for iteration in range(1, step.max_iterations + 1):
            scope["iteration"] = iteration
            outcome = await self.block(step.steps, f"{path}@{iteration}/", scope)
            if outcome.status == "failed":
                scope.pop("iteration", None)
                error = f"iteration {iteration}: {outcome.error}"
                await self._failed(path, index, error)
                return Outcome("failed", error=error, compensate=outcome.compensate)
            if truthy(self._render("${{ " + step.until + " }}", scope, "until")):
                scope.pop("iteration", None)
                output = {"iterations": iteration, "last": outcome.output}
                return await self._completed(path, index, output)
        scope.pop("iteration", None)
        return await self._failed(path, index, f"until was still false after {step.max_iterations} iterations")

    async def _switch(self, step: SwitchStep, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        target = step.default
        chosen: int | None = None
        for number, case in enumerate(step.cases):
            if truthy(self._render("${{ " + case.when + " }}", scope, f"cases[{number}].when")):
                target, chosen = case.goto, number
                break
        output = {"case": chosen, "goto": target}
        await self._put(
            path,
            index,
            status="completed",
            output=output,
            started_at=self._at(),
            completed_at=self._at(),
        )
        return Outcome("completed", output=output, goto=target)

    # -- approval and wait --

    async def _approval(self, step: ApprovalStep, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        timeout = parse_duration(step.timeout).total_seconds() if step.timeout else APPROVAL_TIMEOUT
        if self.deadline_at is not None:
            timeout = max(min(timeout, self.deadline_at - self.now), 0.0)
        topic = f"approval:{path}"
        waiting = {
            "message": self._render(step.message, scope, "message"),
            "data": self._render(step.data, scope, "data"),
            "approvers": step.approvers.model_dump(mode="json"),
            "require_phrase": step.require_phrase,
            "on_timeout": step.on_timeout,
            "expires_at": datetime.fromtimestamp(self.now + timeout, UTC).isoformat(),
            "workflow_id": DBOS.workflow_id,
            "topic": topic,
        }
        await self._put(
            path,
            index,
            status="waiting",
            input=waiting,
            started_at=self._at(),
        )
        message = await DBOS.recv_async(topic, timeout_seconds=timeout)
        if isinstance(message, Mapping) and message.get("decision") in ("approved", "rejected"):
            decision = str(message["decision"])
            self.now = max(self.now, _epoch(message.get("at")))  # the message is checkpointed: replays agree
            output = {
                "decision": decision,
                "approved": decision == "approved",
                "actor": message.get("actor"),
                "reason": message.get("reason"),
                "at": message.get("at"),
            }
        else:
            self.now += timeout
            output = {
                "decision": "timed_out",
                "approved": step.on_timeout == "approve",
                "actor": None,
                "reason": f"no decision within {step.timeout or '24h'}",
                "at": self._at().isoformat(),
            }
        await self._put(
            path,
            index,
            status="completed",
            output=output,
            completed_at=datetime.now(UTC),
        )
        return Outcome("completed", output=output)

    async def _wait(self, step: WaitStep, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        if step.duration is not None:
            seconds = parse_duration(step.duration).total_seconds()
        else:
            moment = self._render(step.until, scope, "until")
            try:
                when = datetime.fromisoformat(str(moment))
            except ValueError:
                return await self._failed(path, index, f"until: {str(moment)[:80]!r} is not an ISO 8601 time")
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            seconds = max(when.timestamp() - self.now, 0.0)
        if self.deadline_at is not None and self.now + seconds > self.deadline_at:
            return await self._failed(path, index, "the wait would pass the execution's deadline")
        await self._begin(path, index, input={"seconds": seconds})
        await self.engine.sleep(seconds)
        self.now += seconds
        output = {"waited_seconds": seconds}
        return await self._completed(path, index, output)

    # -- sub-workflow --

    async def _subworkflow(self, step: WorkflowStep, path: str, index: int, scope: dict[str, Any]) -> Outcome:
        inputs = self._render(step.inputs, scope, "inputs")
        await self._begin(path, index, input={"workflow": step.workflow, "version": step.version, "inputs": inputs})
        created = await DBOS.run_step_async(
            {"name": f"{path}#start"},
            self.engine.create_child,
            self.execution_id,
            path,
            step.workflow,
            step.version,
            inputs,
        )
        if not created["ok"]:
            return await self._failed(path, index, created["error"])
        with SetWorkflowID(created["execution_id"]):
            handle = await DBOS.start_workflow_async(_execution_workflow, created["execution_id"])
        result = await handle.get_result(polling_interval_sec=_POLL)
        self.now = max(self.now, float(result.get("now") or 0))
        finished = self._at()
        if result["status"] != "completed":
            error = f"{step.workflow} {created['version']} ({created['execution_id']}) failed: {result['error']}"
            await self._put(path, index, status="failed", error=error, completed_at=finished)
            return Outcome("failed", error=error)
        await self._put(path, index, status="completed", output=result["outputs"], completed_at=finished)
        return Outcome("completed", output=result["outputs"])


class _Stopping(BaseException):
    """Raised by a call that ended while the process stops: DBOS records only ``Exception`` outcomes, so the
    attempt is not checkpointed (its outcome may be the stop itself) and the worker that takes the execution
    up makes the call again, with the same idempotency key."""


class _ExpressionFailed(Exception):
    """An expression failed at run time (a type error JMESPath found, say): the step fails."""


def _storable(value: Any) -> Any:
    """``value`` with NUL characters and unpaired surrogates (which no database column takes) replaced by
    U+FFFD: a foreign server's answer must not make the checkpoint or the read model fail."""
    if isinstance(value, str):
        if "\x00" not in value and not any("\ud800" <= char <= "\udfff" for char in value):
            return value
        return "".join("\ufffd" if char == "\x00" or "\ud800" <= char <= "\udfff" else char for char in value)
    if isinstance(value, Mapping):
        return {_storable(str(key)): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def _epoch(moment: Any) -> float:
    """An ISO 8601 moment as epoch seconds (0 when it is not one)."""
    try:
        parsed = datetime.fromisoformat(str(moment))
    except ValueError:
        return 0.0
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _copy(scope: Mapping[str, Any]) -> dict[str, Any]:
    return {**scope, "steps": dict(scope["steps"])}


def _ids(steps: Sequence[Step]) -> set[str]:
    return {step.id for step in steps}


def _ordered(steps: Sequence[Step]) -> list[Step]:
    """The steps in an order that respects ``needs`` (omitted: after the previous step), otherwise the list's
    order. Validation refused cycles and unknown names."""
    after: dict[str, set[str]] = {}
    for position, step in enumerate(steps):
        if step.needs is None:
            after[step.id] = {steps[position - 1].id} if position else set()
        else:
            after[step.id] = set(step.needs)
    done: set[str] = set()
    order: list[Step] = []
    remaining = list(steps)
    while remaining:
        ready = next((step for step in remaining if after[step.id] <= done), remaining[0])
        remaining.remove(ready)
        done.add(ready.id)
        order.append(ready)
    return order


def _wave(order: Sequence[Step], position: int, finished: set[str]) -> list[Step]:
    """The steps from ``position`` on that can run at once: each says what it ``needs`` (so it does not wait
    for the step before it), all of it is finished, and none jumps (a switch or ``on_error: goto`` runs alone)."""
    wave: list[Step] = []
    for step in order[position:]:
        alone = step.needs is None or isinstance(step, SwitchStep) or isinstance(step.on_error, Goto)
        if alone or not set(step.needs or ()) <= finished:
            break
        wave.append(step)
    return wave


def _block_of(workflow: Workflow, owner: str, branch: str | None) -> Sequence[Step]:
    """The step list of the parallel branch ``branch`` of step ``owner`` (or of map ``owner``'s steps), or
    for ``@<id>`` the step ``id`` alone (run at the same time as its siblings)."""
    alone = owner.startswith("@")
    owner = owner.removeprefix("@")
    stack: list[Step] = list(workflow.steps)
    while stack:
        step = stack.pop()
        if step.id == owner and alone:
            return [step]
        if step.id == owner:
            if isinstance(step, ParallelStep) and branch is not None:
                return step.branches[branch]
            if isinstance(step, MapStep | LoopStep):
                return step.steps
        if isinstance(step, ParallelStep):
            for steps in step.branches.values():
                stack += steps
        elif isinstance(step, MapStep | LoopStep):
            stack += step.steps
    raise NotFound(f"step {owner} is not in the workflow {workflow.metadata.name} {workflow.metadata.version}")


def check_inputs(workflow: Workflow, inputs: Any) -> dict[str, Any]:
    """``inputs`` checked against the workflow's ``inputs`` schema, with the defaults of its top-level
    properties filled in; :class:`InvalidInputs` lists every problem."""
    import jsonschema

    if not isinstance(inputs, Mapping):
        raise InvalidInputs("inputs are a JSON object")
    from shared.arguments import unstorable_text

    values = dict(inputs)
    size = len(json.dumps(values, default=str))
    if size > _INPUT_BYTES:
        raise InvalidInputs(f"the inputs are {size} bytes of JSON; at most {_INPUT_BYTES} (pass a reference instead)")
    where = unstorable_text(values)
    if where is not None:
        raise InvalidInputs(f"inputs: {where} holds a NUL character or an unpaired surrogate, which cannot be stored")
    schema = workflow.inputs
    if not schema:
        return values
    for name, spec in (schema.get("properties") or {}).items():
        if name not in values and isinstance(spec, Mapping) and "default" in spec:
            values[name] = spec["default"]
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path))
    if problems:
        lines = [f"{'.'.join(map(str, p.absolute_path)) or '(inputs)'}: {p.message[:300]}" for p in problems[:20]]
        raise InvalidInputs("the inputs do not fit the workflow's inputs schema: " + "; ".join(lines))
    return values
