"""The workflow engine's overhead per step and its throughput with one and two workers.

    uv run python bench/workflow_engine.py [--steps 50] [--rounds 5] [--executions 60] [--throughput-rounds 2]
        [--worker-executions 32] [--parts overhead,throughput] [--no-postgres] [--postgres-url URL]

**Overhead** (SQLite, then PostgreSQL): a workflow of ``--steps`` tool steps, each calling ``echo(n)`` on a
trivial ``MCPServer`` in this process (``bench``), against the same calls made directly through the same
``ClientPool`` (``pool.call``, with a ``_meta`` like the engine's). The engine runs in this process, local mode
(DBOS is one instance per process: one launch per database, reused by every round). After one unmeasured run
of each side, ``--rounds`` rounds, the order of the two sides flipping every round. A workflow run is timed
from ``engine.start`` until its DBOS workflow has recorded its result (every checkpoint and read-model write is
in), not through ``engine.result``, whose DBOS handle polls every 100 ms (that wait is reported apart).
Reported, as medians of the rounds: direct ms per call, workflow ms per step, engine overhead ms per step
((workflow - direct) / steps) and workflow / direct. Then ``--split-runs`` more runs, instrumented, split a
step's time: read-model writes, DBOS's checkpoint write and replay read (DBOS internals, wrapped), the tool
call, and the rest (interpreter, thread hops, start and end).

**Throughput** (PostgreSQL only): ``afu9 worker`` processes (the console script beside this interpreter) on a
fresh database, each calling the factory server over stdio (an ``mcp.json`` in a temporary folder; the server
inherits the worker's ``AFU9_*`` settings), run a workflow of three read-only ``list_kpis`` steps. Per round:
start 1 or 2 workers and wait for their "running" line, warm each up (it opens its factory session), then
enqueue ``--executions`` executions from this process (a local-mode engine) and time from the first enqueue to
the last ``completed_at`` in ``workflow_executions``. Rounds alternate 1 worker, 2, 2, 1, ... Reported per
round: executions per second, the share of each worker, how busy the CPUs were and the CPU per execution of
each process group (from ``/proc``); then the medians, 2 workers / 1 worker, and the machine's ceiling (CPUs /
CPU per execution): on a small machine it says whether the target can be met at all.

Targets: engine overhead per step at most **10 ms** on SQLite; 2 workers at least **1.6x** the throughput of 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import inspect
import json
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import REPO, base_env, cpu_seconds, die_with_parent, kill, write_result

OVERHEAD_TARGET_MS = 10.0  # engine overhead per step on SQLite
SCALING_TARGET = 1.6  # throughput of 2 workers / 1 worker
DEFAULT_POSTGRES = os.environ.get("AFU9_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
AFU9 = Path(sys.executable).parent / "afu9"
_TICK = os.sysconf("SC_CLK_TCK")
_RESULT_POLL = 0.002  # seconds between DBOS status reads once the workflow function has returned


# --- the trivial server ---------------------------------------------------------------------------------------


def echo_server() -> Any:
    """An MCP server with one tool that does nothing: what the engine adds is all there is to see."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bench")

    @server.tool()
    async def echo(n: int) -> dict[str, Any]:  # pyright: ignore[reportUnusedFunction]
        """Answer with n."""
        return {"n": n}

    return server


def overhead_document(steps: int) -> dict[str, Any]:
    return {
        "apiVersion": "orchestrator/v1",
        "kind": "Workflow",
        "metadata": {"name": "bench-echo", "version": "1.0.0"},
        "steps": [
            {"id": f"s{i}", "type": "tool", "server": "bench", "tool": "echo", "arguments": {"n": i}}
            for i in range(steps)
        ],
    }


def throughput_document() -> dict[str, Any]:
    def look(step_id: str) -> dict[str, Any]:
        return {"id": step_id, "type": "tool", "server": "factory", "tool": "list_kpis", "arguments": {"limit": 1}}

    return {
        "apiVersion": "orchestrator/v1",
        "kind": "Workflow",
        "metadata": {"name": "bench-throughput", "version": "1.0.0"},
        "steps": [look("a"), look("b"), look("c")],
    }


