"""AWS clients: real calls against moto, error codes moto does not produce through botocore's Stubber, missing
settings, and the readiness of the AWS part. No test reaches the network: unreachable endpoints are a closed
port on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore import xform_name
from botocore.stub import Stubber
from moto import mock_aws

from shared.aws import CREDENTIAL_SETTINGS, AwsClients, AwsPart
from shared.deps import Readiness
from shared.errors import (
    CallError,
    Conflict,
    DependencyUnavailable,
    InvalidRequest,
    NotConfigured,
    NotFound,
    RateLimited,
    UpstreamError,
)

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-central-1"


@pytest.fixture(autouse=True)
def no_aws_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS setting from the developer's machine: no variables, empty config files, no instance metadata."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for name in ("config", "credentials", "boto"):
        (tmp_path / name).write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("BOTO_CONFIG", str(tmp_path / "boto"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def moto(credentials: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def closed_port() -> str:
    """An endpoint on this machine where nothing listens (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def _error_answer(
    service: str, operation: str, code: str, message: str = "It went wrong.", status: int = 400, /, **params: object
) -> CallError:
    """The kit error a call raises when AWS answers ``operation`` with the error ``code`` (through a Stubber)."""
    clients = AwsClients(REGION)
    stubber = Stubber(clients.client(service))
    stubber.add_client_error(
        xform_name(operation), service_error_code=code, service_message=message, http_status_code=status
    )
    with stubber, pytest.raises(CallError) as caught:
        await clients.call(service, operation, **params)
    return caught.value


async def test_identity_is_the_account_and_region_of_the_credentials(moto: None) -> None:
    clients = AwsClients(REGION)
    assert await clients.identity() == ("123456789012", REGION)


async def test_identity_is_asked_of_sts_only_once(moto: None) -> None:
    clients = AwsClients(REGION)
    first = await clients.identity()
    with Stubber(clients.client("sts")):  # no answer queued: a second STS call would fail
        assert await clients.identity() == first


async def test_a_call_runs_the_operation_and_returns_awss_answer(moto: None) -> None:
    clients = AwsClients(REGION)
    assert (await clients.call("ecs", "ListClusters"))["clusterArns"] == []
    await clients.call("ecs", "CreateCluster", clusterName="fabrication")
    listed = await clients.call("ecs", "list_clusters")  # the Python spelling works too
    assert listed["clusterArns"] == [f"arn:aws:ecs:{REGION}:123456789012:cluster/fabrication"]


async def test_log_groups_are_created_and_described(moto: None) -> None:
    clients = AwsClients(REGION)
    await clients.call("logs", "CreateLogGroup", logGroupName="/afu9/factory")
    answer = await clients.call("logs", "DescribeLogGroups", logGroupNamePrefix="/afu9/")
    assert [group["logGroupName"] for group in answer["logGroups"]] == ["/afu9/factory"]


async def test_a_missing_cluster_is_not_found_naming_the_operation_and_region(moto: None) -> None:
    clients = AwsClients(REGION)
    with pytest.raises(NotFound) as caught:
        await clients.call("ecs", "DescribeServices", cluster="nowhere", services=["api"])
    assert str(caught.value) == (
        f"AWS found nothing for ecs:DescribeServices in region {REGION} (ClusterNotFoundException: Cluster not found.)."
        f" Check the names or ARNs, and that it lives in region {REGION}."
    )


async def test_a_missing_log_group_is_not_found(moto: None) -> None:
    with pytest.raises(NotFound, match="ResourceNotFoundException"):
        await AwsClients(REGION).call("logs", "DeleteLogGroup", logGroupName="/afu9/none")


async def test_creating_what_already_exists_is_a_conflict(moto: None) -> None:
    clients = AwsClients(REGION)
    await clients.call("logs", "CreateLogGroup", logGroupName="/afu9/factory")
    with pytest.raises(Conflict, match=r"logs:CreateLogGroup in region eu-central-1.*ResourceAlreadyExistsException"):
        await clients.call("logs", "CreateLogGroup", logGroupName="/afu9/factory")


async def test_parameters_that_do_not_fit_the_api_are_an_invalid_request(moto: None) -> None:
    with pytest.raises(InvalidRequest, match=r'Missing required parameter in input: "services"'):
        await AwsClients(REGION).call("ecs", "DescribeServices", cluster="c")


async def test_a_throttled_call_is_a_rate_limit_error_saying_when_to_retry(credentials: None) -> None:
    error = await _error_answer("ecs", "DescribeServices", "ThrottlingException", "Rate exceeded", services=["s"])
    assert isinstance(error, RateLimited)
    assert error.retry_after == 10.0
    assert str(error) == (
        f"AWS throttled ecs:DescribeServices in region {REGION} (ThrottlingException: Rate exceeded), after this "
        "server's own retries. Retry in about 10 s; nothing was changed by this call."
    )


async def test_access_denied_is_an_upstream_error_naming_the_iam_permission_needed(credentials: None) -> None:
    message = (
        "User: arn:aws:sts::123456789012:assumed-role/afu9/task is not authorized to perform: "
        "ecs:DescribeServices on resource: arn:aws:ecs:eu-central-1:123456789012:service/c/s"
    )
    error = await _error_answer("ecs", "DescribeServices", "AccessDeniedException", message, services=["s"])
    assert type(error) is UpstreamError
    assert error.status == 403
    assert f"AWS denied ecs:DescribeServices in region {REGION} (AccessDeniedException: User:" in str(error)
    assert "needs the permission ecs:DescribeServices" in str(error)


async def test_the_iam_permission_uses_the_services_iam_prefix(credentials: None) -> None:
    error = await _error_answer("stepfunctions", "ListStateMachines", "AccessDeniedException", "denied")
    assert type(error) is UpstreamError
    assert "needs the permission states:ListStateMachines" in str(error)


async def test_rejected_credentials_name_the_credential_settings(credentials: None) -> None:
    error = await _error_answer("sts", "GetCallerIdentity", "InvalidClientTokenId", "The token is invalid.", 403)
    assert type(error) is UpstreamError
    assert str(error).startswith("AWS rejected the credentials for sts:GetCallerIdentity")
    assert CREDENTIAL_SETTINGS in str(error)


@pytest.mark.parametrize(
    ("operation", "params", "code", "status", "error_type"),
    [
        ("DescribeServices", {"services": ["s"]}, "ServiceNotFoundException", 400, NotFound),
        ("DescribeServices", {"services": ["s"]}, "InvalidParameterException", 400, InvalidRequest),
        ("DescribeServices", {"services": ["s"]}, "ClientException", 400, UpstreamError),
        ("DescribeServices", {"services": ["s"]}, "ServerException", 500, DependencyUnavailable),
        ("UpdateService", {"service": "s"}, "ServerException", 500, DependencyUnavailable),
    ],
)
async def test_each_error_code_becomes_its_kit_error(
    credentials: None,
    operation: str,
    params: dict[str, object],
    code: str,
    status: int,
    error_type: type[CallError],
) -> None:
    error = await _error_answer("ecs", operation, code, "It went wrong.", status, **params)
    assert type(error) is error_type
    assert f"in region {REGION} ({code}: It went wrong.)" in str(error)


async def test_a_failed_read_changed_nothing_and_a_failed_write_has_an_unknown_outcome(credentials: None) -> None:
    read = await _error_answer("ecs", "ListClusters", "ServerException", "boom", 500)
    assert "Nothing was changed by this call." in str(read)
    write = await _error_answer("ecs", "UpdateService", "ServerException", "boom", 500, service="s")
    assert "outcome is unknown" in str(write)
    assert "Nothing was changed" not in str(write)


async def test_a_secret_in_awss_message_comes_out_redacted_and_only_its_first_line(credentials: None) -> None:
    message = "key AKIAIOSFODNN7EXAMPLE may not do this\nsecond line"
    error = await _error_answer("ecs", "ListClusters", "ValidationException", message)
    assert type(error) is InvalidRequest
    assert "AKIAIOSFODNN7EXAMPLE" not in str(error)
    assert "[REDACTED]" in str(error)
    assert "second line" not in str(error)


async def test_an_unreachable_endpoint_is_a_dependency_unavailable_error(credentials: None, closed_port: str) -> None:
    clients = AwsClients(REGION, endpoint_url=closed_port, max_attempts=1)
    with pytest.raises(DependencyUnavailable) as caught:
        await clients.call("ecs", "ListClusters")
    assert str(caught.value) == (
        f"Could not reach AWS ecs in region {REGION} for ecs:ListClusters (EndpointConnectionError). "
        "Nothing was changed by this call. Retry later."
    )


async def test_without_a_region_a_call_is_not_configured_naming_aws_region() -> None:
    with pytest.raises(NotConfigured) as caught:
        await AwsClients(None).call("ecs", "ListClusters")
    assert caught.value.settings == "AWS_REGION"
    assert "set AWS_REGION" in str(caught.value)


async def test_without_credentials_a_call_is_not_configured_naming_the_credential_settings(closed_port: str) -> None:
    with pytest.raises(NotConfigured) as caught:
        await AwsClients(REGION, endpoint_url=closed_port).call("ecs", "ListClusters")
    assert caught.value.settings == CREDENTIAL_SETTINGS
    assert "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or an instance/task role)" in str(caught.value)


async def test_an_unknown_profile_is_not_configured_naming_the_profile(closed_port: str) -> None:
    with pytest.raises(NotConfigured, match="This needs the AWS profile 'ops'") as caught:
        await AwsClients(REGION, profile="ops", endpoint_url=closed_port).call("ecs", "ListClusters")
    assert caught.value.settings == CREDENTIAL_SETTINGS


def test_clients_read_the_standard_environment_variables() -> None:
    clients = AwsClients.from_environment(
        {"AWS_DEFAULT_REGION": "us-west-2", "AWS_PROFILE": "ops", "AWS_ENDPOINT_URL": "http://localhost:4566"}
    )
    assert (clients.region, clients.profile, clients.endpoint_url) == ("us-west-2", "ops", "http://localhost:4566")
    assert AwsClients.from_environment({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-west-2"}).region == (
        "eu-west-1"
    )
    assert AwsClients.from_environment({}).region is None


async def test_the_part_is_up_with_the_account_and_region(moto: None) -> None:
    health = await AwsPart(AwsClients(REGION)).check()
    assert health.state is Readiness.OK
    assert health.detail == f"account 123456789012, region {REGION}"


async def test_the_part_reuses_a_success_for_a_while(moto: None, monkeypatch: pytest.MonkeyPatch) -> None:
    clients = AwsClients(REGION)
    part = AwsPart(clients)
    first = await part.check()

    async def unreachable() -> tuple[str, str]:
        raise AssertionError("STS was asked again")

    monkeypatch.setattr(clients, "fresh_identity", unreachable)
    assert await part.check() is first


async def test_the_part_asks_again_once_its_success_is_old(moto: None) -> None:
    part = AwsPart(AwsClients(REGION), cache_seconds=0)
    assert (await part.check()).ok
    with Stubber(part.clients.client("sts")):  # the probe uses its own client, so this is not in the way
        assert (await part.check()).ok


async def test_the_part_is_not_configured_without_a_region() -> None:
    health = await AwsPart(AwsClients(None)).check()
    assert health.state is Readiness.NOT_CONFIGURED
    assert health.setting == "AWS_REGION"


async def test_the_part_is_not_configured_without_credentials(closed_port: str) -> None:
    health = await AwsPart(AwsClients(REGION, endpoint_url=closed_port)).check()
    assert health.state is Readiness.NOT_CONFIGURED
    assert health.setting == CREDENTIAL_SETTINGS


async def test_the_part_is_down_when_sts_cannot_be_reached_and_says_so_without_secrets(
    credentials: None, closed_port: str
) -> None:
    health = await AwsPart(AwsClients(REGION, endpoint_url=closed_port)).check()
    assert health.state is Readiness.DOWN
    assert "Could not reach AWS sts in region eu-central-1" in health.detail
    assert "testing" not in health.detail


def test_importing_the_module_does_not_import_boto3() -> None:
    probe = "import sys, shared.aws; print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


async def test_an_answer_that_is_not_awss_is_an_upstream_error_not_a_crash(credentials: None) -> None:
    """A proxy's or an emulator's HTML page where AWS's JSON should be (botocore's parser fails outside its own
    error hierarchy)."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            body = b"<!doctype html><title>Gateway</title>"
            self.send_response(200)
            self.send_header("content-type", "text/xml")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        clients = AwsClients(REGION, endpoint_url=f"http://127.0.0.1:{server.server_address[1]}", max_attempts=1)
        with pytest.raises(UpstreamError) as caught:
            await clients.call("cloudformation", "DescribeStacks")  # an XML API: HTML is not XML
    finally:
        server.shutdown()
        server.server_close()
    assert str(caught.value).startswith(
        f"AWS cloudformation answered cloudformation:DescribeStacks in region {REGION} with something that is not "
        "an AWS answer"
    )
    assert "Nothing was changed by this call" in str(caught.value)


def test_the_part_names_aws_region_at_start_when_no_region_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AwsPart(AwsClients(None)).unconfigured() == "AWS_REGION"
    assert AwsPart(AwsClients(REGION)).unconfigured() is None
    assert AwsPart(AwsClients(None, profile="ops")).unconfigured() is None
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    assert AwsPart(AwsClients(None)).unconfigured() is None
