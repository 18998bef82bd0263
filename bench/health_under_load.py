"""``GET /health`` answer time at rest and while large ``tools/call`` requests are in flight, kit vs bare.

    uv run python bench/health_under_load.py [--rounds 4] [--samples 50] [--in-flight 6] [--argument-kb 1024]

Both servers run over stateless HTTP (bench/kit_server.py through the kit's runner, with bearer tokens and the
audit trail into SQLite; bench/bare_server.py, the SDK's plain app with a plain ``/health`` route), both with
``AFU9_BENCH_TEXT_TOOL=1`` (they also serve ``count_characters(text)``) and ``AFU9_MAX_REQUEST_BYTES`` at
8 MiB, so a ~1 MB argument is accepted by both. Per round and side (the order flipping every round):

- **at rest**: ``--samples`` sequential ``GET /health`` (one keep-alive connection, ``--gap`` apart);
- **under load**: ``--in-flight`` workers each send ``tools/call count_characters`` with a ~``--argument-kb``
  KB text (log-like lines, one secret-looking ``token=...`` pair per line, a few non-ASCII characters) again
  and again, each answer checked; once every worker has a call out, the same ``GET /health`` samples are
  taken; then the workers stop after their call in flight.

For the kit, the audit rows of the large calls must then reach the database before the next phase: the time
that takes is reported (``audit drain``), and so is the largest ``params`` stored for them (the kit caps the
stored size of arguments). Reported per side: ``/health`` p50 and max at rest and under load, under load /
at rest, the large calls answered per second and the server CPU per large call; and kit / bare under load.

Target: the kit's ``/health`` under load within **1.3x** bare's (p50 and max): what the kit adds per large
call (auth, audit record, redaction, logging) must not stall the event loop beyond what the SDK's own JSON
parsing of the request does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import secrets
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    INITIALIZE_PARAMS,
    PROTOCOL_VERSION,
    REPO,
    HttpConnection,
    base_env,
    cpu_seconds,
    die_with_parent,
    free_port,
    jsonrpc,
    kill,
    parse_mcp_response,
    percentile,
    wait_for,
    write_result,
)
from trivial import TEXT_TOOL_NAME

SIDES = ("kit", "bare")
MAX_REQUEST_BYTES = 8 * 1024 * 1024
TARGET = 1.3  # kit /health under load <= 1.3x bare's (p50 and max)
_REQUEST_TIMEOUT = 120.0  # seconds for any one request


@dataclass
class Server:
    """One server under test: its process, port, headers, and (kit) where its audit rows go."""

    name: str
    process: asyncio.subprocess.Process
    port: int
    headers: dict[str, str]
    database: Path | None
    large_calls: int = 0
    rest: list[float] = field(default_factory=list[float])
    load: list[float] = field(default_factory=list[float])
    load_p50_per_round: list[float] = field(default_factory=list[float])
    load_seconds: float = 0.0
    load_calls: int = 0
    load_cpu: float = 0.0
    drains: list[float] = field(default_factory=list[float])

    def connection(self) -> HttpConnection:
        return HttpConnection(self.port, dict(self.headers))


def make_text(size: int) -> str:
    """About ``size`` characters of log-like text: words, numbers, a secret-looking pair per line, some é."""
    lines: list[str] = []
    total = 0
    number = 0
    while total < size:
        number += 1
        line = (
            f"2026-01-01T00:00:{number % 60:02d}Z INFO worker-{number % 7} fetched "
            f"https://example.invalid/items?page={number} in {number % 97} ms token=tk_{number:012d}abcdef "
            f"café résumé status=200 bytes={number * 31 % 100_000}\n"
        )
        lines.append(line)
        total += len(line)
    return "".join(lines)[:size]


# --- servers ----------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def start(name: str, env: dict[str, str], log: Path, token: str) -> AsyncIterator[Server]:
    port = free_port()
    argv = [sys.executable, str(REPO / "bench" / f"{name}_server.py"), "--transport", "http", "--port", str(port)]
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            *argv,
            "--stateless",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            cwd=REPO,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    headers = {
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {token}",
        "mcp-protocol-version": PROTOCOL_VERSION,
    }
    database = Path(env["AFU9_DATA_DIR"]) / "afu9.db" if name == "kit" else None
    server = Server(name=name, process=process, port=port, headers=headers, database=database)
    probe = server.connection()
    try:

        async def answers() -> bool:
            if process.returncode is not None:
                raise RuntimeError(f"{name} server exited with {process.returncode}; see {log}")
            try:  # the kit: listening and migrated (/ready); bare: listening
                status, _, _ = await probe.request("GET", "/ready" if name == "kit" else "/health")
            except OSError:
                await probe.close()
                return False
            return status == 200

        await wait_for(answers, timeout=60, what=f"the {name} server to listen")
        status, _, payload = await probe.request("POST", "/mcp", jsonrpc(0, "initialize", INITIALIZE_PARAMS))
        if status != 200:
            raise RuntimeError(f"{name}: initialize answered {status}: {payload[:300]!r}")
        yield server
    finally:
        await probe.close()
        kill(process)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await process.wait()


def audit_rows(database: Path) -> tuple[int, int]:
    """Rows of ``count_characters`` calls in the kit's audit trail, and the largest stored ``params`` (chars)."""
    if not database.exists():
        return 0, 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)) as db:
            rows, largest = db.execute(
                "SELECT count(*), coalesce(max(length(params)), 0) FROM mcp_tool_calls WHERE tool_name = ?",
                (TEXT_TOOL_NAME,),
            ).fetchone()
            return int(rows), int(largest)
    except sqlite3.OperationalError:  # no table yet
        return 0, 0