# --- PostgreSQL -------------------------------------------------------------------------------------------------


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _admin(admin_url: str, statement: str) -> None:
    import asyncpg  # pyright: ignore[reportMissingTypeStubs]

    connection = await asyncpg.connect(_dsn(admin_url), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def postgres_reachable(admin_url: str) -> str | None:
    """None when PostgreSQL answers at ``admin_url``, else why not."""
    try:
        await _admin(admin_url, "SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means: skip PostgreSQL, say why
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None


@contextlib.asynccontextmanager
async def fresh_database(admin_url: str) -> AsyncIterator[str]:
    """A new empty database (its URL), dropped at the end however the block ends."""
    name = f"afu9_bench_{uuid.uuid4().hex[:12]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with contextlib.suppress(Exception):
            await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the engine in this process ----------------------------------------------------------------------------------


def _timed_engine_class() -> type[Any]:
    from orchestrator.engine import Engine

    class TimedEngine(Engine):
        """The engine, noting when each execution's workflow function has returned (bench only: the workflow
        then has one DBOS write left, its result, which the timing waits for through a fast-polling handle)."""

        returned: dict[str, float]
        changed: asyncio.Event

        async def run_execution(self, execution_id: str) -> dict[str, Any]:
            try:
                return await super().run_execution(execution_id)
            finally:
                self.returned[execution_id] = time.perf_counter()
                self.changed.set()

    return TimedEngine


@contextlib.asynccontextmanager
async def local_engine(database_url: str, data_dir: Path, servers: dict[str, Any]) -> AsyncIterator[Any]:
    """An engine launched in this process (local mode: it dequeues nothing) calling ``servers`` in-process."""
    from orchestrator.clients import ClientPool
    from orchestrator.definitions import Definitions
    from orchestrator.engine import EngineOptions, dbos_url
    from orchestrator.schema import MIGRATIONS
    from shared.db import KIT_MIGRATIONS, Database

    database = Database(database_url, migrations=(KIT_MIGRATIONS, MIGRATIONS))
    options = EngineOptions(
        executor_id=f"bench-{uuid.uuid4().hex[:8]}",
        mode="local",
        system_database_url=dbos_url(database_url, data_dir),
    )
    try:
        async with ClientPool({}, in_process=servers) as pool:
            engine = _timed_engine_class()(database, pool, Definitions(database), options)
            engine.returned = {}
            engine.changed = asyncio.Event()
            async with engine:
                yield engine
    finally:
        await database.aclose()


async def publish(engine: Any, document: dict[str, Any]) -> Any:
    from orchestrator.definitions import Definitions
    from orchestrator.documents import prepare

    return (await Definitions(engine.database).publish(prepare(document))).workflow


async def run_workflow(engine: Any, stored: Any) -> tuple[float, str]:
    """Seconds from ``engine.start`` until the DBOS workflow has recorded its result; the execution id."""
    from dbos import DBOS

    started = time.perf_counter()
    execution_id = await engine.start(stored, {}, triggered_by="bench")
    while execution_id not in engine.returned:
        engine.changed.clear()
        await engine.changed.wait()
    handle = await DBOS.retrieve_workflow_async(execution_id)
    result = await handle.get_result(polling_interval_sec=_RESULT_POLL)
    elapsed = time.perf_counter() - started
    if result.get("status") != "completed":
        raise RuntimeError(f"execution {execution_id} ended {result.get('status')}: {result.get('error')}")
    return elapsed, execution_id


async def run_direct(pool: Any, steps: int) -> float:
    """Seconds for the workflow's calls made one after the other straight through the pool."""
    execution = str(uuid.uuid4())
    started = time.perf_counter()
    for i in range(steps):
        meta = {"afu9/execution_id": execution, "afu9/step_id": str(uuid.uuid4())}
        outcome = await pool.call("bench", "echo", {"n": i}, meta=meta)
        if not outcome.ok or outcome.result != {"n": i}:
            raise RuntimeError(f"direct call {i}: {outcome}")
    return time.perf_counter() - started


@dataclass
class Split:
    """Where instrumented workflow runs spent their time (seconds and calls, summed per part)."""

    calls: dict[str, int] = field(default_factory=dict[str, int])
    seconds: dict[str, float] = field(default_factory=dict[str, float])

    def _add(self, what: str, started: float) -> None:
        self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - started
        self.calls[what] = self.calls.get(what, 0) + 1

    def wrap(self, what: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self._add(what, started)

            return timed_async

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:  # DBOS's system database calls run in a worker thread
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._add(what, started)

        return timed


READ_MODEL = "read-model writes (2 per step)"
CHECKPOINT_WRITE = "DBOS step checkpoint write"
CHECKPOINT_READ = "DBOS step checkpoint read (replay check)"
TOOL_CALL = "tool call (inside its DBOS step)"
REST = "the rest (interpreter, thread hops, start and end)"


def _dbos_system_database() -> Any:
    """DBOS's system database object of this process (a private attribute: None if DBOS moved it)."""
    with contextlib.suppress(Exception):
        from dbos._dbos import _get_dbos_instance  # pyright: ignore[reportPrivateUsage]

        return _get_dbos_instance()._sys_db  # pyright: ignore[reportPrivateUsage]
    return None


async def instrumented_runs(engine: Any, stored: Any, steps: int, runs: int) -> dict[str, Any]:
    """More workflow runs (not among the measured ones) with their parts timed: the read-model writes, DBOS's
    checkpoint write and replay read of each step (DBOS internals, skipped if they moved) and the tool calls."""
    split = Split()
    readmodel, system = engine.readmodel, _dbos_system_database()
    patched: dict[tuple[Any, str], str] = {
        (readmodel, "put_step"): READ_MODEL,
        (readmodel, "set_execution"): READ_MODEL,
        (readmodel, "create_execution"): READ_MODEL,
        (engine, "call_tool"): TOOL_CALL,
    }
    for name, what in (("record_operation_result", CHECKPOINT_WRITE), ("check_operation_execution", CHECKPOINT_READ)):
        if system is not None and callable(getattr(system, name, None)):
            patched[(system, name)] = what
    for (owner, name), what in patched.items():
        setattr(owner, name, split.wrap(what, getattr(owner, name)))
    total = 0.0
    try:
        for _ in range(runs):
            gc.collect()
            total += (await run_workflow(engine, stored))[0]
    finally:
        for owner, name in patched:
            delattr(owner, name)  # back to the class's method
    per_step = steps * runs
    parts = {what: split.seconds.get(what, 0.0) * 1000 / per_step for what in dict.fromkeys(patched.values())}
    parts[REST] = total * 1000 / per_step - sum(parts.values())
    return {
        "runs": runs,
        "workflow_ms_per_step": total * 1000 / per_step,
        "ms_per_step": parts,
        "calls_per_step": {what: count / per_step for what, count in split.calls.items()},
    }


def sqlite_journal_modes(data_dir: Path) -> dict[str, str]:
    """The journal mode of the suite's SQLite file and of DBOS's (read-only)."""
    modes: dict[str, str] = {}
    for name in ("afu9.db", "afu9-dbos.sqlite"):
        with (
            contextlib.suppress(sqlite3.Error),
            contextlib.closing(sqlite3.connect(f"file:{data_dir / name}?mode=ro", uri=True, timeout=5)) as connection,
        ):
            modes[name] = str(connection.execute("PRAGMA journal_mode").fetchone()[0])
    return modes


async def overhead(name: str, database_url: str, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    async with local_engine(database_url, data_dir, {"bench": echo_server()}) as engine:
        stored = await publish(engine, overhead_document(args.steps))
        # Warm-up: the session to the server, the engine's first-run paths, both databases' caches.
        await run_direct(engine.pool, args.steps)
        await run_workflow(engine, stored)
        # What a caller of engine.result waits for on top (its DBOS handle polls every 100 ms).
        started = time.perf_counter()
        execution_id = await engine.start(stored, {}, triggered_by="bench")
        polled = await engine.result(execution_id)
        via_result = time.perf_counter() - started
        if polled.get("status") != "completed":
            raise RuntimeError(f"execution {execution_id} ended {polled}")
        returned_after = engine.returned[execution_id] - started

        direct: list[float] = []
        workflow: list[float] = []
        for round_ in range(args.rounds):
            order = ("workflow", "direct") if round_ % 2 == 0 else ("direct", "workflow")
            for side in order:
                gc.collect()
                if side == "direct":
                    direct.append(await run_direct(engine.pool, args.steps))
                else:
                    workflow.append((await run_workflow(engine, stored))[0])
        split = await instrumented_runs(engine, stored, args.steps, args.split_runs)
    steps = args.steps
    per_round = [
        {
            "direct_ms_per_call": d * 1000 / steps,
            "workflow_ms_per_step": w * 1000 / steps,
            "overhead_ms_per_step": (w - d) * 1000 / steps,
            "ratio": w / d,
        }
        for d, w in zip(direct, workflow, strict=True)
    ]
    result: dict[str, Any] = {
        key: statistics.median(r[key] for r in per_round)
        for key in ("direct_ms_per_call", "workflow_ms_per_step", "overhead_ms_per_step", "ratio")
    }
    if name == "sqlite":
        result["journal_modes"] = sqlite_journal_modes(data_dir)
    result.update(
        database=name,
        steps=steps,
        rounds=per_round,
        split=split,
        engine_result_wait_ms={"engine.result": via_result * 1000, "workflow function returned": returned_after * 1000},
    )
    return result


# --- throughput: worker processes --------------------------------------------------------------------------------


@dataclass
class Worker:
    worker_id: str
    process: asyncio.subprocess.Process
    log: Path

    def stderr(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


async def start_worker(worker_id: str, env: dict[str, str], root: Path, executions: int) -> Worker:
    log = root / f"{worker_id}.stderr"
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(AFU9),
            "worker",
            "--id",
            worker_id,
            "--executions",
            str(executions),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            cwd=REPO,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    return Worker(worker_id, process, log)


async def wait_running(worker: Worker, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while f"afu9 worker {worker.worker_id}: running" not in worker.stderr():
        if worker.process.returncode is not None:
            raise RuntimeError(f"worker {worker.worker_id} exited with {worker.process.returncode}:\n{worker.stderr()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker {worker.worker_id} not running after {timeout:.0f}s:\n{worker.stderr()}")
        await asyncio.sleep(0.05)


async def stop_worker(worker: Worker, grace: float = 15) -> None:
    """SIGTERM (the worker stops its engine), SIGKILL to its process group past ``grace`` seconds."""
    if worker.process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await worker.process.wait()
    kill(worker.process)  # the group: also the factory server it started, if it outlived the worker
    with contextlib.suppress(TimeoutError, ProcessLookupError):
        async with asyncio.timeout(5):
            await worker.process.wait()


async def _rows(engine: Any, tag: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    query = sa.text(
        "SELECT status, executor_id, completed_at FROM workflow_executions WHERE triggered_by = :tag"
    ).bindparams(tag=tag)
    async with engine.database.connect() as connection:
        return [dict(row._mapping) for row in (await connection.execute(query)).all()]


async def wait_done(
    engine: Any, tag: str, count: int, workers: Sequence[Worker], timeout: float
) -> list[dict[str, Any]]:
    """The rows of the ``count`` executions tagged ``tag`` once all are completed (polled every 50 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await _rows(engine, tag)
        if bad := [row for row in rows if row["status"] in ("failed", "cancelled")]:
            raise RuntimeError(f"{len(bad)} executions of {tag} did not complete: {bad[0]}")
        if sum(row["status"] == "completed" for row in rows) >= count:
            return rows
        for worker in workers:
            if worker.process.returncode is not None:
                raise RuntimeError(f"worker {worker.worker_id} exited:\n{worker.stderr()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{tag}: {len(rows)} rows, not all completed after {timeout:.0f}s")
        await asyncio.sleep(0.05)


async def enqueue(engine: Any, stored: Any, count: int, tag: str) -> None:
    for _ in range(count):
        await engine.start(stored, {}, triggered_by=tag, enqueue=True)


async def throughput_round(
    engine: Any, stored: Any, workers: int, number: int, env: dict[str, str], root: Path, args: argparse.Namespace
) -> dict[str, Any]:
    running: list[Worker] = []
    try:
        for index in range(workers):
            running.append(await start_worker(f"bench-r{number}-w{index + 1}", env, root, args.worker_executions))
        for worker in running:
            await wait_running(worker)
        # Warm-up until every worker has completed an execution: it has opened its session to the factory server
        # (a process start of ~1 s, not what this measures). A worker takes up to its limit per poll, so a batch
        # of a full limit per worker leaves some for each.
        warmed: set[str] = set()
        for attempt in range(1, 6):
            tag = f"bench-r{number}-warm{attempt}"
            count = min(args.worker_executions, 8) * workers
            await enqueue(engine, stored, count, tag)
            warmed |= {row["executor_id"] for row in await wait_done(engine, tag, count, running, args.phase_timeout)}
            if warmed >= {worker.worker_id for worker in running}:
                break
        else:
            raise RuntimeError(f"round {number + 1}: the warm-up reached only {sorted(warmed)}")
        gc.collect()
        tag = f"bench-r{number}"
        before = await CpuSnapshot.take(engine, running)
        started = datetime.now(UTC)
        await enqueue(engine, stored, args.executions, tag)
        enqueued = (datetime.now(UTC) - started).total_seconds()
        rows = await wait_done(engine, tag, args.executions, running, args.phase_timeout)
        cpu = (await CpuSnapshot.take(engine, running)).since(before)
    finally:
        for worker in running:
            await stop_worker(worker)
    last = max(_aware(row["completed_at"]) for row in rows)
    seconds = (last - started).total_seconds()
    shares = {worker.worker_id: sum(row["executor_id"] == worker.worker_id for row in rows) for worker in running}
    cpu_ms = {group: used * 1000 / len(rows) for group, used in cpu["cpu_seconds"].items()}
    return {
        "workers": workers,
        "executions": len(rows),
        "seconds": seconds,
        "per_s": len(rows) / seconds,
        "enqueue_seconds": enqueued,
        "per_worker": shares,
        "machine_busy": cpu["machine_busy"],
        "cpu_ms_per_execution": cpu_ms,
        "pipeline_cpu_ms_per_execution": sum(cpu_ms[group] for group in PIPELINE),
    }


WORKERS, SERVERS, POSTGRES, BENCH, OTHERS = (
    "workers",
    "their factory servers",
    "PostgreSQL (this database's backends and its background processes)",
    "this process (enqueueing, polling)",
    "everything else on the machine",
)
PIPELINE = (WORKERS, SERVERS, POSTGRES, BENCH)


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from ``/proc/stat`` (idle and iowait are idle)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    total = sum(ticks[:8])  # guest time is already counted in user
    return (total - ticks[3] - ticks[4]) / _TICK, total / _TICK


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _cpu(pids: Sequence[int]) -> dict[int, float]:
    """CPU seconds of each of ``pids`` still there (a remote PostgreSQL's pids are not: they count 0)."""
    found: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            found[pid] = cpu_seconds(pid)
    return found


async def _postgres_pids(engine: Any) -> list[int]:
    """The server processes of this database's connections and PostgreSQL's own background processes (the WAL
    writer flushes every commit), not the backends of other databases (other people's tests, on a shared box)."""
    import sqlalchemy as sa

    query = sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL")
    async with engine.database.connect() as connection:
        return [int(row.pid) for row in (await connection.execute(query)).all()]


@dataclass
class CpuSnapshot:
    """CPU seconds used so far: by the whole machine, and by the processes of each group."""

    busy: float
    total: float
    groups: dict[str, dict[int, float]]

    @classmethod
    async def take(cls, engine: Any, workers: Sequence[Worker]) -> CpuSnapshot:
        worker_pids = [worker.process.pid for worker in workers]
        postgres = await _postgres_pids(engine)
        groups = {
            WORKERS: _cpu(worker_pids),
            SERVERS: _cpu([child for pid in worker_pids for child in _children(pid)]),
            POSTGRES: _cpu(postgres),
            BENCH: _cpu([os.getpid()]),
        }
        busy, total = _machine_cpu()
        return cls(busy, total, groups)

    def since(self, before: CpuSnapshot) -> dict[str, Any]:
        """What was used between ``before`` and this snapshot (a process born in between counts from 0)."""
        used = {
            group: sum(seconds - before.groups[group].get(pid, 0.0) for pid, seconds in pids.items())
            for group, pids in self.groups.items()
        }
        busy = self.busy - before.busy
        used[OTHERS] = max(busy - sum(used.values()), 0.0)
        return {"machine_busy": busy / (self.total - before.total), "cpu_seconds": used}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def write_mcp_config(root: Path) -> Path:
    """An mcp.json whose factory server the workers start over stdio with this interpreter."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "mcp.json"
    factory = {"type": "stdio", "command": sys.executable, "args": ["-m", "servers.factory"]}
    config.write_text(json.dumps({"mcpServers": {"afu9-factory": factory}}))
    return config


async def throughput(database_url: str, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    config = write_mcp_config(root)
    env = base_env(
        AFU9_DATABASE_URL=database_url,
        AFU9_DATA_DIR=str(root),
        AFU9_MCP_CONFIG=str(config),
        PYTHONUNBUFFERED="1",
    )
    rounds: list[dict[str, Any]] = []
    async with local_engine(database_url, root, {}) as engine:
        stored = await publish(engine, throughput_document())
        for number in range(args.throughput_rounds * 2):
            workers = (1, 2, 2, 1)[number % 4]
            r = await throughput_round(engine, stored, workers, number, env, root, args)
            rounds.append(r)
            cpu = r["cpu_ms_per_execution"]
            print(
                f"  {number + 1:>5} {workers:>7} {r['per_s']:>12.1f} {r['seconds']:>7.2f} s "
                f"{'/'.join(str(n) for n in r['per_worker'].values()):>9} {r['machine_busy']:>8.0%} "
                f"{r['pipeline_cpu_ms_per_execution']:>6.0f} ms = {cpu[WORKERS]:.0f} + {cpu[SERVERS]:.0f} + "
                f"{cpu[POSTGRES]:.0f} + {cpu[BENCH]:.0f} {cpu[OTHERS]:>8.0f} ms",
                flush=True,
            )
    one = [r for r in rounds if r["workers"] == 1]
    two = [r for r in rounds if r["workers"] == 2]
    one_rate = statistics.median(r["per_s"] for r in one)
    two_rate = statistics.median(r["per_s"] for r in two)
    cpus = os.cpu_count() or 1
    two_cpu_ms = statistics.median(r["pipeline_cpu_ms_per_execution"] for r in two)
    ratio = two_rate / one_rate
    return {
        "rounds": rounds,
        "one_worker_per_s": one_rate,
        "two_workers_per_s": two_rate,
        "ratio": ratio,
        "ratio_per_pair": [b["per_s"] / a["per_s"] for a, b in zip(one, two, strict=True)],
        "cpus": cpus,
        # With nothing else running, the machine completes at most cpus / (CPU per execution) executions a second.
        "machine_ceiling_per_s": cpus * 1000 / two_cpu_ms,
        "ceiling_over_one_worker": cpus * 1000 / two_cpu_ms / one_rate,
        "cpus_the_target_needs": SCALING_TARGET * one_rate * two_cpu_ms / 1000,
        "target_met": ratio >= SCALING_TARGET,
    }


# --- report ------------------------------------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report_overhead(results: dict[str, dict[str, Any]], steps: int) -> None:
    print(
        f"\n  {'database':<10} {'direct/call':>11} {'workflow/step':>13} {'overhead/step':>13} {'workflow/direct':>15}"
    )
    for name, r in results.items():
        print(
            f"  {name:<10} {r['direct_ms_per_call']:>8.2f} ms {r['workflow_ms_per_step']:>10.2f} ms "
            f"{r['overhead_ms_per_step']:>10.2f} ms {r['ratio']:>14.1f}x"
        )
    print(f"  (medians of the rounds; overhead = (workflow - direct) / {steps} steps)")
    for name, r in results.items():
        per_round = ", ".join(f"{x['overhead_ms_per_step']:.2f}" for x in r["rounds"])
        print(f"  {name}: overhead per step, round by round: {per_round} ms")
    first = next(iter(results.values()))
    runs = first["split"]["runs"]
    plural = "s" if runs > 1 else ""
    print(f"\n  where a workflow step's time goes ({runs} more run{plural}, instrumented; ms per step):")
    width = max(len(what) for what in [*first["split"]["ms_per_step"], "total"]) + 2
    print("  " + " " * width + "".join(f"{name:>12}" for name in results))
    for what in first["split"]["ms_per_step"]:
        figures = "".join(f"{r['split']['ms_per_step'].get(what, 0.0):>12.2f}" for r in results.values())
        print(f"  {what:<{width}}{figures}")
    totals = "".join(f"{r['split']['workflow_ms_per_step']:>12.2f}" for r in results.values())
    print(f"  {'total':<{width}}{totals}")
    if modes := results.get("sqlite", {}).get("journal_modes"):
        print("  SQLite journal modes: " + ", ".join(f"{name} {mode}" for name, mode in modes.items()))
    for name, r in results.items():
        wait = r["engine_result_wait_ms"]
        print(
            f"  {name}: engine.start + engine.result took {wait['engine.result']:.0f} ms for a run whose workflow "
            f"function returned after {wait['workflow function returned']:.0f} ms (the handle polls every 100 ms)"
        )


def report_throughput(t: dict[str, Any]) -> None:
    pairs = ", ".join(f"{ratio:.2f}x" for ratio in t["ratio_per_pair"])
    print(
        f"  median: 1 worker {t['one_worker_per_s']:.1f}/s, 2 workers {t['two_workers_per_s']:.1f}/s; "
        f"2 workers / 1 worker {t['ratio']:.2f}x (per pair of rounds {pairs})"
    )
    print(
        f"  ceiling of this machine with nothing else running: {t['cpus']} CPUs / pipeline CPU per execution = "
        f"{t['machine_ceiling_per_s']:.1f}/s, {t['ceiling_over_one_worker']:.2f}x one worker's rate; 1.6x one "
        f"worker needs {t['cpus_the_target_needs']:.1f} CPUs"
    )
    print(f"  target: 2 workers >= {SCALING_TARGET:.1f}x 1 worker: {_verdict(t['target_met'])}")


async def overhead_part(result: dict[str, Any], root: Path, args: argparse.Namespace) -> None:
    print(
        f"engine overhead: a workflow of {args.steps} tool steps (echo on an in-process MCPServer) vs the "
        f"same {args.steps} calls through the same ClientPool; {args.rounds} alternating rounds after a "
        "warm-up",
        flush=True,
    )
    sqlite_dir = root / "sqlite"
    sqlite_dir.mkdir()
    sqlite_url = f"sqlite+aiosqlite:///{(sqlite_dir / 'afu9.db').as_posix()}"
    result["overhead"]["sqlite"] = await overhead("sqlite", sqlite_url, sqlite_dir, args)
    if result["postgres"] == "used":
        async with fresh_database(args.postgres_url) as url:
            result["overhead"]["postgresql"] = await overhead("postgresql", url, root / "pg", args)
    report_overhead(result["overhead"], args.steps)
    sqlite_overhead = result["overhead"]["sqlite"]["overhead_ms_per_step"]
    print(
        f"  target: engine overhead per step <= {OVERHEAD_TARGET_MS:.0f} ms on SQLite "
        f"({sqlite_overhead:.2f} ms): {_verdict(sqlite_overhead <= OVERHEAD_TARGET_MS)}"
    )


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # workers die in finally
    result: dict[str, Any] = {"overhead": {}, "throughput": None, "postgres": None}
    with tempfile.TemporaryDirectory(prefix="afu9-bench-engine-") as tmp:
        root = Path(tmp)
        async with asyncio.timeout(args.timeout):
            if args.no_postgres:
                result["postgres"] = "skipped (--no-postgres)"
            elif (why := await postgres_reachable(args.postgres_url)) is not None:
                result["postgres"] = f"skipped: cannot reach {args.postgres_url.rsplit('@', 1)[-1]} ({why})"
            else:
                result["postgres"] = "used"
            if "overhead" in args.parts:
                await overhead_part(result, root, args)
            if "throughput" not in args.parts:
                return result
            if result["postgres"] != "used":
                print(f"\nthroughput: PostgreSQL {result['postgres']}")
                return result
            print(
                f"\nthroughput on PostgreSQL: {args.executions} executions of a 3-step workflow (factory list_kpis "
                f"over stdio) per round, afu9 worker --executions {args.worker_executions}, rounds alternating; "
                f"{os.cpu_count()} CPUs for everything\n"
                f"  {'round':>5} {'workers':>7} {'executions/s':>12} {'window':>9} {'per worker':>10} {'CPUs busy':>9} "
                "pipeline CPU per execution = workers + their servers + PostgreSQL + this process; "
                "the rest of the machine",
                flush=True,
            )
            try:
                async with fresh_database(args.postgres_url) as url:
                    result["throughput"] = await throughput(url, root / "workers", args)
            except Exception:
                for log in sorted((root / "workers").glob("*.stderr")):
                    sys.stderr.write(f"--- {log.name} (last lines)\n")
                    sys.stderr.write("\n".join(log.read_text(errors="replace").splitlines()[-20:]) + "\n")
                raise
            report_throughput(result["throughput"])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50, help="tool steps of the overhead workflow (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating overhead rounds (default 5)")
    parser.add_argument("--executions", type=int, default=60, help="executions per throughput round (default 60)")
    parser.add_argument(
        "--throughput-rounds", type=int, default=2, help="rounds of each worker count, alternating (default 2)"
    )
    parser.add_argument(
        "--worker-executions",
        type=int,
        default=32,
        help="afu9 worker --executions for each worker (default 32: one worker is not held back by its limit)",
    )
    parser.add_argument("--split-runs", type=int, default=3, help="instrumented overhead runs per database (default 3)")
    parser.add_argument(
        "--parts", default="overhead,throughput", help="what to measure, comma-separated (default: both)"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite overhead only")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="a PostgreSQL database to create (and drop) the bench's databases from "
        "(default: AFU9_TEST_POSTGRES_URL or postgresql+asyncpg://postgres@127.0.0.1:5432/postgres)",
    )
    parser.add_argument("--phase-timeout", type=float, default=120, help="seconds a batch of executions may take")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before the whole run is abandoned")
    args = parser.parse_args(argv)
    args.parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    if unknown := set(args.parts) - {"overhead", "throughput"}:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    from shared.logs import configure_logging

    configure_logging("WARNING")  # as afu9's commands do: migrations and sessions opening say nothing
    if (
        min(args.steps, args.rounds, args.executions, args.throughput_rounds, args.worker_executions, args.split_runs)
        < 1
    ):
        parser.error("counts (--steps, --rounds, --executions, ...) must be at least 1")
    result = asyncio.run(amain(args))
    overhead_met = (
        result["overhead"]["sqlite"]["overhead_ms_per_step"] <= OVERHEAD_TARGET_MS if result["overhead"] else None
    )
    throughput_met = result["throughput"]["target_met"] if result["throughput"] else None
    settings = {k: v for k, v in vars(args).items() if k != "postgres_url"}
    path = write_result(
        "workflow_engine",
        {
            "settings": settings,
            "targets": {"overhead_ms_per_step_sqlite": OVERHEAD_TARGET_MS, "two_over_one_worker": SCALING_TARGET},
            **result,
            "verdicts": {"overhead_sqlite": overhead_met, "two_workers_scaling": throughput_met},
        },
    )
    print(f"\nresult: {path.relative_to(REPO)}")
    return 0 if overhead_met is not False and throughput_met is not False else 1


if __name__ == "__main__":
    raise SystemExit(main())
