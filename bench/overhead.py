"""The kit's overhead per call: one trivial tool through the kit vs the same tool on a bare SDK ``MCPServer``.

    uv run python bench/overhead.py [--modes stateful,stateless,stdio] [--rounds 5] [--calls-1 200] [--calls-16 800]

Both servers run at once (bench/kit_server.py: auth, audit into SQLite, JSON logging, the write gate and
policy, Host checks, served by the kit's own runner; bench/bare_server.py: the SDK's plain app). Load goes to
one side at a time, alternating, in rounds: per round and per concurrency (1 and 16 calls in flight) each side
gets one batch, the order flipping every time. For every batch the server's CPU time is read from
/proc/<pid>/stat before and after (after the kit's audit rows for the batch are in the database, so the
audit writer's work is counted), and every call's latency is taken by the client.

Reported per mode and side: server CPU per call, calls/s, p50/p99 latency at 1 and 16 in flight, and the
kit/bare CPU ratio; then, per mode at 16 in flight, the tail: the kit's p99, its queueing floor (16 x its CPU
per call: a CPU-bound server cannot answer the 16th call in flight sooner), p99 / floor, bare's p99 and kit p99
/ bare p99. Targets, each marked met or MISSED: CPU per call <= 1.25x bare in the same mode; at 16 in flight
the kit's p99 within 1.3x its floor and not above bare's p99.

The load client is raw on purpose (harness.py): on 2 cores it shares the CPU with the server, so it must be
cheap and the same for both sides. Its GC is off during a batch so its pauses do not land in the server's
latency figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import secrets
import signal
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    INITIALIZE_PARAMS,
    PROTOCOL_VERSION,
    REPO,
    Batch,
    HttpConnection,
    PipeClient,
    base_env,
    cpu_seconds,
    die_with_parent,
    free_port,
    jsonrpc,
    kill,
    parse_mcp_response,
    percentile,
    run_batch,
    wait_for,
    write_result,
)
from trivial import TOOL_NAME

MODES = ("stateful", "stateless", "stdio")
CONCURRENCY = (1, 16)
CPU_TARGET = 1.25
TAIL_IN_FLIGHT = 16
P99_OVER_FLOOR_TARGET = 1.3  # kit p99 at 16 in flight <= 1.3 x 16 x its CPU per call
P99_OVER_BARE_TARGET = 1.0  # kit p99 at 16 in flight <= bare's p99 in the same mode
_SETTLE = 0.1  # seconds after a batch before CPU is read, for both sides


@dataclass
class Side:
    """One server under load: how to call it, its pid, and (kit) how many audit rows it has written."""

    name: str
    pid: int
    call: Callable[[int, int], Awaitable[None]]
    audit_rows: Callable[[], int] | None = None
    calls_made: int = 0
    batches: dict[int, list[Batch]] = field(default_factory=lambda: {c: [] for c in CONCURRENCY})

    async def settle(self, timeout: float = 30.0) -> None:
        await asyncio.sleep(_SETTLE)
        if self.audit_rows is not None:
            rows = self.audit_rows
            await wait_for(lambda: _true(rows() >= self.calls_made), timeout=timeout, what="the audit rows")


def _audited(name: str, env: dict[str, str]) -> bool:
    ablated = env.get("AFU9_BENCH_ABLATE", "").split(",")
    return name == "kit" and "audit" not in ablated and "audit-writer" not in ablated


async def _true(value: bool) -> bool:
    return value


def _check(message: dict[str, Any], index: int) -> None:
    result = message.get("result")
    if not isinstance(result, dict) or result.get("isError") or result["structuredContent"]["total"] != index + 1:
        raise RuntimeError(f"unexpected answer to call {index}: {message}")


def _call_params(index: int) -> dict[str, Any]:
    return {"name": TOOL_NAME, "arguments": {"a": index, "b": 1}}


def _audit_counter(database: Path) -> Callable[[], int]:
    def count() -> int:
        if not database.exists():
            return 0
        try:
            with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)) as db:
                return int(db.execute("SELECT count(*) FROM mcp_tool_calls WHERE server_name = 'bench'").fetchone()[0])
        except sqlite3.OperationalError:  # no table yet: the schema is created with the first audit write
            return 0

    return count


# --- servers ----------------------------------------------------------------------------------------------


def _argv(side: str, mode: str, port: int) -> list[str]:
    argv = [sys.executable, str(REPO / "bench" / f"{side}_server.py")]
    if mode != "stdio":
        argv += ["--transport", "http", "--port", str(port)]
    if mode == "stateless":
        argv.append("--stateless")
    return argv


@contextlib.asynccontextmanager
async def http_side(name: str, mode: str, env: dict[str, str], log: Path, token: str) -> AsyncIterator[Side]:
    port = free_port()
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            *_argv(name, mode, port),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            cwd=REPO,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {token}"}
    connections = [HttpConnection(port, dict(headers)) for _ in range(max(CONCURRENCY))]
    try:
        probe = connections[0]

        async def answers() -> bool:
            if process.returncode is not None:
                raise RuntimeError(f"{name} server exited with {process.returncode}; see {log}")
            try:
                if name == "kit":  # ready: listening, and the schema is migrated
                    status, _, _ = await probe.request("GET", "/ready")
                else:
                    status, _, _ = await probe.request("POST", "/mcp", jsonrpc(0, "ping"))
            except OSError:
                await probe.close()
                return False
            return status in (200, 400)

        await wait_for(answers, timeout=60, what=f"the {name} server to listen")
        status, response_headers, payload = await probe.request(
            "POST", "/mcp", jsonrpc(0, "initialize", INITIALIZE_PARAMS)
        )
        if status != 200:
            raise RuntimeError(f"{name}: initialize answered {status}: {payload[:300]!r}")
        session = {"mcp-protocol-version": PROTOCOL_VERSION}
        if "mcp-session-id" in response_headers:
            session["mcp-session-id"] = response_headers["mcp-session-id"]
        for connection in connections:
            connection.headers.update(session)
        status, _, payload = await probe.request("POST", "/mcp", jsonrpc(None, "notifications/initialized"))
        if status not in (200, 202):
            raise RuntimeError(f"{name}: notifications/initialized answered {status}: {payload[:300]!r}")

        async def call(worker: int, index: int) -> None:
            body = jsonrpc(index + 1, "tools/call", _call_params(index))
            status, headers_, payload = await connections[worker].request("POST", "/mcp", body)
            if status != 200:
                raise RuntimeError(f"{name}: tools/call answered {status}: {payload[:300]!r}")
            _check(parse_mcp_response(headers_, payload), index)

        audit = _audit_counter(Path(env["AFU9_DATA_DIR"]) / "afu9.db") if _audited(name, env) else None
        yield Side(name=name, pid=process.pid, call=call, audit_rows=audit)
    finally:
        for connection in connections:
            await connection.close()
        kill(process)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await process.wait()


@contextlib.asynccontextmanager
async def stdio_side(name: str, env: dict[str, str], log: Path) -> AsyncIterator[Side]:
    client = await PipeClient.spawn(_argv(name, "stdio", 0), env=env, stderr=log)
    try:
        async with asyncio.timeout(60):
            await client.initialize()

        async def call(_worker: int, index: int) -> None:
            _check(await client.request("tools/call", _call_params(index)), index)

        audit = _audit_counter(Path(env["AFU9_DATA_DIR"]) / "afu9.db") if _audited(name, env) else None
        yield Side(name=name, pid=client.process.pid, call=call, audit_rows=audit)
    finally:
        await client.close()


# --- measuring --------------------------------------------------------------------------------------------


async def measure(side: Side, *, calls: int, concurrency: int) -> Batch:
    await side.settle()
    before = cpu_seconds(side.pid)
    gc.disable()
    try:
        wall, latencies = await run_batch(side.call, calls=calls, concurrency=concurrency)
    finally:
        gc.enable()
    side.calls_made += calls
    await side.settle()
    batch = Batch(
        calls=calls, concurrency=concurrency, wall=wall, latencies=latencies, cpu=cpu_seconds(side.pid) - before
    )
    side.batches[concurrency].append(batch)
    gc.collect()
    return batch


async def run_mode(mode: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    token = secrets.token_urlsafe(24)
    env = base_env(AFU9_DATA_DIR=str(root / mode), AFU9_HTTP_TOKENS=f"bench:{token}")
    if args.ablate:
        env["AFU9_BENCH_ABLATE"] = ",".join(part for part in args.ablate if part != "auth")
    if "auth" in args.ablate:
        del env["AFU9_HTTP_TOKENS"]
    async with contextlib.AsyncExitStack() as stack:
        sides: list[Side] = []
        for name in ("bare", "kit"):
            log = root / f"{mode}-{name}.stderr"
            if mode == "stdio":
                sides.append(await stack.enter_async_context(stdio_side(name, env, log)))
            else:
                sides.append(await stack.enter_async_context(http_side(name, mode, env, log, token)))
        for side in sides:  # warm-up: first-call paths, the kit's schema and audit writer; not measured
            await measure(side, calls=args.warmup, concurrency=16)
            await measure(side, calls=args.warmup // 4, concurrency=1)
            side.batches = {c: [] for c in CONCURRENCY}
        flip = False
        for _ in range(args.rounds):
            for concurrency in CONCURRENCY:
                calls = args.calls_1 if concurrency == 1 else args.calls_16
                for side in reversed(sides) if flip else sides:
                    await measure(side, calls=calls, concurrency=concurrency)
                flip = not flip
        return summarise(sides)


def summarise(sides: Sequence[Side]) -> dict[str, Any]:
    by_name = {side.name: side for side in sides}
    result: dict[str, Any] = {}
    for concurrency in CONCURRENCY:
        level: dict[str, Any] = {}
        for side in sides:
            batches = side.batches[concurrency]
            calls = sum(b.calls for b in batches)
            latencies = [latency for b in batches for latency in b.latencies]
            level[side.name] = {
                "calls": calls,
                "cpu_us_per_call": sum(b.cpu for b in batches) / calls * 1e6,
                "calls_per_s": calls / sum(b.wall for b in batches),
                "p50_ms": percentile(latencies, 50) * 1000,
                "p99_ms": percentile(latencies, 99) * 1000,
                "max_ms": max(latencies) * 1000,
                # A CPU-bound server answers one call per CPU/call: with N in flight a call waits for the N-1
                # ahead of it, so no latency percentile can be far below N x CPU/call.
                "cpu_bound_floor_ms": concurrency * sum(b.cpu for b in batches) / calls * 1000,
                "batch_cpu_us_per_call": [b.cpu / b.calls * 1e6 for b in batches],
            }
        kit, bare = by_name["kit"].batches[concurrency], by_name["bare"].batches[concurrency]
        level["cpu_ratio"] = level["kit"]["cpu_us_per_call"] / level["bare"]["cpu_us_per_call"]
        level["cpu_ratio_median_of_rounds"] = statistics.median(
            (k.cpu / k.calls) / (b.cpu / b.calls) for k, b in zip(kit, bare, strict=True) if b.cpu > 0
        )
        result[f"in_flight_{concurrency}"] = level
    result["tail"] = tail(result[f"in_flight_{TAIL_IN_FLIGHT}"])
    return result


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def tail(level: dict[str, Any]) -> dict[str, Any]:
    """The tail-latency verdict at 16 in flight: kit p99 against its queueing floor and against bare's p99."""
    kit_p99, floor, bare_p99 = level["kit"]["p99_ms"], level["kit"]["cpu_bound_floor_ms"], level["bare"]["p99_ms"]
    over_floor = _ratio(kit_p99, floor)  # None when the batches took no measurable CPU (10 ms ticks)
    over_bare = _ratio(kit_p99, bare_p99)
    return {
        "in_flight": TAIL_IN_FLIGHT,
        "kit_p99_ms": kit_p99,
        "kit_floor_ms": floor,
        "kit_p99_over_floor": over_floor,
        "bare_p99_ms": bare_p99,
        "bare_floor_ms": level["bare"]["cpu_bound_floor_ms"],
        "kit_p99_over_bare_p99": over_bare,
        "p99_within_floor_target": P99_OVER_FLOOR_TARGET,
        "p99_within_floor_met": over_floor is not None and over_floor <= P99_OVER_FLOOR_TARGET,
        "p99_not_above_bare_met": kit_p99 <= bare_p99 * P99_OVER_BARE_TARGET,
    }


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def report(mode: str, result: dict[str, Any]) -> None:
    print(f"\n{mode}:")
    print(f"  {'in flight':>9} {'side':>4} {'CPU/call':>10} {'calls/s':>8} {'p50':>8} {'p99':>8}")
    for concurrency in CONCURRENCY:
        level = result[f"in_flight_{concurrency}"]
        for name in ("bare", "kit"):
            side = level[name]
            print(
                f"  {concurrency:>9} {name:>4} {side['cpu_us_per_call']:>7.0f} us {side['calls_per_s']:>8.0f} "
                f"{side['p50_ms']:>5.2f} ms {side['p99_ms']:>5.2f} ms"
            )
        ratio, rounds = level["cpu_ratio"], level["cpu_ratio_median_of_rounds"]
        print(
            f"  {'':>9} kit/bare CPU per call {ratio:.2f}x (median of rounds {rounds:.2f}x)"
            f", target <= {CPU_TARGET:.2f}x: {_verdict(ratio <= CPU_TARGET)}"
        )
    t = result["tail"]
    print(
        f"  tail at {t['in_flight']} in flight: kit p99 {t['kit_p99_ms']:.2f} ms, kit floor ({t['in_flight']} x "
        f"CPU/call) {t['kit_floor_ms']:.2f} ms, kit p99 / floor {_times(t['kit_p99_over_floor'])}; "
        f"bare p99 {t['bare_p99_ms']:.2f} ms, kit p99 / bare p99 {_times(t['kit_p99_over_bare_p99'])}"
    )
    print(
        f"  {'':>9} target kit p99 <= {P99_OVER_FLOOR_TARGET:.1f}x floor: {_verdict(t['p99_within_floor_met'])}"
        f"; target kit p99 <= bare p99: {_verdict(t['p99_not_above_bare_met'])}"
    )


