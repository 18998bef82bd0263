"""Cold start: spawn to the first ``tools/list`` answer over stdio, one of our servers vs a bare SDK server.

    uv run python bench/cold_start.py [--server factory|github|...] [--runs 15] [--bytecode cached|none]

Each run spawns a fresh interpreter and times, from just before the spawn, a hand-written JSON-RPC exchange on
its stdin/stdout (``initialize``, its answer, ``notifications/initialized``, ``tools/list``, its answer), so
the client's own import cost is not in the figure. The sides alternate (ours, bare, bare, ours, ...), so
machine noise hits both alike; the ratio of medians is the result. Target: ours <= 1.3x bare.

Bytecode is the same for both sides and explicit: ``cached`` (default) unsets PYTHONDONTWRITEBYTECODE and
points PYTHONPYCACHEPREFIX at a fresh folder that one unmeasured run per side fills, so every measured run
loads bytecode; ``none`` sets PYTHONDONTWRITEBYTECODE=1 with an empty prefix, so every run compiles every
module from source. One extra run per side with ``-X importtime`` lists the costliest imports and checks
that no heavy library (SQLAlchemy, Alembic, uvicorn, boto3, ...) is on the path to ``tools/list``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from harness import INITIALIZE_PARAMS, REPO, base_env, die_with_parent, jsonrpc, kill, percentile, write_result

HEAVY = (
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "uvicorn",
    "boto3",
    "botocore",
    "githubkit",
    "anthropic",
    "dbos",
    "yaml",
)


def _read_response(stdout: IO[bytes], request_id: int) -> dict[str, Any]:
    while line := stdout.readline():
        message = json.loads(line)
        if message.get("id") == request_id:
            if "error" in message:
                raise RuntimeError(f"server answered {message['error']}")
            return message
    raise RuntimeError("server closed stdout before answering (see the stderr log)")


def spawn_to_tools_list(
    argv: Sequence[str], env: dict[str, str], stderr: Path, timeout: float
) -> tuple[float, list[str]]:
    """Seconds from spawn to the ``tools/list`` answer, and the tool names listed."""
    with stderr.open("ab") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=REPO,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    watchdog = threading.Timer(timeout, kill, [process])
    watchdog.start()
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(jsonrpc(1, "initialize", INITIALIZE_PARAMS) + b"\n")
        process.stdin.flush()
        _read_response(process.stdout, 1)
        process.stdin.write(jsonrpc(None, "notifications/initialized") + b"\n" + jsonrpc(2, "tools/list", {}) + b"\n")
        process.stdin.flush()
        answer = _read_response(process.stdout, 2)
        elapsed = time.perf_counter() - started
        process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        return elapsed, [tool["name"] for tool in answer["result"]["tools"]]
    finally:
        watchdog.cancel()
        kill(process)


def import_profile(
    argv: Sequence[str], env: dict[str, str], stderr: Path, timeout: float
) -> dict[str, tuple[int, int]]:
    """module -> (self, cumulative) microseconds of every import up to the ``tools/list`` answer."""
    stderr.write_bytes(b"")
    spawn_to_tools_list([argv[0], "-X", "importtime", *argv[1:]], env, stderr, timeout)
    modules: dict[str, tuple[int, int]] = {}
    for line in stderr.read_text(errors="replace").splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            own, cumulative, name = line.removeprefix("import time:").split("|")
            modules[name.strip()] = (int(own), int(cumulative))
    return modules


def by_package(modules: dict[str, tuple[int, int]], only: set[str] | None = None) -> list[tuple[str, float]]:
    """(top-level package, milliseconds of its modules' own import time), costliest first."""
    totals: dict[str, int] = {}
    for module, (own, _) in modules.items():
        package = module.split(".")[0]
        if only is None or package in only:
            totals[package] = totals.get(package, 0) + own
    return sorted(((package, micro / 1000) for package, micro in totals.items()), key=lambda item: -item[1])


def summary(times: Sequence[float]) -> dict[str, float]:
    return {
        "median_s": statistics.median(times),
        "p90_s": percentile(times, 90),
        "min_s": min(times),
        "max_s": max(times),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="factory", help="which of our servers (default factory)")
    parser.add_argument("--runs", type=int, default=15, help="measured runs per side (default 15)")
    parser.add_argument("--bytecode", choices=("cached", "none"), default="cached")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one run may take before it is killed")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="afu9-bench-cold-") as tmp:
        root = Path(tmp)
        env = base_env(AFU9_DATA_DIR=str(root / "data"), PYTHONPYCACHEPREFIX=str(root / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if args.bytecode == "none":
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        sides = {
            "ours": [sys.executable, "-m", f"servers.{args.server}"],
            "bare": [sys.executable, str(REPO / "bench" / "bare_server.py")],
        }
        logs = {name: root / f"{name}.stderr" for name in sides}
        tools: dict[str, list[str]] = {}
        for name, command in sides.items():  # fills the bytecode cache (cached) / warms the OS file cache
            _, tools[name] = spawn_to_tools_list(command, env, logs[name], args.timeout)
        times: dict[str, list[float]] = {name: [] for name in sides}
        for run in range(args.runs):
            order = ("ours", "bare") if run % 2 == 0 else ("bare", "ours")
            for name in order:
                elapsed, _ = spawn_to_tools_list(sides[name], env, logs[name], args.timeout)
                times[name].append(elapsed)
        imports = {name: import_profile(command, env, logs[name], args.timeout) for name, command in sides.items()}

    stats = {name: summary(values) for name, values in times.items()}
    ratio = stats["ours"]["median_s"] / stats["bare"]["median_s"]
    paired = statistics.median(o / b for o, b in zip(times["ours"], times["bare"], strict=True))
    packages = {name: {module.split(".")[0] for module in imports[name]} for name in sides}
    extra = packages["ours"] - packages["bare"]
    heavy = sorted(extra & set(HEAVY))
    heavy_in_sdk = sorted(packages["bare"] & set(HEAVY))
    extra_cost = by_package(imports["ours"], extra)
    top = {
        name: sorted(((m, c / 1000) for m, (_, c) in imports[name].items()), key=lambda item: -item[1])[:15]
        for name in sides
    }
    result = {
        "server": args.server,
        "runs_per_side": args.runs,
        "bytecode": args.bytecode,
        "ratio_of_medians": ratio,
        "median_of_paired_ratios": paired,
        "target_ratio": 1.3,
        "meets_target": ratio <= 1.3,
        "sides": {
            name: {"command": " ".join(sides[name][1:]), "tools": tools[name], **stats[name], "runs_s": times[name]}
            for name in sides
        },
        "heavy_imports_before_tools_list": heavy,
        "heavy_imports_the_sdk_itself_makes": heavy_in_sdk,
        "extra_packages_ours_imports_ms": dict(extra_cost),
        "import_ms_by_package": {name: dict(by_package(imports[name])[:20]) for name in sides},
        "top_imports_cumulative_ms": {name: top[name] for name in sides},
    }
    path = write_result("cold_start", result)

    print(
        f"cold start of {args.server}: spawn -> first tools/list over stdio, {args.runs} alternating runs per side, "
        f"bytecode {args.bytecode}"
    )
    for name in sides:
        s = stats[name]
        print(
            f"  {name:5} median {s['median_s'] * 1000:6.0f} ms   p90 {s['p90_s'] * 1000:6.0f} ms   "
            f"min {s['min_s'] * 1000:6.0f} ms   ({len(tools[name])} tools)"
        )
    print(
        f"  ratio ours/bare: {ratio:.2f}x (median of paired runs {paired:.2f}x); target <= 1.30x: "
        f"{'met' if ratio <= 1.3 else 'MISSED'}"
    )
    print(
        f"  heavy imports before tools/list beyond the SDK's own: {', '.join(heavy) if heavy else 'none'}"
        f" (the SDK itself imports: {', '.join(heavy_in_sdk) or 'none'})"
    )
    print(
        "  imports ours adds to bare's (own import time, ms; -X importtime inflates it): "
        + ", ".join(f"{package} {ms:.0f}" for package, ms in extra_cost)
    )
    for name in sides:
        costliest = ", ".join(f"{package} {ms:.0f}" for package, ms in by_package(imports[name])[:6])
        print(f"  costliest packages to import ({name}, ms): {costliest}")
    print(f"  result: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
