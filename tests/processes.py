"""Real server processes for transport and CLI tests: start on a free loopback port, wait, always stop.

    with afu9_http("serve", "factory", "--transport", "http", env={...}, data_dir=tmp_path) as server:
        httpx2.get(server.url("/health"))
    # stopped (SIGTERM, then SIGKILL past the deadline) however the block ended

Output goes to files, never to pipes, so a chatty process can never block on a full pipe; ``stderr()`` and
``stdout()`` read what it has written so far. Waits are polling loops with a deadline, never bare sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2

__all__ = [
    "AFU9",
    "ServerProcess",
    "afu9_http",
    "free_port",
    "json_lines",
    "run_afu9",
    "start",
    "subprocess_env",
    "wait_until",
]

ROOT = Path(__file__).resolve().parent.parent
_bin = Path(sys.executable).parent
# The venv's console script starts faster than `uv run afu9` and runs the same code.
AFU9: list[str] = [str(_bin / "afu9")] if (_bin / "afu9").exists() else [shutil.which("afu9") or "afu9"]

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released; nothing reuses it within a test)."""
    return free_port()


def subprocess_env(env: Mapping[str, str] | None = None, *, data_dir: Path | None = None) -> dict[str, str]:
    """The parent's environment without any AFU9_* or GITHUB_* setting (but the test PostgreSQL URL), plus
    ``env``."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("AFU9_", "GITHUB_")) or k == "AFU9_TEST_POSTGRES_URL"
    }
    if data_dir is not None:
        base["AFU9_DATA_DIR"] = str(data_dir)
    base["PYTHONUNBUFFERED"] = "1"
    return base | dict(env or {})


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy (returned) or ``timeout`` passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` parsed as a JSON object (AssertionError naming the first line that is not)."""
    entries: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
        assert isinstance(entry, dict), f"not a JSON object: {line!r}"
        entries.append(entry)
    return entries


class ServerProcess:
    """A started subprocess with its output files; ``port`` is set for HTTP servers."""

    def __init__(
        self, process: subprocess.Popen[bytes], folder: Path, port: int | None, host: str = "127.0.0.1"
    ) -> None:
        self.process = process
        self.folder = folder
        self.port = port
        self.host = host

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/mcp") -> str:
        return f"{self.base_url}{path}"

    def stdout(self) -> str:
        return (self.folder / "stdout").read_text(errors="replace")

    def stderr(self) -> str:
        return (self.folder / "stderr").read_text(errors="replace")

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def wait_for_health(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until ``GET /health`` answers 200 (AssertionError with stderr if the process died or took too long)."""

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode} before serving:\n{self.stderr()}")
            try:
                return httpx2.get(self.url("/health"), timeout=2).status_code == 200
            except httpx2.TransportError:
                return False

        try:
            wait_until(healthy, timeout=timeout, what=f"{self.url('/health')}")
        except AssertionError as error:
            raise AssertionError(f"{error}\nstderr:\n{self.stderr()}") from None

    def send(self, sig: signal.Signals) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` and wait for the exit code; SIGKILL (and AssertionError) when it outlives ``timeout``."""
        self.send(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"process ignored {sig.name} for {timeout:.0f}s:\n{self.stderr()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def start(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    cwd: Path | None = None,
    port: int | None = None,
    host: str = "127.0.0.1",
) -> Iterator[ServerProcess]:
    """Run ``command`` with output captured to files; killed on exit from the block whatever happened."""
    with tempfile.TemporaryDirectory(prefix="afu9-proc-") as folder:
        out = Path(folder)
        with (out / "stdout").open("wb") as stdout, (out / "stderr").open("wb") as stderr:
            process = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=subprocess_env(env, data_dir=data_dir),
                cwd=cwd or ROOT,
            )
        server = ServerProcess(process, out, port, host)
        try:
            yield server
        finally:
            server.kill()


@contextlib.contextmanager
def afu9_http(
    *args: str,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    cwd: Path | None = None,
    port_env: str | None = None,
    attempts: int = 3,
    host: str = "127.0.0.1",
) -> Iterator[ServerProcess]:
    """``afu9 <args> --port <free>`` (or the port in ``port_env``), started and healthy; always stopped.

    A port taken between picking and binding (another test's process) makes the server exit: it is retried
    on a new port up to ``attempts`` times.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        command = [*AFU9, *args] if port_env else [*AFU9, *args, "--port", str(port)]
        extra = {port_env: str(port)} if port_env else {}
        with start(command, env={**(env or {}), **extra}, data_dir=data_dir, cwd=cwd, port=port, host=host) as server:
            try:
                server.wait_for_health()
            except AssertionError:
                if attempt < attempts and "address already in use" in server.stderr().lower():
                    continue
                raise
            yield server
            return


def run_afu9(
    *args: str,
    env: Mapping[str, str] | None = None,
    data_dir: Path | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``afu9 <args>`` to completion (killed past ``timeout``) and return its exit code and output."""
    return subprocess.run(
        [*AFU9, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=subprocess_env(env, data_dir=data_dir),
        cwd=cwd or ROOT,
        timeout=timeout,
        check=False,
    )
