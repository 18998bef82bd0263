"""Every HTTP route of every server refuses what its guard refuses, behind the Host/Origin check and the body
limit; and the Host/Origin rules themselves.

The matrix runs in-process through the real ASGI app of each server (``shared.transports.http_app``): the
suite's servers from the registry plus the kit's demo server, which has a signed route.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from servers.registry import definitions
from shared.routes import HostCheck
from shared.server import Afu9Server, ServerDefinition
from shared.transports import http_app, http_routes
from tests.demo.server import SERVER as DEMO

TOKEN = "matrix-" + "t" * 24
SECRET = "hook-secret-" + "s" * 20
LIMIT = 2048
SECRETS = {"demo": {"hook_secret": SECRET}, "github": {"webhook_secret": SECRET}}  # each signed route's secret
CASES = [pytest.param(definition, id=definition.name) for definition in [*definitions(), DEMO]]


def _path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", template)


@pytest.fixture
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Afu9Server, httpx.AsyncClient]]:
    definition: ServerDefinition[Any, Any] = request.param
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "http_tokens": [f"matrix:{TOKEN}"],
        "max_request_bytes": LIMIT,
        "allow_writes": True,
    }
    values |= SECRETS.get(definition.name, {})
    settings = definition.settings(**values)
    server = definition.build(settings)
    app = http_app(server, settings, stateless=True)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{definition.port}") as http,
    ):
        yield server, http


def _routes(server: Afu9Server) -> list[tuple[str, str, str, int]]:
    """(method, path, guard, body limit) for /mcp and every other route of ``server``."""
    found = [("POST", "/mcp", "bearer", LIMIT)]
    for route in http_routes(server):
        for method in route.methods:
            found.append((method, _path(route.path), route.guard.name, route.max_body_bytes or LIMIT))
    return found


def _signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def _signed(body: bytes) -> dict[str, str]:
    """Headers signing ``body`` for every signed route (the demo's header and GitHub's, with a delivery id)."""
    signature = _signature(body)
    github = {"X-GitHub-Delivery": "matrix-1", "X-GitHub-Event": "ping"}
    return {"X-Signature-256": signature, "X-Hub-Signature-256": signature} | github


@pytest.mark.parametrize("served", CASES, indirect=True)
async def test_every_route_refuses_a_foreign_host_and_a_foreign_origin(
    served: tuple[Afu9Server, httpx.AsyncClient],
) -> None:
    server, http = served
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for method, path, _guard, _limit in _routes(server):
        foreign = await http.request(method, path, headers=auth | {"Host": "evil.example:3004"})
        origin = await http.request(method, path, headers=auth | {"Origin": "http://evil.example"})
        assert foreign.status_code == 421, (method, path)
        assert "AFU9_ALLOWED_HOSTS" in foreign.text
        assert origin.status_code == 403, (method, path)
        assert "AFU9_ALLOWED_ORIGINS" in origin.text


@pytest.mark.parametrize("served", CASES, indirect=True)
async def test_every_route_refuses_what_its_guard_refuses(served: tuple[Afu9Server, httpx.AsyncClient]) -> None:
    server, http = served
    for method, path, guard, _limit in _routes(server):
        anonymous = await http.request(method, path, content=b"{}")
        wrong = await http.request(method, path, content=b"{}", headers={"Authorization": "Bearer " + "w" * 30})
        if guard == "bearer":
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.headers["www-authenticate"] == 'Bearer realm="afu9"'  # no error code: RFC 6750
            assert wrong.status_code == 401, (method, path)
            assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
            good = await http.request(method, path, content=b"{}", headers={"Authorization": f"Bearer {TOKEN}"})
            assert good.status_code != 401, (method, path)
        elif guard == "signed":
            assert anonymous.status_code == 401, (method, path)
            forged = await http.request(method, path, content=b"{}", headers=_signed(b"[]"))
            signed = await http.request(method, path, content=b"{}", headers=_signed(b"{}"))
            assert forged.status_code == 401, (method, path)
            assert signed.status_code < 400, (method, path, signed.text)
        else:
            assert guard == "public"
            assert anonymous.status_code not in (401, 403), (method, path)


@pytest.mark.parametrize("served", CASES, indirect=True)
async def test_every_route_refuses_a_body_over_its_limit(
    served: tuple[Afu9Server, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    server, http = served
    marker = "refused-body-marker"
    with caplog.at_level(logging.DEBUG):
        for method, path, guard, limit in _routes(server):
            body = (marker + "x" * limit).encode()
            headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
            if guard == "signed":
                headers |= _signed(body)
            response = await http.request(method, path, content=body, headers=headers)
            assert response.status_code == 413, (method, path)
    assert server.audit.pending == server.audit.written == 0  # nothing a refused request carried is stored
    assert marker not in caplog.text


async def test_a_signed_route_without_its_secret_answers_503_naming_the_setting(tmp_path: Path) -> None:
    settings = DEMO.settings(data_dir=tmp_path)
    app = http_app(DEMO.build(settings), settings, stateless=True)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:3999") as http,
    ):
        response = await http.post("/hooks/demo", content=b"{}", headers={"X-Signature-256": _signature(b"{}")})
    assert response.status_code == 503
    assert "AFU9_DEMO_HOOK_SECRET" in response.text


# -- the Host/Origin rules -----------------------------------------------------------------------------------


def _check(**overrides: Any) -> HostCheck:
    values: dict[str, Any] = {"bound_host": "127.0.0.1", "allowed_hosts": [], "allowed_origins": []}
    return HostCheck(lambda *_: None, **(values | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:3004", "127.0.0.1", "localhost", "localhost:80", "[::1]:3004", "127.0.0.2:9", "LOCALHOST:1"],
)
def test_loopback_names_pass_with_or_without_a_port(host: str) -> None:
    assert _check().host_allowed(host)


def test_the_bound_address_passes_with_or_without_a_port() -> None:
    check = _check(bound_host="10.1.2.3")
    assert check.host_allowed("10.1.2.3:3004")
    assert check.host_allowed("10.1.2.3")


def test_an_ip_address_of_this_machine_passes_as_a_health_check_would_send_it() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outbound interface
            own = probe.getsockname()[0]
        except OSError:
            pytest.skip("no non-loopback interface on this machine")
    assert _check(bound_host="0.0.0.0").host_allowed(f"{own}:3004")


@pytest.mark.parametrize("host", ["evil.example:3004", "evil.example", "", "192.0.2.77:3004", "0.0.0.0:3004", "[::]:1"])
def test_other_hosts_are_refused(host: str) -> None:
    assert not _check(bound_host="0.0.0.0").host_allowed(host)


def test_allowed_hosts_accept_a_name_with_any_port_a_wildcard_port_or_one_port() -> None:
    check = _check(allowed_hosts=["mcp.internal", "lb.example:*", "api.example:443", "*.svc.local"])
    assert check.host_allowed("mcp.internal")
    assert check.host_allowed("mcp.internal:8080")
    assert check.host_allowed("lb.example:3004")
    assert check.host_allowed("api.example:443")
    assert not check.host_allowed("api.example:80")
    assert check.host_allowed("factory.svc.local:3004")
    assert not check.host_allowed("evil.example:3004")


def test_a_star_turns_the_host_check_off() -> None:
    assert _check(allowed_hosts=["*"]).off


def test_origins_of_accepted_hosts_and_configured_origins_pass_others_do_not() -> None:
    check = _check(allowed_origins=["https://ui.example.com"])
    assert check.origin_allowed("http://127.0.0.1:3004")
    assert check.origin_allowed("http://localhost:5173")
    assert check.origin_allowed("https://ui.example.com/")
    assert not check.origin_allowed("http://evil.example")
    assert not check.origin_allowed("null")
    assert not check.origin_allowed("file://")
