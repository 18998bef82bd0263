"""The stacks toolset: the diff gate table-driven over real-shaped change set Changes and templates (JSON and YAML
with CloudFormation's short tags), stacks listed and described, change sets previewed, executed behind the gate
and refused without an approval, and drift. moto for what it models (stacks, change sets that add, modify and
remove, execution); botocore's Stubber with the real API shapes for what it does not (failed resource events,
replacements with their Details, change sets still being computed, paging, drift)."""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from botocore.stub import ANY, Stubber
from mcp import Client

from servers.deploy.deps import DeployDeps
from servers.deploy.server import SERVER
from servers.deploy.settings import DeploySettings
from servers.deploy.stacks import Change, classify, iam_wildcards, is_stateful, judge, parse_template
from shared.errors import InvalidRequest
from tests.servers.deploy import world

stacks_tools = importlib.import_module("servers.deploy.tools.stacks")  # the module (the package exports the toolset)

ACCOUNT = "123456789012"
STACK_ARN = f"arn:aws:cloudformation:{world.REGION}:{ACCOUNT}:stack/shop/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
CHANGE_SET_ARN = (
    f"arn:aws:cloudformation:{world.REGION}:{ACCOUNT}:changeSet/afu9-preview/1a2b3c4d-5e6f-4789-8abc-def012345678"
)
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


# -- helpers --------------------------------------------------------------------------------------------------------


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:8]}"


def _settings(tmp_path: Path, **overrides: Any) -> DeploySettings:
    return DeploySettings(**({"data_dir": tmp_path, "toolsets": ["all"], "allow_writes": True} | overrides))


@pytest.fixture
def deps(tmp_path: Path) -> DeployDeps:
    return world.deps(_settings(tmp_path))


@pytest.fixture
async def client(deps: DeployDeps) -> AsyncIterator[Client]:
    async with Client(SERVER.build(deps.settings, deps=deps)) as served:
        yield served


@pytest.fixture
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """Waits poll at once (the stubs answer the next state straight away)."""
    monkeypatch.setattr(stacks_tools, "POLL_SECONDS", 0.0)


async def _ok(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, " ".join(getattr(block, "text", "") for block in result.content)
    assert result.structured_content is not None
    return result.structured_content


async def _refused(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    message = " ".join(getattr(block, "text", "") for block in result.content)
    assert "Traceback" not in message
    return message


def _stub(deps: DeployDeps) -> Stubber:
    """A Stubber on the server's own CloudFormation client (STS still answers from moto)."""
    return Stubber(deps.aws.client("cloudformation"))


def _json(template: dict[str, Any]) -> str:
    return json.dumps(template)


def _queue(name: str) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name}}


def _bucket(name: str) -> dict[str, Any]:
    return {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}}


def _resource_change(
    action: str,
    logical: str,
    kind: str,
    *,
    replacement: str | None = None,
    physical: str | None = None,
    details: list[dict[str, Any]] | None = None,
    policy: str | None = None,
) -> dict[str, Any]:
    """One entry of DescribeChangeSet's Changes, shaped as AWS sends it."""
    change: dict[str, Any] = {"Action": action, "LogicalResourceId": logical, "ResourceType": kind, "Scope": []}
    if physical is not None:
        change["PhysicalResourceId"] = physical
    if replacement is not None:
        change["Replacement"] = replacement
    if details is not None:
        change["Details"] = details
        change["Scope"] = sorted({d["Target"]["Attribute"] for d in details})
    if policy is not None:
        change["PolicyAction"] = policy
    return {"Type": "Resource", "ResourceChange": change}


def _detail(name: str, recreation: str = "Never", attribute: str = "Properties") -> dict[str, Any]:
    return {
        "Target": {"Attribute": attribute, "Name": name, "RequiresRecreation": recreation},
        "Evaluation": "Static",
        "ChangeSource": "DirectModification",
    }


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: Any, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": "*", **more}