def verdicts(results: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Every target per mode: met (True) or missed (False)."""
    return {
        mode: {
            "cpu_ratio_in_flight_1": result["in_flight_1"]["cpu_ratio"] <= CPU_TARGET,
            "cpu_ratio_in_flight_16": result["in_flight_16"]["cpu_ratio"] <= CPU_TARGET,
            "p99_within_floor_at_16": result["tail"]["p99_within_floor_met"],
            "p99_not_above_bare_at_16": result["tail"]["p99_not_above_bare_met"],
        }
        for mode, result in results.items()
    }


def summary_table(results: dict[str, Any]) -> str:
    """The tail at 16 in flight, one line per mode (the figures of the per-mode reports, side by side)."""
    lines = [
        f"\ntail at {TAIL_IN_FLIGHT} in flight (targets: kit p99 <= {P99_OVER_FLOOR_TARGET:.1f}x its floor, "
        "and <= bare p99):",
        f"  {'mode':<9} {'kit p99':>9} {'kit floor':>9} {'p99/floor':>9} {'bare p99':>9} {'kit/bare':>8}"
        f"  {'floor target':<12}  bare target",
    ]
    for mode, result in results.items():
        t = result["tail"]
        lines.append(
            f"  {mode:<9} {t['kit_p99_ms']:>6.2f} ms {t['kit_floor_ms']:>6.2f} ms {_times(t['kit_p99_over_floor']):>9} "
            f"{t['bare_p99_ms']:>6.2f} ms {_times(t['kit_p99_over_bare_p99']):>8}"
            f"  {_verdict(t['p99_within_floor_met']):<12}  {_verdict(t['p99_not_above_bare_met'])}"
        )
    return "\n".join(lines)


def _show_logs(folder: Path, mode: str) -> None:
    for log in sorted(folder.glob(f"{mode}-*.stderr")):
        sys.stderr.write(f"--- {log.name} (last lines)\n")
        sys.stderr.write("\n".join(log.read_text(errors="replace").splitlines()[-20:]) + "\n")


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # servers die in finally
    with tempfile.TemporaryDirectory(prefix="afu9-bench-overhead-") as tmp:
        async with asyncio.timeout(args.timeout):
            for mode in args.modes:
                try:
                    results[mode] = await run_mode(mode, args, Path(tmp))
                except Exception:
                    _show_logs(Path(tmp), mode)
                    raise
                report(mode, results[mode])
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--calls-1", type=int, default=200, help="calls per batch at 1 in flight (default 200)")
    parser.add_argument("--calls-16", type=int, default=800, help="calls per batch at 16 in flight (default 800)")
    parser.add_argument("--warmup", type=int, default=400, help="unmeasured calls per side first (default 400)")
    parser.add_argument(
        "--ablate",
        default="",
        help="profiling aid: take parts out of the kit side, comma-separated, of "
        "auth (no bearer token), audit, audit-writer, unserved",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds before the whole run is abandoned")
    args = parser.parse_args(argv)
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    args.ablate = [part.strip() for part in args.ablate.split(",") if part.strip()]
    if unknown := set(args.ablate) - {"auth", "audit", "audit-writer", "unserved"}:
        parser.error(f"unknown part(s) to ablate: {', '.join(sorted(unknown))}")
    if unknown := set(args.modes) - set(MODES):
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    print(
        f"kit overhead on one trivial tool ({TOOL_NAME}): {args.rounds} alternating rounds, "
        f"{args.calls_1} calls at 1 in flight and {args.calls_16} at 16 per side and round"
        + (f"; kit WITHOUT {', '.join(args.ablate)} (profiling run)" if args.ablate else "")
    )
    results = asyncio.run(amain(args))
    settings = {k: v for k, v in vars(args).items() if k != "modes"}
    path = write_result(
        "overhead",
        {
            "settings": settings,
            "targets": {
                "cpu_ratio": CPU_TARGET,
                "p99_over_floor_at_16": P99_OVER_FLOOR_TARGET,
                "p99_over_bare_p99_at_16": P99_OVER_BARE_TARGET,
            },
            "modes": results,
            "verdicts": verdicts(results),
        },
    )
    print(summary_table(results))
    print(f"\nresult: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