# --- measuring --------------------------------------------------------------------------------------------


async def health_samples(server: Server, samples: int, gap: float, deadline: float) -> list[float]:
    """``samples`` sequential ``GET /health`` latencies (seconds), fewer if ``deadline`` (monotonic) passes."""
    connection = server.connection()
    latencies: list[float] = []
    try:
        for _ in range(samples):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            async with asyncio.timeout(_REQUEST_TIMEOUT):
                status, _, payload = await connection.request("GET", "/health")
            latencies.append(time.perf_counter() - started)
            if status != 200 or json.loads(payload).get("status") != "ok":
                raise RuntimeError(f"{server.name}: /health answered {status}: {payload[:300]!r}")
            await asyncio.sleep(gap)
    finally:
        await connection.close()
    return latencies


async def measure(server: Server, args: argparse.Namespace, body: bytes, characters: int) -> None:
    # At rest.
    gc.disable()
    try:
        server.rest += await health_samples(server, args.samples, args.gap, time.monotonic() + args.phase_timeout)
    finally:
        gc.enable()

    # Under load: workers keep one large call each in flight until told to stop.
    stop = asyncio.Event()
    out = [asyncio.Event() for _ in range(args.in_flight)]
    answered = [0] * args.in_flight

    async def worker(number: int) -> None:
        connection = server.connection()
        try:
            while not stop.is_set():
                out[number].set()
                async with asyncio.timeout(_REQUEST_TIMEOUT):
                    status, headers, payload = await connection.request("POST", "/mcp", body)
                message = parse_mcp_response(headers, payload) if status == 200 else {}
                result = message.get("result") or {}
                if result.get("isError") or (result.get("structuredContent") or {}).get("characters") != characters:
                    raise RuntimeError(
                        f"{server.name}: unexpected answer to a large call ({status}): {payload[:300]!r}"
                    )
                answered[number] += 1
        finally:
            await connection.close()

    cpu_before = cpu_seconds(server.process.pid)
    started = time.perf_counter()
    workers = [asyncio.create_task(worker(number)) for number in range(args.in_flight)]
    try:
        async with asyncio.timeout(_REQUEST_TIMEOUT):
            await asyncio.gather(*(event.wait() for event in out))
        await asyncio.sleep(args.gap)  # the first bodies are on their way in
        gc.disable()
        try:
            samples = await health_samples(server, args.samples, args.gap, time.monotonic() + args.phase_timeout)
        finally:
            gc.enable()
        server.load += samples
        server.load_p50_per_round.append(percentile(samples, 50))
        stop.set()
        await asyncio.gather(*workers)
    finally:
        stop.set()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    server.load_seconds += time.perf_counter() - started
    server.load_calls += sum(answered)
    server.large_calls += sum(answered)

    # The kit's audit rows of the large calls reach the database (not measured as load, but timed).
    drain_started = time.perf_counter()
    if server.database is not None:
        database = server.database

        async def written() -> bool:
            return audit_rows(database)[0] >= server.large_calls

        await wait_for(written, timeout=60, what="the kit's audit rows of the large calls")
    server.drains.append(time.perf_counter() - drain_started)
    await asyncio.sleep(0.1)
    server.load_cpu += cpu_seconds(server.process.pid) - cpu_before
    gc.collect()


