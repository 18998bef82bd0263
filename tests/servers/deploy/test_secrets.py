"""The secrets toolset: explicit secrets checked against the AFU-9 structures and task definitions' references
checked as ECS fetches them, on moto's Secrets Manager, SSM and ECS (botocore's Stubber for AWS's refusals); and
the promise that no answer and no log record carries a secret's value or a task definition's environment value."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from mcp import Client
from mcp.types import CallToolResult, TextContent

from servers.deploy.deps import DeployDeps
from servers.deploy.secrets import Reference, parse_reference
from servers.deploy.server import SERVER
from servers.deploy.settings import DeploySettings
from tests.servers.deploy import world

ACCOUNT = "123456789012"
GITHUB_VALUES = ("ghp_" + "x" * 36, "w" * 32)
DATABASE_PASSWORD = "p" * 20


def _text(result: CallToolResult) -> str:
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


async def _ok(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    return result.structured_content


async def _refused(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return _text(result)


def _deps(tmp_path: Path) -> DeployDeps:
    return world.deps(DeploySettings(data_dir=tmp_path, toolsets=["all"], allow_writes=True))


def _client(deps: DeployDeps) -> Client:
    return Client(SERVER.build(deps.settings, deps=deps))


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _secret(name: str, value: object) -> str:
    """A secret holding ``value`` (JSON unless it is text or bytes); its ARN."""
    sm = world.boto("secretsmanager")
    if isinstance(value, bytes):
        return sm.create_secret(Name=name, SecretBinary=value)["ARN"]
    text = value if isinstance(value, str) else json.dumps(value)
    return sm.create_secret(Name=name, SecretString=text)["ARN"]


def _complete_database(name: str) -> str:
    return _secret(
        name, {"username": "app", "password": "q" * 20, "host": "db.internal", "port": 5432, "database": "afu9"}
    )


def _by_secret(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["secret"]: check for check in answer["secrets"]}


@pytest.fixture(autouse=True)
def _no_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tools reach moto through the world's clients; no AWS setting of the developer's shell leaks in."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)


# -- references ------------------------------------------------------------------------------------------------

SM = f"arn:aws:secretsmanager:{world.REGION}:{ACCOUNT}:secret:afu9/github-AbCdEf"


@pytest.mark.parametrize(
    ("value_from", "expected"),
    [
        pytest.param(SM, Reference("secretsmanager", SM, region=world.REGION, account=ACCOUNT), id="whole-secret"),
        pytest.param(
            f"{SM}:token::",
            Reference("secretsmanager", SM, json_key="token", region=world.REGION, account=ACCOUNT),
            id="json-key",
        ),
        pytest.param(
            f"{SM}:token:AWSPREVIOUS:",
            Reference(
                "secretsmanager",
                SM,
                json_key="token",
                version_stage="AWSPREVIOUS",
                region=world.REGION,
                account=ACCOUNT,
            ),
            id="version-stage",
        ),
        pytest.param(
            f"{SM}::::",
            Reference("secretsmanager", SM, region=world.REGION, account=ACCOUNT),
            id="empty-suffix",
        ),
        pytest.param(
            f"{SM}:::v-1",
            Reference("secretsmanager", SM, version_id="v-1", region=world.REGION, account=ACCOUNT),
            id="version-id",
        ),
        pytest.param(
            f"arn:aws:ssm:{world.REGION}:{ACCOUNT}:parameter/afu9/db/password",
            Reference("ssm", "/afu9/db/password", region=world.REGION, account=ACCOUNT),
            id="ssm-path-arn",
        ),
        pytest.param(
            f"arn:aws:ssm:{world.REGION}:{ACCOUNT}:parameter/afu9-password",
            Reference("ssm", "afu9-password", region=world.REGION, account=ACCOUNT, alternatives=("/afu9-password",)),
            id="ssm-flat-arn",
        ),
        pytest.param("/afu9/db/password", Reference("ssm", "/afu9/db/password"), id="ssm-name"),
        pytest.param(f"arn:aws:kms:{world.REGION}:{ACCOUNT}:key/abc", None, id="kms-arn"),
        pytest.param(f"arn:aws:ssm:{world.REGION}:{ACCOUNT}:parameter/", None, id="ssm-arn-without-name"),
        pytest.param("arn:aws", None, id="short-arn"),
        pytest.param("", None, id="empty"),
    ],
)
def test_value_from_is_read_as_ecs_reads_it(value_from: str, expected: Reference | None) -> None:
    assert parse_reference(value_from) == expected


# -- check_secrets ---------------------------------------------------------------------------------------------


async def test_secrets_holding_every_required_key_are_ok(tmp_path: Path) -> None:
    seeded = world.seed(_unique("sec-ok"))
    database = _complete_database(_unique("sec-ok") + "/database")
    arguments = {
        "secrets": [
            {"secret_id": seeded.github_secret, "kind": "github"},
            {"secret_id": database, "kind": "database"},
            {"secret_id": f"{database}:password::", "kind": "custom"},
        ]
    }
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_secrets", arguments)
    assert (answer["account"], answer["region"], answer["ok"], answer["problems"]) == (ACCOUNT, world.REGION, True, [])
    github, complete, by_key = answer["secrets"]
    assert github["exists"] is True
    assert github["content"] == "json_object"
    assert github["keys"] == ["token", "webhook_secret"]
    assert (github["required_keys"], github["missing_keys"], github["ok"]) == (["token", "webhook_secret"], [], True)
    assert github["scheduled_for_deletion"] is None
    assert github["last_changed"].endswith("Z")
    assert complete["required_keys"] == ["username", "password", "host", "port", "database"]
    assert complete["missing_keys"] == []
    assert by_key["required_keys"] == ["password"]  # the ARN's JSON key suffix is required too
    assert answer["next"].startswith("Every secret is in place")


async def test_every_missing_key_is_named_in_the_answer_and_a_problem(tmp_path: Path) -> None:
    name = _unique("sec-missing")
    seeded = world.seed(name)  # its database secret deliberately has no `database` key
    half = _secret(f"{name}/half-github", {"token": "t" * 30})
    arguments = {
        "secrets": [
            {"secret_id": f"{name}/database", "kind": "database"},
            {"secret_id": half, "kind": "github"},
            {"secret_id": seeded.github_secret, "kind": "custom", "required_keys": ["token", "app_id", "private_key"]},
        ]
    }
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_secrets", arguments)
    assert answer["ok"] is False
    database, github, custom = answer["secrets"]
    assert (database["missing_keys"], database["ok"]) == (["database"], False)
    assert database["keys"] == ["host", "password", "port", "username"]
    assert github["missing_keys"] == ["webhook_secret"]
    assert custom["missing_keys"] == ["app_id", "private_key"]
    assert answer["problems"] == [
        f"Secret '{name}/database' lacks the key database.",
        f"Secret '{half}' lacks the key webhook_secret.",
        f"Secret '{seeded.github_secret}' lacks the keys app_id, private_key.",
    ]
    assert answer["next"].startswith("Fix each problem")


async def test_dbname_stands_for_database_and_an_empty_value_is_a_problem(tmp_path: Path) -> None:
    name = _unique("sec-alias")
    rds = _secret(f"{name}/rds", {"username": "u", "password": "x" * 12, "host": "h", "port": 5432, "dbname": "app"})
    blank = _secret(f"{name}/blank", {"token": "", "webhook_secret": None})
    arguments = {"secrets": [{"secret_id": rds, "kind": "database"}, {"secret_id": blank, "kind": "github"}]}
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_secrets", arguments)
    rds_check, blank_check = answer["secrets"]
    assert (rds_check["ok"], rds_check["missing_keys"], rds_check["aliases"]) == (True, [], ["database=dbname"])
    assert (blank_check["ok"], blank_check["missing_keys"]) == (False, [])
    assert blank_check["empty_keys"] == ["token", "webhook_secret"]
    assert answer["problems"] == [f"Secret '{blank}' holds an empty value for token, webhook_secret."]


@pytest.mark.parametrize(
    ("value", "content", "said"),
    [
        pytest.param("just-a-password-not-json", "text", "plain text", id="text"),
        pytest.param(["token", "webhook_secret"], "json_other", "JSON, but not an object", id="json-list"),
        pytest.param(b"\x00\x01binary", "binary", "binary", id="binary"),
    ],
)
async def test_a_secret_that_is_not_a_json_object_misses_every_key(
    tmp_path: Path, value: object, content: str, said: str
) -> None:
    arn = _secret(_unique("sec-nonjson") + "/github", value)
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_secrets", {"secrets": [{"secret_id": arn, "kind": "github"}]})
    [check] = answer["secrets"]
    assert (check["exists"], check["content"], check["keys"]) == (True, content, [])
    assert check["missing_keys"] == ["token", "webhook_secret"]
    assert answer["problems"] == [
        f"Secret '{arn}' is not a JSON object ({said}): it must hold the keys token, webhook_secret."
    ]


async def test_a_custom_secret_without_required_keys_only_has_to_exist(tmp_path: Path) -> None:
    arn = _secret(_unique("sec-custom") + "/license", "opaque-license-text")
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_secrets", {"secrets": [{"secret_id": arn, "kind": "custom"}]})
    assert answer["ok"] is True
    assert answer["secrets"][0]["content"] == "text"


async def test_a_missing_secret_is_named_with_the_keys_to_create_it_with(tmp_path: Path) -> None:
    name = _unique("sec-absent") + "/github"
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_secrets", {"secrets": [{"secret_id": name, "kind": "github"}]})
    [check] = answer["secrets"]
    assert (check["exists"], check["name"], check["content"], check["ok"]) == (False, None, None, False)
    assert answer["problems"] == [
        f"Secret '{name}' does not exist in Secrets Manager in {world.REGION}: create it with the keys token, "
        "webhook_secret, or fix the name."
    ]


async def test_a_secret_scheduled_for_deletion_is_not_ok_and_its_value_is_not_read(tmp_path: Path) -> None:
    name = _unique("sec-deleted") + "/github"
    arn = _secret(name, {"token": "t" * 30, "webhook_secret": "s" * 30})
    world.boto("secretsmanager").delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_secrets", {"secrets": [{"secret_id": name, "kind": "github"}]})
    [check] = answer["secrets"]
    assert (check["exists"], check["name"], check["ok"], check["content"]) == (True, name, False, None)
    assert check["scheduled_for_deletion"].endswith("Z")
    [problem] = answer["problems"]
    assert problem.startswith(f"Secret '{name}' is scheduled for deletion on {check['scheduled_for_deletion']}:")
    assert "RestoreSecret" in problem


async def test_a_secret_in_another_region_is_reported_unchecked(tmp_path: Path) -> None:
    arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:elsewhere/github-AbCdEf"
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_secrets", {"secrets": [{"secret_id": arn, "kind": "github"}]})
    assert (answer["ok"], answer["secrets"][0]["exists"]) == (False, None)
    assert answer["problems"] == [
        f"Secret '{arn}' could not be checked: it lives in region us-east-1; this server reads {world.REGION}, so it "
        "was not read"
    ]


async def test_access_denied_names_the_secret_and_the_permission(tmp_path: Path) -> None:
    name = _unique("sec-denied") + "/github"
    arn = f"arn:aws:secretsmanager:{world.REGION}:{ACCOUNT}:secret:{name}-AbCdEf"
    deps = _deps(tmp_path)
    stub = Stubber(deps.aws.client("secretsmanager"))
    stub.add_response("describe_secret", {"ARN": arn, "Name": name}, {"SecretId": name})
    stub.add_client_error(
        "get_secret_value",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:sts::123456789012:assumed-role/deploy/x is not authorized to perform: "
        "secretsmanager:GetSecretValue",
        http_status_code=400,
        expected_params={"SecretId": ANY},
    )
    with stub:
        async with _client(deps) as client:
            answer = await _ok(client, "check_secrets", {"secrets": [{"secret_id": name, "kind": "github"}]})
    stub.assert_no_pending_responses()
    [check] = answer["secrets"]
    assert (check["exists"], check["content"], check["ok"]) == (True, None, False)
    [problem] = answer["problems"]
    assert problem.startswith(f"Secret '{name}' could not be checked: AWS denied secretsmanager:GetSecretValue")
    assert "needs the permission secretsmanager:GetSecretValue" in problem


async def test_a_denied_describe_leaves_existence_unknown(tmp_path: Path) -> None:
    name = _unique("sec-denied-describe")
    deps = _deps(tmp_path)
    stub = Stubber(deps.aws.client("secretsmanager"))
    stub.add_client_error("describe_secret", service_error_code="AccessDeniedException", http_status_code=400)
    with stub:
        async with _client(deps) as client:
            answer = await _ok(client, "check_secrets", {"secrets": [{"secret_id": name, "kind": "custom"}]})
    assert answer["secrets"][0]["exists"] is None
    assert answer["problems"][0].startswith(f"Secret '{name}' could not be checked: AWS denied ")


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        pytest.param({"secrets": [{"secret_id": "a\x00b", "kind": "github"}]}, "NUL character", id="nul"),
        pytest.param({"secrets": [{"secret_id": "x" * 70_000, "kind": "github"}]}, "secrets.0.secret_id", id="huge"),
        pytest.param({"secrets": [{"secret_id": "a/b", "kind": "gitlab"}]}, "secrets.0.kind: should be", id="kind"),
        pytest.param({"secrets": []}, "secrets: ", id="empty-list"),
        pytest.param({"secrets": [{"secret_id": "a b", "kind": "github"}]}, "secrets.0.secret_id", id="space"),
        pytest.param(
            {"secrets": [{"secret_id": "a", "kind": "custom", "required_keys": ["k" * 300]}]},
            "secrets.0.required_keys.0",
            id="huge-key",
        ),
        pytest.param(
            {"secrets": [{"secret_id": "a", "kind": "custom", "value": "x"}]}, "Unknown argument", id="extra-field"
        ),
        pytest.param(
            {"secrets": [{"secret_id": f"arn:aws:ssm:{world.REGION}:{ACCOUNT}:parameter/x", "kind": "custom"}]},
            "is not a Secrets Manager secret ARN",
            id="ssm-arn",
        ),
    ],
)
async def test_bad_input_is_refused_with_a_sentence(tmp_path: Path, arguments: dict[str, Any], said: str) -> None:
    async with _client(_deps(tmp_path)) as client:
        text = await _refused(client, "check_secrets", arguments)
    assert said in text
    assert len(text) < 1000


# -- check_task_secrets ----------------------------------------------------------------------------------------


async def test_the_seeded_service_reads_secrets_that_exist_with_their_keys(tmp_path: Path) -> None:
    seeded = world.seed(_unique("sec-task"))
    async with _client(_deps(tmp_path)) as client:
        by_service = await _ok(client, "check_task_secrets", {"cluster": seeded.cluster, "service": seeded.service})
        by_definition = await _ok(client, "check_task_secrets", {"task_definition": seeded.task_definition})
    assert (by_service["account"], by_service["region"], by_service["ok"]) == (ACCOUNT, world.REGION, True)
    assert by_service["service"] == f"{seeded.cluster}/{seeded.service}"
    assert by_service["task_definition"] == seeded.task_definition.rsplit("/", 1)[-1]
    assert by_service["execution_role"].endswith("-execution")
    assert [
        (r["variable"], r["secret"], r["json_key"], r["exists"], r["key_present"], r["ok"])
        for r in by_service["references"]
    ] == [
        ("GITHUB_TOKEN", seeded.github_secret, "token", True, True, True),
        ("DATABASE_PASSWORD", seeded.database_secret, "password", True, True, True),
    ]
    assert by_service["environment"] == ["app/PAYMENT_API_KEY"]
    assert by_service["problems"] == []
    assert by_service["warnings"][0].startswith("app sets PAYMENT_API_KEY as a plain environment value")
    assert {k: v for k, v in by_definition.items() if k != "service"} == {
        k: v for k, v in by_service.items() if k != "service"
    }
    assert by_definition["service"] is None


def _task_definition(family: str, secrets: list[dict[str, str]], *, execution_role: bool = True) -> str:
    extra = {"executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-execution"} if execution_role else {}
    return world.boto("ecs").register_task_definition(
        family=family,
        containerDefinitions=[
            {"name": "app", "image": "public.ecr.aws/afu9/api:1", "memory": 512, "secrets": secrets},
        ],
        **extra,
    )["taskDefinition"]["taskDefinitionArn"]


async def test_ssm_parameters_are_checked_by_name_without_reading_them(tmp_path: Path) -> None:
    name = _unique("sec-ssm")
    ssm = world.boto("ssm")
    ssm.put_parameter(Name=f"/{name}/db/password", Value="ssm-value-" + "z" * 20, Type="SecureString")
    ssm.put_parameter(Name=f"{name}-flat", Value="flat-value", Type="String")
    prefix = f"arn:aws:ssm:{world.REGION}:{ACCOUNT}:parameter"
    definition = _task_definition(
        name,
        [
            {"name": "BY_PATH_ARN", "valueFrom": f"{prefix}/{name}/db/password"},
            {"name": "BY_FLAT_ARN", "valueFrom": f"{prefix}/{name}-flat"},
            {"name": "BY_NAME", "valueFrom": f"/{name}/db/password"},
            {"name": "MISSING", "valueFrom": f"/{name}/db/nothing"},
        ],
    )
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_task_secrets", {"task_definition": definition})
    assert [(r["variable"], r["source"], r["secret"], r["exists"], r["ok"]) for r in answer["references"]] == [
        ("BY_PATH_ARN", "ssm", f"/{name}/db/password", True, True),
        ("BY_FLAT_ARN", "ssm", f"{name}-flat", True, True),
        ("BY_NAME", "ssm", f"/{name}/db/password", True, True),
        ("MISSING", "ssm", f"/{name}/db/nothing", False, False),
    ]
    assert answer["problems"] == [
        f"app/MISSING: SSM parameter '/{name}/db/nothing' does not exist in SSM Parameter Store in {world.REGION}."
    ]
    assert "ssm-value" not in json.dumps(answer)


async def test_broken_references_are_each_named(tmp_path: Path) -> None:
    name = _unique("sec-broken")
    seeded = world.seed(name)
    text = _secret(f"{name}/text", "not-json-at-all")
    doomed = _secret(f"{name}/doomed", {"token": "t" * 20})
    world.boto("secretsmanager").delete_secret(SecretId=doomed, RecoveryWindowInDays=7)
    absent = f"arn:aws:secretsmanager:{world.REGION}:{ACCOUNT}:secret:{name}/absent-AbCdEf"
    kms = f"arn:aws:kms:{world.REGION}:{ACCOUNT}:key/0000"
    definition = _task_definition(
        name + "-broken",
        [
            {"name": "DB_NAME", "valueFrom": f"{seeded.database_secret}:database::"},
            {"name": "STAGED", "valueFrom": f"{seeded.github_secret}:token:NOSUCHSTAGE:"},
            {"name": "TEXT_KEY", "valueFrom": f"{text}:key::"},
            {"name": "TEXT_WHOLE", "valueFrom": text},
            {"name": "DOOMED", "valueFrom": f"{doomed}:token::"},
            {"name": "ABSENT", "valueFrom": f"{absent}:token::"},
            {"name": "ODD", "valueFrom": kms},
        ],
        execution_role=False,
    )
    async with _client(_deps(tmp_path)) as client:
        answer = await _ok(client, "check_task_secrets", {"task_definition": definition})
    assert answer["ok"] is False
    assert answer["execution_role"] is None
    summary = {r["variable"]: (r["exists"], r["key_present"], r["ok"]) for r in answer["references"]}
    assert summary == {
        "DB_NAME": (True, False, False),
        "STAGED": (True, None, False),
        "TEXT_KEY": (True, False, False),
        "TEXT_WHOLE": (True, None, True),
        "DOOMED": (True, None, False),
        "ABSENT": (False, None, False),
        "ODD": (None, None, False),
    }
    assert answer["references"][1]["version"] == "NOSUCHSTAGE"
    assert answer["references"][-1]["source"] == "unknown"
    problems = answer["problems"]
    assert problems[0] == f"app/DB_NAME: Secret '{seeded.database_secret}' lacks the key database."
    assert problems[1] == f"app/STAGED: Secret '{seeded.github_secret}' has no version NOSUCHSTAGE."
    assert (
        problems[2]
        == f"app/TEXT_KEY: Secret '{text}' is not a JSON object (plain text), so ECS cannot read its key key."
    )
    assert problems[3].startswith(f"app/DOOMED: Secret '{doomed}' is scheduled for deletion on ")
    assert problems[4] == f"app/ABSENT: Secret '{absent}' does not exist in Secrets Manager in {world.REGION}."
    assert problems[5].startswith(f"app/ODD: '{kms}' is neither a Secrets Manager secret ARN")
    assert problems[6].startswith(f"Task definition {name}-broken:1 references secrets but has no execution role")
    assert len(problems) == 7


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        pytest.param({"cluster": "c"}, "Give cluster and service", id="cluster-only"),
        pytest.param({}, "Give cluster and service", id="nothing"),
        pytest.param({"cluster": "c", "service": "s", "task_definition": "t:1"}, "not both", id="both"),
        pytest.param({"task_definition": "x\x00"}, "NUL character", id="nul"),
        pytest.param({"task_definition": "t" * 70_000}, "task_definition", id="huge"),
        pytest.param({"cluster": "ghost-cluster", "service": "ghost"}, "ecs:DescribeServices", id="no-service"),
        pytest.param({"task_definition": "ghost-family:9"}, "ecs:DescribeTaskDefinition", id="no-definition"),
    ],
)
async def test_bad_task_input_is_refused_with_a_sentence(tmp_path: Path, arguments: dict[str, Any], said: str) -> None:
    async with _client(_deps(tmp_path)) as client:
        text = await _refused(client, "check_task_secrets", arguments)
    assert said in text
    assert len(text) < 1000


# -- no value anywhere -----------------------------------------------------------------------------------------


async def test_no_answer_and_no_log_record_carries_a_secret_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = _unique("sec-leak")
    seeded = world.seed(name)
    marker = uuid.uuid4().hex
    values = {key: f"{key}-value-{marker}" for key in ("token", "webhook_secret", "api_key", "database")}
    custom = _secret(f"{name}/custom", values)
    text_value = f"plain-text-secret-{marker}"
    text = _secret(f"{name}/text", text_value)
    listed_value = f"listed-secret-{marker}"
    listed = _secret(f"{name}/listed", [listed_value])
    secret_values = [*GITHUB_VALUES, DATABASE_PASSWORD, world.ENVIRONMENT_SECRET, *values.values()]
    secret_values += [text_value, listed_value]
    definition = _task_definition(
        name + "-leak", [{"name": "TOKEN", "valueFrom": f"{custom}:token::"}, {"name": "TEXT", "valueFrom": text}]
    )
    caplog.set_level(logging.DEBUG)
    caplog.clear()  # seeding's own requests carried the values
    calls = [
        (
            "check_secrets",
            {
                "secrets": [
                    {"secret_id": seeded.github_secret, "kind": "github"},
                    {"secret_id": seeded.database_secret, "kind": "database"},
                    {"secret_id": custom, "kind": "custom", "required_keys": ["token", "missing_one"]},
                    {"secret_id": f"{custom}:api_key::", "kind": "database"},
                    {"secret_id": text, "kind": "github"},
                    {"secret_id": listed, "kind": "custom", "required_keys": ["x"]},
                ]
            },
        ),
        ("check_task_secrets", {"cluster": seeded.cluster, "service": seeded.service}),
        ("check_task_secrets", {"task_definition": seeded.task_definition}),
        ("check_task_secrets", {"task_definition": definition}),
    ]
    shown: list[str] = []
    async with _client(_deps(tmp_path)) as client:
        for tool, arguments in calls:
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, _text(result)
            shown += [_text(result), json.dumps(result.structured_content)]
    logged = [
        f"{record.name} {record.getMessage()} {record.exc_text or ''} {vars(record)}" for record in caplog.records
    ]
    assert any(record.name.startswith("botocore") for record in caplog.records), "DEBUG records were not captured"
    for value in secret_values:
        assert not [text for text in shown if value in text], f"an answer shows the value {value[:6]}…"
        assert not [line for line in logged if value in line], f"a log record holds the value {value[:6]}…"