def _role(*statements: dict[str, Any], managed: list[Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "AssumeRolePolicyDocument": _policy(
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
        "Policies": [{"PolicyName": "app", "PolicyDocument": _policy(*statements)}],
    }
    if managed is not None:
        properties["ManagedPolicyArns"] = managed
    return {"Type": "AWS::IAM::Role", "Properties": properties}


def _template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


# -- templates ------------------------------------------------------------------------------------------------------

YAML_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Parameters:
  Env: {Type: String, Default: dev}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-jobs"
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: 2012-10-17
        Statement:
          - Effect: Allow
            Principal: {Service: ecs-tasks.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: jobs
          PolicyDocument:
            Version: 2012-10-17
            Statement:
              - Effect: Allow
                Action: [sqs:SendMessage, "sqs:*"]
                Resource: !GetAtt Queue.Arn
              - !If
                - IsProd
                - {Effect: Allow, Action: "s3:GetObject", Resource: "*"}
                - !Ref AWS::NoValue
Outputs:
  QueueUrl:
    Value: !Ref Queue
    Export: {Name: !Join ["-", [!Ref "AWS::StackName", queue]]}
  Zones:
    Value: !Select [0, !GetAZs ""]
"""


def test_a_yaml_template_with_short_tags_is_read_in_their_long_form() -> None:
    template = parse_template(YAML_TEMPLATE)
    resources = template["Resources"]
    assert resources["Queue"]["Properties"]["QueueName"] == {"Fn::Sub": "${AWS::StackName}-jobs"}
    statements = resources["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statements[0]["Resource"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert statements[1]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    assert template["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Env"}, "prod"]}
    assert template["Outputs"]["Zones"]["Value"] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
    assert resources["TaskRole"]["Properties"]["AssumeRolePolicyDocument"]["Version"] == "2012-10-17"  # not a date


def test_a_json_template_is_read_as_json() -> None:
    assert parse_template(_json(_template(Queue=_queue("q"))))["Resources"]["Queue"]["Type"] == "AWS::SQS::Queue"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        pytest.param('{"Resources": {', "is not valid JSON", id="broken-json"),
        pytest.param("Resources:\n  Queue: [unclosed\n", "neither JSON nor valid YAML", id="broken-yaml"),
        pytest.param("Resources:\n\tQueue: {}\n", "neither JSON nor valid YAML", id="tab-indent"),
        pytest.param("just words", "must be a JSON or YAML mapping", id="a-string"),
        pytest.param("- a\n- b\n", "must be a JSON or YAML mapping", id="a-list"),
        pytest.param("Parameters: {}\n", "has no Resources section", id="no-resources"),
        pytest.param('{"Resources": []}', "has no Resources section", id="resources-not-a-mapping"),
        pytest.param("[" * 5000, "neither JSON nor valid YAML", id="deep-nesting"),
        pytest.param("{" * 5000, "is not valid JSON", id="deep-json"),
        pytest.param("a: !Sub [unclosed", "neither JSON nor valid YAML", id="broken-tag"),
    ],
)
def test_a_template_that_is_not_one_is_refused_with_why(body: str, said: str) -> None:
    with pytest.raises(InvalidRequest, match=said):
        parse_template(body)


def test_an_oversize_template_is_refused_pointing_to_s3() -> None:
    body = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n# " + "é" * 30_000 + "\n"
    with pytest.raises(InvalidRequest, match=r"at most 51,200 in a request\. Upload the template to S3"):
        parse_template(body)


# -- IAM wildcards --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "found"),
    [
        pytest.param(_role(_allow("*")), {"app: Allow Action '*'"}, id="role-star"),
        pytest.param(_role(_allow(["s3:GetObject", "s3:*"])), {"app: Allow Action 's3:*'"}, id="role-service-star"),
        pytest.param(_role(_allow(["s3:GetObject", "s3:Get*"])), set[str](), id="partial-wildcard-is-not"),
        pytest.param(_role({"Effect": "Deny", "Action": "*", "Resource": "*"}), set[str](), id="deny-star"),
        pytest.param(
            _role({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}),
            {"app: Allow with NotAction (every action but the ones listed)"},
            id="not-action",
        ),
        pytest.param(
            {
                "Type": "AWS::IAM::Policy",
                "Properties": {"PolicyName": "ci", "PolicyDocument": _policy(_allow("ec2:*")), "Roles": ["r"]},
            },
            {"ci: Allow Action 'ec2:*'"},
            id="policy",
        ),
        pytest.param(
            {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {"ManagedPolicyName": "ops", "PolicyDocument": json.dumps(_policy(_allow("*")))},
            },
            {"ops: Allow Action '*'"},
            id="managed-policy-as-text",
        ),
        pytest.param(
            {
                "Type": "AWS::IAM::Policy",
                "Properties": {"PolicyName": "one", "PolicyDocument": {"Statement": _allow("*")}},
            },
            {"one: Allow Action '*'"},
            id="single-statement",
        ),
        pytest.param(
            _role(_allow("logs:PutLogEvents"), managed=["arn:aws:iam::aws:policy/AdministratorAccess"]),
            {"managed policy AdministratorAccess (Action '*')"},
            id="administrator-access",
        ),
        pytest.param(
            _role(_allow("logs:PutLogEvents"), managed=[{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/ReadOnly"}]),
            set[str](),
            id="managed-by-intrinsic",
        ),
        pytest.param(
            _role({"Fn::If": ["IsProd", _allow("kms:*"), {"Ref": "AWS::NoValue"}]}),
            {"app: Allow Action 'kms:*'"},
            id="statement-behind-if",
        ),
        pytest.param(
            {"Type": "AWS::SQS::QueuePolicy", "Properties": {"PolicyDocument": _policy(_allow("*"))}},
            set[str](),
            id="resource-policy-is-not-iam",
        ),
        pytest.param({"Type": "AWS::IAM::Role", "Properties": "not a mapping"}, set[str](), id="garbage"),
    ],
)
def test_wildcard_grants_are_found_in_every_kind_of_iam_policy(resource: dict[str, Any], found: set[str]) -> None:
    assert iam_wildcards(resource) == found


# -- the diff gate ---------------------------------------------------------------------------------------------------

DB_REPLACED = _resource_change(
    "Modify",
    "Database",
    "AWS::RDS::DBInstance",
    replacement="True",
    physical="shop-db",
    details=[_detail("DBInstanceIdentifier", "Always"), _detail("DBInstanceClass", "Conditionally")],
)
BUCKET_REMOVED = _resource_change("Remove", "Assets", "AWS::S3::Bucket", physical="shop-assets")
BUCKET_TAGGED = _resource_change(
    "Modify", "Assets", "AWS::S3::Bucket", replacement="False", physical="shop-assets", details=[_detail("Tags")]
)
LOGS_CONDITIONAL = _resource_change(
    "Modify",
    "AppLogs",
    "AWS::Logs::LogGroup",
    replacement="Conditional",
    physical="/shop/app",
    details=[_detail("LogGroupName", "Conditionally")],
)


@pytest.mark.parametrize(
    ("changes", "template", "previous", "expected"),
    [
        pytest.param(
            [DB_REPLACED],
            None,
            None,
            [
                (
                    "Database",
                    "replaces_stateful",
                    "would be replaced (shop-db) because DBInstanceClass, DBInstanceIdentifier change: a new, "
                    "empty one is created and the old one deleted",
                )
            ],
            id="rds-replaced",
        ),
        pytest.param(
            [BUCKET_REMOVED],
            None,
            None,
            [
                (
                    "Assets",
                    "deletes_stateful",
                    "would be removed from the stack (shop-assets): it and its data are deleted",
                )
            ],
            id="bucket-removed",
        ),
        pytest.param([BUCKET_TAGGED], None, None, [], id="bucket-modified-in-place"),
        pytest.param(
            [LOGS_CONDITIONAL],
            None,
            None,
            [
                (
                    "AppLogs",
                    "replaces_stateful",
                    "may be replaced (/shop/app) because LogGroupName change (Replacement: Conditional): its data "
                    "could be lost",
                )
            ],
            id="log-group-conditional",
        ),
        pytest.param(
            [_resource_change("Remove", "Cache", "AWS::ElastiCache::ReplicationGroup", physical="shop-cache")],
            None,
            None,
            [
                (
                    "Cache",
                    "deletes_stateful",
                    "would be removed from the stack (shop-cache): it and its data are deleted",
                )
            ],
            id="elasticache-any-type",
        ),
        pytest.param(
            [_resource_change("Dynamic", "Key", "AWS::KMS::Key")],
            None,
            None,
            [
                (
                    "Key",
                    "replaces_stateful",
                    "its change is decided only at execution (Dynamic): it could be replaced or deleted",
                )
            ],
            id="kms-dynamic",
        ),
        pytest.param(
            [
                _resource_change("Remove", "Jobs", "AWS::SQS::Queue"),
                _resource_change("Add", "Api", "AWS::Lambda::Function"),
            ],
            None,
            None,
            [],
            id="stateless-remove-and-add",
        ),
        pytest.param(
            [
                _resource_change(
                    "Modify",
                    "Api",
                    "AWS::Lambda::Function",
                    replacement="True",
                    details=[_detail("FunctionName", "Always")],
                )
            ],
            None,
            None,
            [],
            id="stateless-replaced",
        ),
        pytest.param(
            [_resource_change("Remove", "Token", "AWS::SecretsManager::Secret", physical="shop/token")],
            None,
            _template(Token={"Type": "AWS::SecretsManager::Secret", "DeletionPolicy": "Retain"}),
            [
                (
                    "Token",
                    "deletes_stateful",
                    "would be removed from the stack (shop/token) (DeletionPolicy Retain: AWS keeps it or a snapshot, "
                    "but the stack no longer manages it)",
                )
            ],
            id="secret-removed-but-retained",
        ),
        pytest.param(
            [
                _resource_change(
                    "Modify", "Table", "AWS::DynamoDB::Table", replacement="True", policy="ReplaceAndRetain"
                )
            ],
            None,
            None,
            [
                (
                    "Table",
                    "replaces_stateful",
                    "would be replaced: a new, empty one is created and the old one deleted (ReplaceAndRetain: the old "
                    "one is kept)",
                )
            ],
            id="table-replaced-old-kept",
        ),
        pytest.param(
            [_resource_change("Add", "TaskRole", "AWS::IAM::Role")],
            _template(TaskRole=_role(_allow("*"))),
            None,
            [("TaskRole", "iam_wildcard", "grants wildcard actions: app: Allow Action '*'")],
            id="new-role-with-star",
        ),
        pytest.param(
            [
                _resource_change(
                    "Modify", "TaskRole", "AWS::IAM::Role", replacement="False", details=[_detail("Policies")]
                )
            ],
            _template(TaskRole=_role(_allow("s3:*"), _allow("sqs:SendMessage"))),
            _template(TaskRole=_role(_allow("s3:*"))),
            [],
            id="wildcard-already-there-is-not-widening",
        ),
        pytest.param(
            [
                _resource_change(
                    "Modify", "TaskRole", "AWS::IAM::Role", replacement="False", details=[_detail("Policies")]
                )
            ],
            _template(TaskRole=_role(_allow("s3:*"), _allow("dynamodb:*"))),
            _template(TaskRole=_role(_allow("s3:*"))),
            [("TaskRole", "iam_wildcard", "grants wildcard actions: app: Allow Action 'dynamodb:*'")],
            id="widened-to-another-service",
        ),
        pytest.param(
            [_resource_change("Remove", "TaskRole", "AWS::IAM::Role")],
            _template(Queue=_queue("q")),
            _template(TaskRole=_role(_allow("*"))),
            [],
            id="removing-a-wildcard-role",
        ),
        pytest.param(
            [
                _resource_change("Add", "Queue", "AWS::SQS::Queue"),
                _resource_change("Add", "TaskRole", "AWS::IAM::Role"),
            ],
            parse_template(YAML_TEMPLATE),
            None,
            [("TaskRole", "iam_wildcard", "grants wildcard actions: jobs: Allow Action 'sqs:*'")],
            id="yaml-with-short-tags",
        ),
    ],
)
def test_the_gate_blocks_stateful_deletes_and_replacements_and_iam_wildcards(
    changes: list[dict[str, Any]],
    template: dict[str, Any] | None,
    previous: dict[str, Any] | None,
    expected: list[tuple[str, str, str]],
) -> None:
    verdict = judge(changes, template, previous)
    assert [(f.logical_id, f.rule, f.why) for f in verdict.findings] == expected
    assert verdict.verdict == ("blocked" if expected else "allowed")


def test_the_gate_says_when_it_could_not_check_iam() -> None:
    verdict = judge([_resource_change("Add", "TaskRole", "AWS::IAM::Role")], None)
    assert verdict.verdict == "allowed"
    assert verdict.note == "IAM of TaskRole not checked: the template read does not hold it."


@pytest.mark.parametrize(
    "kind",
    [
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::S3::Bucket",
        "AWS::SecretsManager::Secret",
        "AWS::Logs::LogGroup",
        "AWS::DynamoDB::Table",
        "AWS::EFS::FileSystem",
        "AWS::ElastiCache::CacheCluster",
        "AWS::ElastiCache::ServerlessCache",
        "AWS::KMS::Key",
    ],
)
def test_the_stateful_types_of_the_issue_are_stateful(kind: str) -> None:
    assert is_stateful(kind)


def test_changes_are_classified_per_resource_with_what_forces_replacement() -> None:
    changes = [
        _resource_change("Add", "Queue", "AWS::SQS::Queue"),
        BUCKET_TAGGED,
        DB_REPLACED,
        LOGS_CONDITIONAL,
        BUCKET_REMOVED,
        _resource_change("Import", "Old", "AWS::S3::Bucket", physical="old-bucket"),
        _resource_change("Dynamic", "Nested", "AWS::CloudFormation::Stack"),
    ]
    assert classify(changes) == [
        Change(
            logical_id="Queue", type="AWS::SQS::Queue", physical_id=None, change="add", properties=[], replaced_by=[]
        ),
        Change(
            logical_id="Assets",
            type="AWS::S3::Bucket",
            physical_id="shop-assets",
            change="modify",
            properties=["Tags"],
            replaced_by=[],
        ),
        Change(
            logical_id="Database",
            type="AWS::RDS::DBInstance",
            physical_id="shop-db",
            change="replace",
            properties=["DBInstanceIdentifier", "DBInstanceClass"],
            replaced_by=["DBInstanceIdentifier", "DBInstanceClass"],
        ),
        Change(
            logical_id="AppLogs",
            type="AWS::Logs::LogGroup",
            physical_id="/shop/app",
            change="may_replace",
            properties=["LogGroupName"],
            replaced_by=["LogGroupName"],
        ),
        Change(
            logical_id="Assets",
            type="AWS::S3::Bucket",
            physical_id="shop-assets",
            change="remove",
            properties=[],
            replaced_by=[],
        ),
        Change(
            logical_id="Old",
            type="AWS::S3::Bucket",
            physical_id="old-bucket",
            change="import",
            properties=[],
            replaced_by=[],
        ),
        Change(
            logical_id="Nested",
            type="AWS::CloudFormation::Stack",
            physical_id=None,
            change="dynamic",
            properties=[],
            replaced_by=[],
        ),
    ]


# -- stacks on moto -------------------------------------------------------------------------------------------------


def _create_stack(name: str, template: dict[str, Any], **more: Any) -> str:
    return str(
        world.boto("cloudformation").create_stack(StackName=name, TemplateBody=_json(template), **more)["StackId"]
    )


async def test_stacks_are_listed_by_prefix_page_by_page(client: Client) -> None:
    prefix = _name("ls")
    names = [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    for name in names:
        _create_stack(name, _template(Queue=_queue(name)))

    page = await _ok(client, "list_stacks", name_prefix=prefix, limit=2)
    assert len(page["stacks"]) == 2
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(5):
        page = await _ok(client, "list_stacks", name_prefix=prefix, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += page["stacks"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(stack["name"] for stack in seen) == names
    assert {stack["status"] for stack in seen} == {"CREATE_COMPLETE"}
    assert (page["account"], page["region"]) == (ACCOUNT, world.REGION)


async def test_a_bad_cursor_is_refused(client: Client) -> None:
    assert "The cursor is not valid" in await _refused(client, "list_stacks", cursor="not-a-cursor")


async def test_a_stack_is_described_with_outputs_and_parameters_without_no_echo_values(client: Client) -> None:
    name = _name("desc")
    template = _template(Queue=_queue(name))
    template["Parameters"] = {
        "Env": {"Type": "String", "Default": "dev"},
        "DbPassword": {"Type": "String", "NoEcho": True},
    }
    template["Outputs"] = {"QueueUrl": {"Value": {"Ref": "Queue"}, "Export": {"Name": f"{name}-queue"}}}
    _create_stack(
        name,
        template,
        Parameters=[
            {"ParameterKey": "Env", "ParameterValue": "prod"},
            {"ParameterKey": "DbPassword", "ParameterValue": "hunter2-very-secret"},
        ],
    )

    answer = await _ok(client, "describe_stack", stack=name)

    assert (answer["name"], answer["status"], answer["first_failure"], answer["failed_events"]) == (
        name,
        "CREATE_COMPLETE",
        None,
        [],
    )
    assert sorted((p["key"], p["value"]) for p in answer["parameters"]) == [("DbPassword", None), ("Env", "prod")]
    assert "hunter2" not in json.dumps(answer)
    assert answer["outputs"] == [{"key": "QueueUrl", "value": answer["outputs"][0]["value"], "export": f"{name}-queue"}]
    assert name in answer["outputs"][0]["value"]
    assert answer["next"].startswith("preview_change_set")


async def test_an_unknown_stack_is_refused_as_not_found(client: Client) -> None:
    message = await _refused(client, "describe_stack", stack=_name("nope"))
    assert "There is no stack" in message
    assert "list_stacks" in message


async def test_failed_resource_events_are_shown_with_their_reasons_and_the_first_failure(
    deps: DeployDeps, client: Client
) -> None:
    def event(minute: int, logical: str, kind: str, status: str, reason: str | None = None) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "StackId": STACK_ARN,
            "EventId": f"{logical}-{minute}",
            "StackName": "shop",
            "LogicalResourceId": logical,
            "PhysicalResourceId": STACK_ARN if kind == "AWS::CloudFormation::Stack" else f"shop-{logical.lower()}",
            "ResourceType": kind,
            "Timestamp": NOW + timedelta(minutes=minute),
            "ResourceStatus": status,
        }
        if reason is not None:
            raw["ResourceStatusReason"] = reason
        return raw

    stack = "AWS::CloudFormation::Stack"
    events = [  # newest first, as AWS lists them
        event(9, "shop", stack, "UPDATE_ROLLBACK_COMPLETE"),
        event(8, "Api", "AWS::Lambda::Function", "UPDATE_COMPLETE"),
        event(
            6, "shop", stack, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [Database]."
        ),
        event(5, "Api", "AWS::Lambda::Function", "UPDATE_FAILED", "Resource update cancelled"),
        event(
            4,
            "Database",
            "AWS::RDS::DBInstance",
            "UPDATE_FAILED",
            'Resource handler returned message: "RDS does not support creating a DB instance with the following '
            'combination: DBInstanceClass=db.t2.nano, Engine=postgres" (HandlerErrorCode: InvalidRequest)',
        ),
        event(3, "shop", stack, "UPDATE_IN_PROGRESS", "User Initiated"),
        event(1, "Assets", "AWS::S3::Bucket", "CREATE_FAILED", "shop-assets already exists"),
        event(0, "shop", stack, "CREATE_IN_PROGRESS", "User Initiated"),
    ]
    cfn = _stub(deps)
    cfn.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackId": STACK_ARN,
                    "StackName": "shop",
                    "CreationTime": NOW,
                    "LastUpdatedTime": NOW + timedelta(minutes=3),
                    "StackStatus": "UPDATE_ROLLBACK_COMPLETE",
                    "DriftInformation": {"StackDriftStatus": "NOT_CHECKED"},
                }
            ]
        },
        {"StackName": "shop"},
    )
    cfn.add_response(
        "describe_stack_events", {"StackEvents": events[:4], "NextToken": "page-2"}, {"StackName": STACK_ARN}
    )
    cfn.add_response(
        "describe_stack_events", {"StackEvents": events[4:]}, {"StackName": STACK_ARN, "NextToken": "page-2"}
    )
    with cfn:
        answer = await _ok(client, "describe_stack", stack="shop")
    cfn.assert_no_pending_responses()

    assert answer["status"] == "UPDATE_ROLLBACK_COMPLETE"
    assert answer["drift"] == "NOT_CHECKED"
    assert [(e["logical_id"], e["status"]) for e in answer["failed_events"]] == [
        ("Api", "UPDATE_FAILED"),
        ("Database", "UPDATE_FAILED"),
        ("Assets", "CREATE_FAILED"),
    ]
    first = answer["first_failure"]
    assert (first["logical_id"], first["type"], first["at"]) == (
        "Database",
        "AWS::RDS::DBInstance",
        "2026-05-04T12:04:00Z",
    )
    assert "DBInstanceClass=db.t2.nano" in first["reason"]
    assert answer["next"].startswith("Fix the cause in first_failure")


# -- change sets on moto --------------------------------------------------------------------------------------------


async def test_a_new_stack_is_previewed_as_adds_and_executed(client: Client) -> None:
    name = _name("new")
    body = _json(_template(Jobs=_queue(f"{name}-jobs"), Assets=_bucket(f"{name}-assets")))

    preview = await _ok(client, "preview_change_set", stack=name, template_body=body)

    assert (preview["change_set_type"], preview["status"], preview["no_changes"]) == (
        "CREATE",
        "CREATE_COMPLETE",
        False,
    )
    assert sorted((c["logical_id"], c["type"], c["change"]) for c in preview["changes"]) == [
        ("Assets", "AWS::S3::Bucket", "add"),
        ("Jobs", "AWS::SQS::Queue", "add"),
    ]
    assert preview["gate"] == {"verdict": "allowed", "findings": [], "note": None}
    assert preview["next"] == "execute_change_set to apply it."
    assert (
        world.boto("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    )

    executed = await _ok(client, "execute_change_set", change_set_id=preview["change_set_id"])

    assert (executed["stack"], executed["stack_status"], executed["approval"]) == (name, "CREATE_COMPLETE", None)
    assert world.boto("s3").head_bucket(Bucket=f"{name}-assets")["ResponseMetadata"]["HTTPStatusCode"] == 200
    again = await _refused(client, "execute_change_set", change_set_id=preview["change_set_id"])
    assert "cannot be executed: status CREATE_COMPLETE, execution status EXECUTE_COMPLETE" in again


async def test_an_update_is_classified_and_a_stateful_delete_blocks_until_approved(client: Client) -> None:
    name = _name("upd")
    _create_stack(name, _template(Jobs=_queue(f"{name}-jobs"), Assets=_bucket(f"{name}-assets")))
    body = _json(_template(Jobs=_queue(f"{name}-jobs2"), Events=_queue(f"{name}-events")))

    preview = await _ok(client, "preview_change_set", stack=name, template_body=body)

    assert preview["change_set_type"] == "UPDATE"
    assert sorted((c["logical_id"], c["change"]) for c in preview["changes"]) == [
        ("Assets", "remove"),
        ("Events", "add"),
        ("Jobs", "modify"),
    ]
    assert preview["gate"]["verdict"] == "blocked"
    assert [(f["logical_id"], f["rule"]) for f in preview["gate"]["findings"]] == [("Assets", "deletes_stateful")]
    assert "approval" in preview["next"]

    refused = await _refused(client, "execute_change_set", change_set_id=preview["change_set_id"])
    assert f"The diff gate blocks change set {preview['change_set_id'].split('/')[1]} of stack {name}" in refused
    assert "Assets (AWS::S3::Bucket) would be removed from the stack" in refused
    assert "approval" in refused
    assert "Nothing was executed" in refused
    assert world.boto("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"

    executed = await _ok(client, "execute_change_set", change_set_id=preview["change_set_id"], approval="CHG-1234")

    assert (executed["approval"], executed["gate"]["verdict"]) == ("CHG-1234", "blocked")
    assert executed["stack_status"] == "UPDATE_COMPLETE"
    resources = world.boto("cloudformation").describe_stack_resources(StackName=name)["StackResources"]
    assert sorted(r["LogicalResourceId"] for r in resources) == ["Events", "Jobs"]


async def test_a_wildcard_iam_role_in_a_yaml_template_blocks_the_preview(client: Client) -> None:
    name = _name("iam")
    preview = await _ok(client, "preview_change_set", stack=name, template_body=YAML_TEMPLATE)
    assert preview["gate"]["verdict"] == "blocked"
    assert preview["gate"]["findings"] == [
        {
            "logical_id": "TaskRole",
            "type": "AWS::IAM::Role",
            "rule": "iam_wildcard",
            "why": "grants wildcard actions: jobs: Allow Action 'sqs:*'",
        }
    ]


async def test_a_template_that_changes_nothing_is_reported_plainly(client: Client) -> None:
    name = _name("same")
    template = _template(Jobs=_queue(f"{name}-jobs"))
    _create_stack(name, template)

    preview = await _ok(client, "preview_change_set", stack=name, template_body=_json(template))

    assert (preview["no_changes"], preview["changes"], preview["gate"]) == (True, [], None)
    assert preview["next"].startswith("Nothing to change")


async def test_parameters_not_given_keep_their_value_and_unknown_ones_are_refused(client: Client) -> None:
    name = _name("par")
    template = _template(Jobs={"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Prefix}-jobs"}}})
    template["Parameters"] = {"Prefix": {"Type": "String"}, "Env": {"Type": "String", "Default": "dev"}}
    _create_stack(name, template, Parameters=[{"ParameterKey": "Prefix", "ParameterValue": name}])

    message = await _refused(
        client, "preview_change_set", stack=name, template_body=_json(template), parameters={"Stage": "x"}
    )
    assert "The template declares no parameter Stage; it declares: Env, Prefix." in message

    preview = await _ok(
        client, "preview_change_set", stack=name, template_body=_json(template), parameters={"Env": "prod"}
    )
    assert preview["status"] == "CREATE_COMPLETE"


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        pytest.param({"template_body": "Resources: [unclosed"}, "neither JSON nor valid YAML", id="unparseable"),
        pytest.param({"template_body": '{"Resources": {}}'}, "has no Resources section", id="empty"),
        pytest.param(
            {"template_body": "Resources:\n  Q: {Type: AWS::SQS::Queue}\n# " + "€" * 20_000},
            "Upload the template to S3 and pass template_url",
            id="oversize-in-bytes",
        ),
        pytest.param({"template_body": "x" * 60_000}, "Invalid arguments", id="oversize-in-characters"),
        pytest.param({}, "Give the template as template_body", id="no-template"),
        pytest.param(
            {"template_body": "Resources: {}", "template_url": "https://s3.amazonaws.com/b/t.yaml"},
            "Give the template as template_body",
            id="both",
        ),
    ],
)
async def test_a_bad_template_is_refused_before_anything_is_created(
    client: Client, arguments: dict[str, Any], said: str
) -> None:
    name = _name("bad")
    message = await _refused(client, "preview_change_set", stack=name, **arguments)
    assert said in message
    assert name not in json.dumps(world.boto("cloudformation").list_stacks()["StackSummaries"], default=str)


async def test_an_unknown_change_set_is_refused_as_not_found(client: Client) -> None:
    name = _name("gone")
    _create_stack(name, _template(Jobs=_queue(name)))
    message = await _refused(client, "get_change_set", change_set_id="no-such-change-set", stack=name)
    assert "There is no change set 'no-such-change-set'" in message
    message = await _refused(client, "execute_change_set", change_set_id=CHANGE_SET_ARN)
    assert "There is no change set" in message


async def test_execute_is_refused_while_writes_are_off_naming_the_setting(tmp_path: Path) -> None:
    settings = _settings(tmp_path, allow_writes=False)
    async with Client(SERVER.build(settings, deps=world.deps(settings))) as client:
        message = await _refused(client, "execute_change_set", change_set_id=CHANGE_SET_ARN, approval="CHG-1")
        assert "execute_change_set changes data, and writes are disabled" in message
        assert "AFU9_ALLOW_WRITES" in message
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    annotations = tools["execute_change_set"].annotations
    assert annotations is not None
    assert (annotations.destructive_hint, annotations.read_only_hint) == (True, False)
    assert tools["preview_change_set"].annotations is not None
    assert tools["preview_change_set"].annotations.read_only_hint is True


async def test_a_template_in_s3_is_previewed_from_its_url(client: Client) -> None:
    name = _name("url")
    s3 = world.boto("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": world.REGION})
    s3.put_object(Bucket=name, Key="stack.json", Body=_json(_template(Jobs=_queue(f"{name}-jobs"))).encode())

    preview = await _ok(
        client, "preview_change_set", stack=name, template_url=f"https://{name}.s3.amazonaws.com/stack.json"
    )

    assert [(c["logical_id"], c["change"]) for c in preview["changes"]] == [("Jobs", "add")]
    assert preview["gate"]["verdict"] == "allowed"


# -- change sets with Stubber (replacements, waiting, paging) ---------------------------------------------------------


def _described_stack(status: str = "UPDATE_COMPLETE", parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    stack: dict[str, Any] = {"StackId": STACK_ARN, "StackName": "shop", "CreationTime": NOW, "StackStatus": status}
    if parameters is not None:
        stack["Parameters"] = parameters
    return {"Stacks": [stack]}


def _change_set(status: str, changes: list[dict[str, Any]] | None = None, **more: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "ChangeSetName": "afu9-preview",
        "ChangeSetId": CHANGE_SET_ARN,
        "StackId": STACK_ARN,
        "StackName": "shop",
        "CreationTime": NOW,
        "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
        "Status": status,
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    }
    if changes is not None:
        answer["Changes"] = changes
    return answer | more


SHOP = _template(
    Database={
        "Type": "AWS::RDS::DBInstance",
        "Properties": {"DBInstanceIdentifier": "shop-db-2", "Engine": "postgres"},
    },
    Api={"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "shop-api"}},
)
SHOP_BEFORE = _template(
    Database={"Type": "AWS::RDS::DBInstance", "Properties": {"DBInstanceIdentifier": "shop-db", "Engine": "postgres"}},
    Assets={"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "shop-assets"}},
    Api={"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "shop-api"}},
)


async def test_a_preview_waits_for_the_change_set_and_reads_every_page(
    deps: DeployDeps, client: Client, no_pause: None
) -> None:
    api_modified = _resource_change(
        "Modify", "Api", "AWS::Lambda::Function", replacement="False", physical="shop-api", details=[_detail("Code")]
    )
    cfn = _stub(deps)
    cfn.add_response(
        "describe_stacks", _described_stack(parameters=[{"ParameterKey": "Env", "ParameterValue": "prod"}])
    )
    cfn.add_response(
        "create_change_set",
        {"Id": CHANGE_SET_ARN, "StackId": STACK_ARN},
        {
            "StackName": "shop",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            "Description": ANY,
            "Parameters": [{"ParameterKey": "Env", "UsePreviousValue": True}],
            "TemplateBody": ANY,
        },
    )
    cfn.add_response("describe_change_set", _change_set("CREATE_PENDING"))
    cfn.add_response("describe_change_set", _change_set("CREATE_IN_PROGRESS"))
    cfn.add_response("describe_change_set", _change_set("CREATE_COMPLETE", [DB_REPLACED], NextToken="t2"))
    cfn.add_response(
        "describe_change_set",
        _change_set("CREATE_COMPLETE", [DB_REPLACED], NextToken="t2"),
        {"ChangeSetName": CHANGE_SET_ARN},
    )
    cfn.add_response(
        "describe_change_set",
        _change_set("CREATE_COMPLETE", [BUCKET_REMOVED, api_modified]),
        {"ChangeSetName": CHANGE_SET_ARN, "NextToken": "t2"},
    )
    cfn.add_response(
        "get_template", {"TemplateBody": _json(SHOP_BEFORE)}, {"StackName": STACK_ARN, "TemplateStage": "Processed"}
    )
    template = dict(SHOP)
    template["Parameters"] = {"Env": {"Type": "String"}}
    with cfn:
        preview = await _ok(
            client, "preview_change_set", stack="shop", template_body=_json(template), max_wait_seconds=5
        )
    cfn.assert_no_pending_responses()

    assert [(c["logical_id"], c["change"], c["replaced_by"]) for c in preview["changes"]] == [
        ("Database", "replace", ["DBInstanceIdentifier", "DBInstanceClass"]),
        ("Assets", "remove", []),
        ("Api", "modify", []),
    ]
    assert [(f["logical_id"], f["type"], f["rule"]) for f in preview["gate"]["findings"]] == [
        ("Database", "AWS::RDS::DBInstance", "replaces_stateful"),
        ("Assets", "AWS::S3::Bucket", "deletes_stateful"),
    ]
    assert preview["gate"]["verdict"] == "blocked"


async def test_a_change_set_still_computed_after_the_wait_is_returned_to_ask_again(
    deps: DeployDeps, client: Client, no_pause: None
) -> None:
    cfn = _stub(deps)
    cfn.add_response("describe_change_set", _change_set("CREATE_IN_PROGRESS"), {"ChangeSetName": CHANGE_SET_ARN})
    cfn.add_response("describe_stacks", _described_stack(), {"StackName": STACK_ARN})
    with cfn:
        answer = await _ok(client, "get_change_set", change_set_id=CHANGE_SET_ARN)
    cfn.assert_no_pending_responses()
    assert (answer["status"], answer["gate"], answer["change_set_id"]) == ("CREATE_IN_PROGRESS", None, CHANGE_SET_ARN)
    assert answer["next"].startswith("Still being computed: call get_change_set")


async def test_a_failed_change_set_says_why(deps: DeployDeps, client: Client) -> None:
    cfn = _stub(deps)
    cfn.add_response(
        "describe_change_set",
        _change_set("FAILED", [], StatusReason="Template format error: Unresolved resource dependencies [Vpc]"),
    )
    cfn.add_response("describe_stacks", _described_stack())
    with cfn:
        answer = await _ok(client, "get_change_set", change_set_id=CHANGE_SET_ARN)
    assert (answer["status"], answer["no_changes"], answer["gate"]) == ("FAILED", False, None)
    assert answer["status_reason"] == "Template format error: Unresolved resource dependencies [Vpc]"
    assert answer["next"].startswith("The change set failed")


async def test_a_change_set_aws_failed_for_having_no_changes_is_no_changes(deps: DeployDeps, client: Client) -> None:
    cfn = _stub(deps)
    reason = "The submitted information didn't contain changes. Submit different information to create a change set."
    cfn.add_response("describe_change_set", _change_set("FAILED", [], StatusReason=reason))
    cfn.add_response("describe_stacks", _described_stack())
    with cfn:
        answer = await _ok(client, "get_change_set", change_set_id=CHANGE_SET_ARN)
    assert (answer["status"], answer["no_changes"]) == ("FAILED", True)
    assert answer["next"].startswith("Nothing to change")


WIDENING_YAML = """\
Resources:
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Statement: []}
      Policies:
        - PolicyName: app
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: "s3:GetObject", Resource: !Sub "arn:aws:s3:::${AWS::StackName}/*"}
              - {Effect: Allow, Action: "*", Resource: "*"}
"""


def _stub_execution_reads(cfn: Stubber, changes: list[dict[str, Any]]) -> None:
    cfn.add_response("describe_change_set", _change_set("CREATE_COMPLETE", changes), {"ChangeSetName": CHANGE_SET_ARN})
    cfn.add_response("describe_stacks", _described_stack(), {"StackName": STACK_ARN})
    cfn.add_response(
        "get_template",
        {"TemplateBody": WIDENING_YAML, "StagesAvailable": ["Original", "Processed"]},
        {"StackName": STACK_ARN, "ChangeSetName": CHANGE_SET_ARN, "TemplateStage": "Processed"},
    )
    cfn.add_response(
        "get_template",
        {"TemplateBody": _json(_template(TaskRole=_role(_allow("s3:GetObject"))))},
        {"StackName": STACK_ARN, "TemplateStage": "Processed"},
    )


async def test_execute_applies_the_gate_again_and_runs_once_per_idempotency_key(
    deps: DeployDeps, client: Client
) -> None:
    role = _resource_change("Modify", "TaskRole", "AWS::IAM::Role", replacement="False", details=[_detail("Policies")])
    cfn = _stub(deps)
    _stub_execution_reads(cfn, [role])
    with cfn:
        refused = await _refused(client, "execute_change_set", change_set_id=CHANGE_SET_ARN, idempotency_key="k-1")
    cfn.assert_no_pending_responses()
    assert "TaskRole (AWS::IAM::Role) grants wildcard actions: app: Allow Action '*'" in refused

    cfn = _stub(deps)
    _stub_execution_reads(cfn, [role])
    cfn.add_response(
        "execute_change_set",
        {},
        {"ChangeSetName": CHANGE_SET_ARN, "StackName": STACK_ARN, "ClientRequestToken": ANY},
    )
    cfn.add_response("describe_stacks", _described_stack("UPDATE_IN_PROGRESS"), {"StackName": STACK_ARN})
    arguments = {"change_set_id": CHANGE_SET_ARN, "approval": "SEC-42", "idempotency_key": "k-2"}
    with cfn:
        first = await _ok(client, "execute_change_set", **arguments)
        again = await _ok(client, "execute_change_set", **arguments)  # answered from the first: no AWS call
    cfn.assert_no_pending_responses()
    assert (first["stack_status"], first["approval"], first["replayed"]) == ("UPDATE_IN_PROGRESS", "SEC-42", False)
    assert [f["rule"] for f in first["gate"]["findings"]] == ["iam_wildcard"]
    assert again == first | {"replayed": True}


async def test_execute_sends_a_client_request_token_derived_from_the_idempotency_key(
    deps: DeployDeps, client: Client
) -> None:
    cfn = _stub(deps)
    _stub_execution_reads(cfn, [_resource_change("Add", "Jobs", "AWS::SQS::Queue")])
    tokens: list[str] = []
    cfn.client.meta.events.register(
        "provide-client-params.cloudformation.ExecuteChangeSet",
        lambda params, **_: tokens.append(params.get("ClientRequestToken")),
    )
    cfn.add_response("execute_change_set", {})
    cfn.add_response("describe_stacks", _described_stack("UPDATE_IN_PROGRESS"))
    with cfn:
        executed = await _ok(client, "execute_change_set", change_set_id=CHANGE_SET_ARN, idempotency_key="deploy 7")
    assert executed["gate"]["verdict"] == "allowed"
    assert len(tokens) == 1
    assert tokens[0].startswith("afu9-")
    assert len(tokens[0]) == 45


# -- drift ----------------------------------------------------------------------------------------------------------


async def test_drift_where_the_api_answers_garbage_is_a_clear_error(client: Client) -> None:
    """moto has no drift detection: it answers an HTML error page, which botocore cannot parse."""
    name = _name("nodrift")
    _create_stack(name, _template(Jobs=_queue(name)))
    message = await _refused(client, "detect_drift", stack=name, max_wait_seconds=0)
    assert "answered cloudformation:DetectStackDrift" in message
    assert "not an AWS answer" in message


def _detection(status: str, **more: Any) -> dict[str, Any]:
    return {
        "StackId": STACK_ARN,
        "StackDriftDetectionId": "b78ac9b0-dec1-11e7-a451-503a3e8e1a3e",
        "DetectionStatus": status,
        "Timestamp": NOW,
    } | more


async def test_drift_is_detected_within_the_wait_with_property_differences(
    deps: DeployDeps, client: Client, no_pause: None
) -> None:
    cfn = _stub(deps)
    cfn.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": "b78ac9b0-dec1-11e7-a451-503a3e8e1a3e"}, {"StackName": "shop"}
    )
    cfn.add_response("describe_stack_drift_detection_status", _detection("DETECTION_IN_PROGRESS"))
    cfn.add_response(
        "describe_stack_drift_detection_status",
        _detection(
            "DETECTION_COMPLETE",
            StackDriftStatus="DRIFTED",
            DriftedStackResourceCount=1,
        ),
    )
    cfn.add_response(
        "describe_stack_resource_drifts",
        {
            "StackResourceDrifts": [
                {
                    "StackId": STACK_ARN,
                    "LogicalResourceId": "Jobs",
                    "PhysicalResourceId": "https://sqs.eu-central-1.amazonaws.com/123456789012/shop-jobs",
                    "ResourceType": "AWS::SQS::Queue",
                    "ExpectedProperties": '{"VisibilityTimeout":30}',
                    "ActualProperties": '{"VisibilityTimeout":120}',
                    "PropertyDifferences": [
                        {
                            "PropertyPath": "/VisibilityTimeout",
                            "ExpectedValue": "30",
                            "ActualValue": "120",
                            "DifferenceType": "NOT_EQUAL",
                        }
                    ],
                    "StackResourceDriftStatus": "MODIFIED",
                    "Timestamp": NOW,
                }
            ]
        },
        {"StackName": STACK_ARN, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
    )
    with cfn:
        answer = await _ok(client, "detect_drift", stack="shop", max_wait_seconds=10)
    cfn.assert_no_pending_responses()
    assert (answer["detection"], answer["stack_drift"], answer["drifted_count"]) == ("DETECTION_COMPLETE", "DRIFTED", 1)
    assert answer["drifted"] == [
        {
            "logical_id": "Jobs",
            "type": "AWS::SQS::Queue",
            "physical_id": "https://sqs.eu-central-1.amazonaws.com/123456789012/shop-jobs",
            "status": "MODIFIED",
            "differences": [{"path": "/VisibilityTimeout", "kind": "NOT_EQUAL", "expected": "30", "actual": "120"}],
        }
    ]


async def test_a_detection_still_running_returns_its_id_and_is_followed_with_it(
    deps: DeployDeps, client: Client
) -> None:
    detection_id = "b78ac9b0-dec1-11e7-a451-503a3e8e1a3e"
    cfn = _stub(deps)
    cfn.add_response("detect_stack_drift", {"StackDriftDetectionId": detection_id})
    cfn.add_response("describe_stack_drift_detection_status", _detection("DETECTION_IN_PROGRESS"))
    with cfn:
        running = await _ok(client, "detect_drift", stack="shop", max_wait_seconds=0)
    cfn.assert_no_pending_responses()
    assert (running["detection"], running["detection_id"], running["drifted"]) == (
        "DETECTION_IN_PROGRESS",
        detection_id,
        [],
    )
    assert running["next"].startswith("Still running: call detect_drift again with detection_id")

    cfn = _stub(deps)
    cfn.add_response(
        "describe_stack_drift_detection_status",
        _detection(
            "DETECTION_FAILED",
            StackDriftStatus="IN_SYNC",
            DetectionStatusReason="Failed to detect drift on resources [Hook]: unsupported resource type",
            DriftedStackResourceCount=0,
        ),
        {"StackDriftDetectionId": detection_id},
    )
    cfn.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": []})
    with cfn:
        done = await _ok(client, "detect_drift", stack="shop", detection_id=detection_id, max_wait_seconds=0)
    cfn.assert_no_pending_responses()
    assert (done["detection"], done["stack_drift"], done["drifted"]) == ("DETECTION_FAILED", "IN_SYNC", [])
    assert done["reason"] == "Failed to detect drift on resources [Hook]: unsupported resource type"
    assert done["next"].startswith("No drift found")
