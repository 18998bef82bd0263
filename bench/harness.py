"""What the benchmarks share: spawning servers, cheap raw MCP clients, server CPU time, statistics, results.

The clients are deliberately raw (JSON-RPC lines written by hand, a minimal HTTP/1.1 client on asyncio
streams): on a 2-core machine the load client competes with the server for CPU, so it must cost as little
as possible and exactly the same for both sides. Nothing here imports ``mcp``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH",
    "PROTOCOL_VERSION",
    "REPO",
    "Batch",
    "HttpConnection",
    "PipeClient",
    "base_env",
    "cpu_seconds",
    "die_with_parent",
    "free_port",
    "kill",
    "percentile",
    "run_batch",
    "write_result",
]

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PROTOCOL_VERSION = "2025-11-25"
_TICK = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ``AFU9_*`` setting (so the user's shell cannot skew a run)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AFU9_")}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    # After the command name: state is field 3, utime field 14, stime field 15 (1-based, man proc).
    return (int(fields[11]) + int(fields[12])) / _TICK


def die_with_parent() -> None:
    """``preexec_fn`` for servers we spawn: the kernel kills the child if this process dies, however it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def kill(process: subprocess.Popen[bytes] | asyncio.subprocess.Process | None) -> None:
    """Kill a server we started (its own process group) and reap it; safe to call twice."""
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if isinstance(process, subprocess.Popen):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def write_result(name: str, result: Mapping[str, Any]) -> Path:
    """Write ``result`` (plus machine facts) to ``bench/results/<name>-<UTC time>.json``; return the path."""
    folder = BENCH / "results"
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{name}-{stamp}.json"
    document = {
        "benchmark": name,
        "when": stamp,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()},
        **result,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def jsonrpc(request_id: int | None, method: str, params: Mapping[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        message["id"] = request_id
    if params is not None:
        message["params"] = params
    return json.dumps(message, separators=(",", ":")).encode()


INITIALIZE_PARAMS = {
    "protocolVersion": PROTOCOL_VERSION,
    "capabilities": {},
    "clientInfo": {"name": "afu9-bench", "version": "0"},
}


# --- stdio ------------------------------------------------------------------------------------------------


class PipeClient:
    """JSON-RPC over a child's stdin/stdout: one line per message, responses matched by id."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def spawn(cls, argv: Sequence[str], *, env: Mapping[str, str], stderr: Path) -> PipeClient:
        with stderr.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=dict(env),
                cwd=REPO,
                start_new_session=True,
                preexec_fn=die_with_parent,
                limit=1 << 20,
            )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            future = self._pending.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("server closed stdout"))

    async def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self._next += 1
        request_id = self._next
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self._send(jsonrpc(request_id, method, params))
        return await future

    async def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        await self._send(jsonrpc(None, method, params))

    async def _send(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        await self.process.stdin.drain()

    async def initialize(self) -> None:
        await self.request("initialize", INITIALIZE_PARAMS)
        await self.notify("notifications/initialized")

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        kill(self.process)
        with contextlib.suppress(TimeoutError, ProcessLookupError):
            async with asyncio.timeout(5):
                await self.process.wait()


# --- HTTP -------------------------------------------------------------------------------------------------


@dataclass
class HttpConnection:
    """One keep-alive HTTP/1.1 connection to ``127.0.0.1:port`` (a minimal client: POST and GET only)."""

    port: int
    headers: dict[str, str] = field(default_factory=dict)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self._reader, self._writer

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request and read its whole answer: (status, lower-cased headers, body).

        A kept-alive connection the server has closed meanwhile (uvicorn closes idle ones after 5 s) is
        reopened and the request sent again: the server never saw it.
        """
        reused = self._writer is not None
        try:
            return await self._request(method, path, body, headers)
        except (ConnectionError, asyncio.IncompleteReadError):
            if not reused:
                raise
            await self.close()
            return await self._request(method, path, body, headers)

    async def _request(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str] | None
    ) -> tuple[int, dict[str, str], bytes]:
        reader, writer = await self._open()
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}"]
        lines += [f"{key}: {value}" for key, value in {**self.headers, **(headers or {})}.items()]
        if method == "POST":
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status_line = await reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        response_headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            response_headers[key.strip().lower()] = value.strip()
        if response_headers.get("transfer-encoding") == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readline()).split(b";", 1)[0], 16)
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append((await reader.readexactly(size + 2))[:-2])
            payload = b"".join(chunks)
        elif "content-length" in response_headers:
            payload = await reader.readexactly(int(response_headers["content-length"]))
        else:
            payload = await reader.read()
            await self.close()
        if response_headers.get("connection", "").lower() == "close":
            await self.close()
        return status, response_headers, payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._reader = self._writer = None


def parse_mcp_response(headers: Mapping[str, str], payload: bytes) -> dict[str, Any]:
    """The JSON-RPC response in a streamable-HTTP answer (plain JSON, or the last ``data:`` of an SSE body)."""
    if headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in payload.splitlines() if line.startswith(b"data:")]
        data = [item for item in data if item]
        return json.loads(data[-1])
    return json.loads(payload)


# --- load -------------------------------------------------------------------------------------------------


@dataclass
class Batch:
    """One batch of calls at a fixed number in flight: latencies (seconds), wall time and server CPU."""

    calls: int
    concurrency: int
    wall: float
    latencies: list[float]
    cpu: float


async def run_batch(
    call: Callable[[int, int], Awaitable[None]], *, calls: int, concurrency: int
) -> tuple[float, list[float]]:
    """Make ``calls`` calls, ``concurrency`` in flight; ``call(worker, index)``. Returns wall time and latencies."""
    latencies: list[float] = []
    indexes: Iterator[int] = iter(range(calls))
    clock = time.perf_counter

    async def worker(number: int) -> None:
        for index in indexes:
            started = clock()
            await call(number, index)
            latencies.append(clock() - started)

    started = clock()
    await asyncio.gather(*(worker(number) for number in range(concurrency)))
    return clock() - started, latencies


async def wait_for(check: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> None:
    """Poll ``check`` until true; TimeoutError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.02)
