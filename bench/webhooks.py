"""GitHub webhook intake: verified deliveries stored per second over HTTP and their answer time, with processing
running, and nothing lost.

    uv run python bench/webhooks.py [--rounds 4] [--deliveries 1000] [--in-flight 50] [--database-url URL]

The github server runs as ``python -m servers.github --transport http`` with a webhook secret and a rules file
whose one rule records every delivery (so the processor claims and finishes each one while the intake is under
load); with ``--payload-rule`` the rule matches on the branch, so the processor also reads and parses each
delivery's payload. ``--in-flight`` clients, each on its own keep-alive connection, send signed deliveries (GitHub's own
``pull_request.opened`` example, ~25 KB, each with its own ``X-GitHub-Delivery``) to ``POST /webhooks/github``.
Every answer must be 202 with ``stored: true``.

As a reference side, the same clients send ``GET /health`` to the same server (an answer that does no work),
so the figures can be read as a ratio too: what verifying and storing a delivery costs over an empty answer.
Per round each side gets one batch, the order flipping every round.

After the last round the benchmark waits until the processor has finished every delivery, then checks in the
database: as many rows as deliveries answered, all ``done``, none twice. Reported: deliveries per second, the
answer time (p50, p99, max) per side, intake p99 / health p99, the time the processor needed to drain.

Target: intake p99 under **100 ms** at 50 deliveries in flight, and **zero lost**.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
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
    REPO,
    HttpConnection,
    base_env,
    cpu_seconds,
    die_with_parent,
    free_port,
    kill,
    percentile,
    run_batch,
    wait_for,
    write_result,
)

SIDES = ("intake", "health")
TARGET_P99_MS = 100.0
EXAMPLE = "pull_request.opened"
_REQUEST_TIMEOUT = 30.0


@dataclass
class Side:
    name: str
    latencies: list[float] = field(default_factory=list[float])
    p99_per_round: list[float] = field(default_factory=list[float])
    seconds: float = 0.0
    requests: int = 0
    cpu: float = 0.0


@dataclass
class Server:
    process: asyncio.subprocess.Process
    port: int


@contextlib.asynccontextmanager
async def start(env: dict[str, str], log: Path) -> AsyncIterator[Server]:
    port = free_port()
    argv = [sys.executable, "-m", "servers.github", "--transport", "http", "--port", str(port), "--stateless"]
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            cwd=REPO,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    server = Server(process=process, port=port)
    try:
        probe = HttpConnection(port)

        async def listening() -> bool:
            if process.returncode is not None:
                raise RuntimeError(f"the github server exited with {process.returncode}; see {log}")
            try:
                status, _, _ = await probe.request("GET", "/health")
            except OSError:
                return False
            return status == 200

        await wait_for(listening, timeout=60, what="the github server")
        await probe.close()
        yield server
    finally:
        kill(process)
        with contextlib.suppress(TimeoutError, ProcessLookupError):
            async with asyncio.timeout(5):
                await process.wait()


def signed(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Delivery": delivery,
        "X-GitHub-Event": EXAMPLE.split(".")[0],
        "X-GitHub-Hook-ID": "4242",
        "X-Hub-Signature-256": f"sha256={digest}",
    }


async def batch(
    server: Server, side: Side, *, secret: str, body: bytes, count: int, in_flight: int, prefix: str
) -> list[str]:
    """``count`` requests of ``side`` at ``in_flight``; returns the delivery ids stored."""
    connections = [HttpConnection(server.port) for _ in range(in_flight)]
    stored: list[str] = []

    async def call(worker: int, index: int) -> None:
        connection = connections[worker]
        async with asyncio.timeout(_REQUEST_TIMEOUT):
            if side.name == "health":
                status, _, payload = await connection.request("GET", "/health")
                if status != 200:
                    raise RuntimeError(f"/health answered {status}: {payload[:200]!r}")
                return
            delivery = f"{prefix}-{index}"
            status, _, payload = await connection.request(
                "POST", "/webhooks/github", body, signed(secret, body, delivery)
            )
        if status != 202 or json.loads(payload).get("stored") is not True:
            raise RuntimeError(f"delivery {delivery} answered {status}: {payload[:200]!r}")
        stored.append(delivery)

    cpu_before = cpu_seconds(server.process.pid)
    try:
        wall, latencies = await run_batch(call, calls=count, concurrency=in_flight)
    finally:
        for connection in connections:
            await connection.close()
    side.cpu += cpu_seconds(server.process.pid) - cpu_before
    side.seconds += wall
    side.requests += count
    side.latencies += latencies
    side.p99_per_round.append(percentile(latencies, 99))
    return stored


async def rows(database_url: str | None, data_dir: Path) -> dict[str, tuple[str, int]]:
    """delivery id -> (status, count of rows with that id)."""
    query = "SELECT delivery_id, status, count(*) FROM webhook_deliveries GROUP BY delivery_id, status"
    if database_url is None:
        with sqlite3.connect(data_dir / "afu9.db") as connection:
            found = connection.execute(query).fetchall()
    else:
        import asyncpg  # pyright: ignore[reportMissingTypeStubs]

        url = database_url.replace("postgresql+asyncpg://", "postgresql://")
        connection = await asyncpg.connect(url, timeout=10)
        try:
            found = [tuple(record) for record in await connection.fetch(query)]
        finally:
            await connection.close()
    return {str(row[0]): (str(row[1]), int(row[2])) for row in found}


async def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    secret = secrets.token_urlsafe(32)
    rules = root / "rules.json"
    rule: dict[str, Any] = {"name": "record-all", "match": {}, "record": True}
    if args.payload_rule:  # a rule on the payload: each claimed delivery's payload is read and parsed
        rule["match"] = {"branch": "*"}
    rules.write_text(json.dumps({"rules": [rule]}))
    data_dir = root / "data"
    env = base_env(
        AFU9_DATA_DIR=str(data_dir),
        GITHUB_WEBHOOK_SECRET=secret,
        AFU9_GITHUB_WEBHOOK_RULES=str(rules),
        AFU9_LOG_LEVEL="WARNING",
    )
    for key in ("GITHUB_TOKEN", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET_PREVIOUS"):
        env.pop(key, None)
    if args.database_url:
        env["AFU9_DATABASE_URL"] = args.database_url
    examples = json.loads((REPO / "tests" / "github_fake" / "webhook_examples.json").read_text())["examples"]
    body = json.dumps(examples[EXAMPLE]).encode()
    sides = {name: Side(name) for name in SIDES}
    answered: list[str] = []
    async with start(env, root / "github.stderr") as server:
        # Warm-up: the database migrated, first-call paths taken; not measured (its deliveries are checked too).
        warm = Side("warm-up")
        answered += await batch(
            server, warm, secret=secret, body=body, count=args.in_flight * 2, in_flight=args.in_flight, prefix="warm"
        )
        await batch(server, Side("health"), secret=secret, body=body, count=100, in_flight=args.in_flight, prefix="")
        for round_ in range(args.rounds):
            order = SIDES if round_ % 2 == 0 else SIDES[::-1]
            for name in order:
                answered += await batch(
                    server,
                    sides[name],
                    secret=secret,
                    body=body,
                    count=args.deliveries,
                    in_flight=args.in_flight,
                    prefix=f"r{round_}",
                )
        drain_started = time.perf_counter()
        expected = set(answered)

        async def drained() -> bool:
            found = await rows(args.database_url, data_dir)
            return all(found.get(delivery, ("", 0))[0] == "done" for delivery in expected)

        await wait_for(drained, timeout=args.drain_timeout, what="the processor to finish every delivery")
        drain = time.perf_counter() - drain_started
        found = await rows(args.database_url, data_dir)
    lost = sorted(expected - set(found))
    twice = sorted(delivery for delivery, (_, count) in found.items() if count > 1)
    not_done = sorted(delivery for delivery, (status, _) in found.items() if status != "done")
    return summarise(sides, args, body, answered=len(answered), drain=drain, lost=lost, twice=twice, not_done=not_done)


def _ms(values: Sequence[float], q: float) -> float:
    return percentile(values, q) * 1000


def summarise(
    sides: dict[str, Side],
    args: argparse.Namespace,
    body: bytes,
    *,
    answered: int,
    drain: float,
    lost: list[str],
    twice: list[str],
    not_done: list[str],
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "database": "postgresql" if args.database_url else "sqlite",
        "rule": "on the payload (branch)" if args.payload_rule else "on stored columns",
        "delivery_bytes": len(body),
        "deliveries_answered": answered,
        "processor_drain_after_last_round_s": drain,
        "lost": lost[:20],
        "lost_count": len(lost),
        "stored_twice_count": len(twice),
        "not_done_count": len(not_done),
    }
    for side in sides.values():
        result[side.name] = {
            "requests": side.requests,
            "per_s": side.requests / side.seconds,
            "p50_ms": _ms(side.latencies, 50),
            "p99_ms": _ms(side.latencies, 99),
            "max_ms": max(side.latencies) * 1000,
            "p99_ms_per_round": [value * 1000 for value in side.p99_per_round],
            "server_cpu_ms_per_request": side.cpu / side.requests * 1000,
        }
    intake, health = result["intake"], result["health"]
    result["intake_over_health_p99"] = intake["p99_ms"] / health["p99_ms"]
    pairs = zip(sides["intake"].p99_per_round, sides["health"].p99_per_round, strict=True)
    result["intake_over_health_p99_median_of_rounds"] = statistics.median(i / h for i, h in pairs)
    result["target_p99_ms"] = TARGET_P99_MS
    result["target_met"] = intake["p99_ms"] < TARGET_P99_MS and not lost and not twice and not not_done
    return result


def report(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\nPOST /webhooks/github ({result['delivery_bytes'] / 1000:.1f} KB signed deliveries, processing on with "
        f"a record rule {result['rule']}, {result['database']}) vs GET /health, {args.in_flight} in flight:"
    )
    print(f"  {'side':>6} {'per s':>7} {'p50':>9} {'p99':>9} {'max':>9} {'CPU/request':>12}")
    for name in SIDES:
        side = result[name]
        print(
            f"  {name:>6} {side['per_s']:>7.0f} {side['p50_ms']:>6.1f} ms {side['p99_ms']:>6.1f} ms "
            f"{side['max_ms']:>6.1f} ms {side['server_cpu_ms_per_request']:>9.2f} ms"
        )
    print(
        f"  intake/health p99: {result['intake_over_health_p99']:.2f}x "
        f"(median of rounds {result['intake_over_health_p99_median_of_rounds']:.2f}x)"
    )
    print(
        f"  {result['deliveries_answered']} deliveries answered 202; lost {result['lost_count']}, "
        f"stored twice {result['stored_twice_count']}, not done {result['not_done_count']}; "
        f"processor drained {result['processor_drain_after_last_round_s']:.2f} s after the last round"
    )
    verdict = "met" if result["target_met"] else "MISSED"
    print(f"  target: intake p99 < {TARGET_P99_MS:.0f} ms and zero lost: {verdict}")


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)  # the server dies in finally
    with tempfile.TemporaryDirectory(prefix="afu9-bench-webhooks-") as tmp:
        try:
            async with asyncio.timeout(args.timeout):
                return await run(args, Path(tmp))
        except Exception:
            log = Path(tmp) / "github.stderr"
            if log.exists():
                sys.stderr.write("--- github.stderr (last lines)\n")
                sys.stderr.write("\n".join(log.read_text(errors="replace").splitlines()[-20:]) + "\n")
            raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    parser.add_argument("--deliveries", type=int, default=1000, help="requests per side and round (default 1000)")
    parser.add_argument("--in-flight", type=int, default=50, help="requests in flight (default 50)")
    parser.add_argument(
        "--payload-rule", action="store_true", help="the rule matches on the branch (processing reads payloads)"
    )
    parser.add_argument("--database-url", help="PostgreSQL (postgresql+asyncpg://...); default: SQLite in a temp dir")
    parser.add_argument("--drain-timeout", type=float, default=300, help="seconds the processor may take to finish")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before the whole run is abandoned")
    args = parser.parse_args(argv)
    if min(args.rounds, args.deliveries, args.in_flight) < 1:
        parser.error("--rounds, --deliveries and --in-flight must be at least 1")
    result = asyncio.run(amain(args))
    report(result, args)
    path = write_result("webhooks", {"settings": vars(args), **result})
    print(f"\nresult: {path.relative_to(REPO)}")
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
