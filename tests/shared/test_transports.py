"""shared.transports: who may serve where, and serving several servers at once (the demo server).

Subprocess tests of the HTTP face live in tests/servers/factory/test_http.py; here `serve_http` runs in the
test's own event loop, which is how `afu9 up` runs every server in one process.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from shared.errors import ConfigError
from shared.transports import HttpEndpoint, http_app, is_loopback, serve_http
from tests.demo.server import SERVER, DemoSettings
from tests.processes import free_port


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "192.168.1.10", "example.com", "mcp.internal", ""])
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_http_off_loopback_without_tokens_is_refused_naming_afu9_http_tokens(tmp_path: Path) -> None:
    settings = DemoSettings(host="0.0.0.0", data_dir=tmp_path)

    with pytest.raises(ConfigError) as raised:
        http_app(SERVER.build(settings), settings)

    assert raised.value.key == "AFU9_HTTP_TOKENS"
    assert "AFU9_HTTP_TOKENS" in str(raised.value)


def test_http_off_loopback_with_tokens_is_allowed(tmp_path: Path) -> None:
    settings = DemoSettings(host="0.0.0.0", http_tokens=["ci:secret-1-secret-1-secret"], data_dir=tmp_path)

    assert http_app(SERVER.build(settings), settings) is not None


# --- serve_http: several endpoints in one process -----------------------------------------------------------


def _endpoint(name: str, data_dir: Path, port: int) -> HttpEndpoint:
    settings = DemoSettings(data_dir=data_dir, port=port)
    return HttpEndpoint(name=name, app=http_app(SERVER.build(settings), settings), host="127.0.0.1", port=port)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def _unfreeze_gc() -> Iterator[None]:
    """serve_http freezes the GC after start (a server-process optimisation); undo it for the test process."""
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("_unfreeze_gc")
async def test_serve_http_serves_every_endpoint_then_stops_them_all_on_sigterm(tmp_path: Path) -> None:
    # SIGTERM goes to this very process: serve_http's loop handler must be the one that receives it.
    assert threading.current_thread() is threading.main_thread()
    # One database for both, as under `afu9 up`.
    endpoints = [_endpoint("one", tmp_path, free_port()), _endpoint("two", tmp_path, free_port())]
    started = asyncio.Event()
    calls: list[int] = []

    def on_started() -> None:
        calls.append(len(calls))
        started.set()

    serving = asyncio.create_task(serve_http(endpoints, on_started=on_started))
    try:
        with anyio.fail_after(30):
            await started.wait()
        async with httpx2.AsyncClient(timeout=10) as http:
            for endpoint in endpoints:
                response = await http.get(f"http://127.0.0.1:{endpoint.port}/health")
                assert response.status_code == 200
        async with Client(f"http://127.0.0.1:{endpoints[1].port}/mcp") as client:
            assert not (await client.call_tool("list_notes", {})).is_error

        signal.raise_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            await serving
    finally:
        if not serving.done():
            serving.cancel()
            with anyio.move_on_after(30), pytest.raises(asyncio.CancelledError):
                await serving

    assert calls == [0]
    assert not any(_listening(endpoint.port) for endpoint in endpoints)
    # The handlers are gone with the servers: SIGTERM is back to its default for this process.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.usefixtures("_unfreeze_gc")
async def test_serve_http_exits_1_and_stops_the_others_when_one_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        endpoints = [_endpoint("free", tmp_path, free_port()), _endpoint("busy", tmp_path, busy)]
        started: list[bool] = []

        with anyio.fail_after(30), pytest.raises(SystemExit) as raised:
            await serve_http(endpoints, on_started=lambda: started.append(True))

    assert raised.value.code == 1
    assert started == []
    assert not _listening(endpoints[0].port)


@pytest.mark.usefixtures("_unfreeze_gc")
async def test_cancelling_serve_http_still_shuts_every_server_down(tmp_path: Path) -> None:
    endpoint = _endpoint("one", tmp_path, free_port())
    started = asyncio.Event()
    serving = asyncio.create_task(serve_http([endpoint], on_started=started.set))
    with anyio.fail_after(30):
        await started.wait()

    serving.cancel()
    with anyio.fail_after(30), pytest.raises(asyncio.CancelledError):
        await serving

    assert not _listening(endpoint.port)