async def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    token = secrets.token_urlsafe(24)
    env = base_env(
        AFU9_DATA_DIR=str(root / "data"),
        AFU9_HTTP_TOKENS=f"bench:{token}",
        AFU9_MAX_REQUEST_BYTES=str(MAX_REQUEST_BYTES),
        AFU9_BENCH_TEXT_TOOL="1",
    )
    text = make_text(args.argument_kb * 1024)
    body = jsonrpc(1, "tools/call", {"name": TEXT_TOOL_NAME, "arguments": {"text": text}})
    async with contextlib.AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(start(name, env, root / f"{name}.stderr", token)) for name in SIDES]
        for server in servers:  # warm-up: first-call paths, the kit's audit writer; not measured
            await measure(server, argparse.Namespace(**{**vars(args), "samples": 5}), body, len(text))
            server.rest, server.load, server.drains, server.load_p50_per_round = [], [], [], []
            server.load_seconds = server.load_cpu = 0.0
            server.load_calls = 0
        for round_ in range(args.rounds):
            for server in reversed(servers) if round_ % 2 else servers:
                await measure(server, args, body, len(text))
        result = summarise(servers, body, text)
        kit = next(server for server in servers if server.name == "kit")
        assert kit.database is not None
        result["kit"]["audit_params_max_chars"] = audit_rows(kit.database)[1]
        return result


def _ms(values: Sequence[float], q: float) -> float:
    return percentile(values, q) * 1000


def summarise(servers: Sequence[Server], body: bytes, text: str) -> dict[str, Any]:
    result: dict[str, Any] = {"argument_chars": len(text), "request_bytes": len(body)}
    for server in servers:
        rest_p50, load_p50 = _ms(server.rest, 50), _ms(server.load, 50)
        result[server.name] = {
            "samples_at_rest": len(server.rest),
            "samples_under_load": len(server.load),
            "rest_p50_ms": rest_p50,
            "rest_max_ms": max(server.rest) * 1000,
            "load_p50_ms": load_p50,
            "load_p50_ms_per_round": [value * 1000 for value in server.load_p50_per_round],
            "load_p90_ms": _ms(server.load, 90),
            "load_max_ms": max(server.load) * 1000,
            "load_over_rest_p50": load_p50 / rest_p50,
            "large_calls": server.load_calls,
            "large_calls_per_s": server.load_calls / server.load_seconds,
            "cpu_ms_per_large_call": server.load_cpu / max(1, server.load_calls) * 1000,
            "audit_drain_s": max(server.drains),
        }
    kit, bare = result["kit"], result["bare"]
    result["kit_over_bare_load_p50"] = kit["load_p50_ms"] / bare["load_p50_ms"]
    result["kit_over_bare_load_max"] = kit["load_max_ms"] / bare["load_max_ms"]
    by_name = {server.name: server for server in servers}
    pairs = zip(by_name["kit"].load_p50_per_round, by_name["bare"].load_p50_per_round, strict=True)
    result["kit_over_bare_load_p50_per_round"] = [k / b for k, b in pairs]
    result["kit_over_bare_load_p50_median_of_rounds"] = statistics.median(result["kit_over_bare_load_p50_per_round"])
    result["target"] = TARGET
    result["target_met"] = result["kit_over_bare_load_p50"] <= TARGET and result["kit_over_bare_load_max"] <= TARGET
    return result


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\n/health answer time, at rest and with {args.in_flight} calls of {result['request_bytes'] / 1e6:.2f} MB "
        "in flight (stateless HTTP):"
    )
    print(
        f"  {'side':>4} {'rest p50':>9} {'rest max':>9} {'load p50':>9} {'load p90':>9} {'load max':>9} "
        f"{'load/rest':>9} {'calls/s':>7} {'CPU/call':>9} {'audit drain':>11}"
    )
    for name in SIDES:
        side = result[name]
        print(
            f"  {name:>4} {side['rest_p50_ms']:>6.2f} ms {side['rest_max_ms']:>6.2f} ms {side['load_p50_ms']:>6.1f} ms "
            f"{side['load_p90_ms']:>6.1f} ms {side['load_max_ms']:>6.1f} ms {side['load_over_rest_p50']:>8.1f}x "
            f"{side['large_calls_per_s']:>7.1f} {side['cpu_ms_per_large_call']:>6.1f} ms "
            f"{side['audit_drain_s'] if name == 'kit' else 0:>9.2f} s"
        )
    print(
        f"  kit/bare under load: p50 {result['kit_over_bare_load_p50']:.2f}x "
        f"(median of rounds {result['kit_over_bare_load_p50_median_of_rounds']:.2f}x), "
        f"max {result['kit_over_bare_load_max']:.2f}x, "
        f"target <= {TARGET:.1f}x: {'met' if result['target_met'] else 'MISSED'}"
    )
    print(f"  largest arguments stored by the kit's audit trail: {result['kit']['audit_params_max_chars']} chars")


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # servers die in finally
    with tempfile.TemporaryDirectory(prefix="afu9-bench-health-") as tmp:
        try:
            async with asyncio.timeout(args.timeout):
                return await run(args, Path(tmp))
        except Exception:
            _show_logs(Path(tmp))
            raise


def _show_logs(folder: Path) -> None:
    for log in sorted(folder.glob("*.stderr")):
        sys.stderr.write(f"--- {log.name} (last lines)\n")
        sys.stderr.write("\n".join(log.read_text(errors="replace").splitlines()[-20:]) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    parser.add_argument("--samples", type=int, default=50, help="GET /health per phase and round (default 50)")
    parser.add_argument("--gap", type=float, default=0.01, help="seconds between two GETs (default 0.01)")
    parser.add_argument("--in-flight", type=int, default=6, help="large calls in flight under load (default 6)")
    parser.add_argument("--argument-kb", type=int, default=1024, help="size of the text argument (default 1024)")
    parser.add_argument(
        "--phase-timeout", type=float, default=60, help="seconds of sampling per phase at most (default 60)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds before the whole run is abandoned")
    args = parser.parse_args(argv)
    if args.argument_kb * 1024 > MAX_REQUEST_BYTES - 4096:
        parser.error(f"--argument-kb must stay below {(MAX_REQUEST_BYTES - 4096) // 1024}")
    if min(args.rounds, args.samples, args.in_flight, args.argument_kb) < 1:
        parser.error("--rounds, --samples, --in-flight and --argument-kb must be at least 1")
    result = asyncio.run(amain(args))
    report(result, args)
    path = write_result("health-under-load", {"settings": vars(args), **result})
    print(f"\nresult: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
