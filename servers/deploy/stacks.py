"""CloudFormation stacks: what a stack is now (status, outputs, failures), a change set read and classified per
resource, the diff gate, and drift.

The diff gate (:func:`judge`) is a pure function over a change set's ``Changes`` and the templates: it blocks a
change set that deletes or replaces a stateful resource (a database, a bucket, a secret, a log group, a table...)
or that widens IAM to wildcard actions (an ``Allow`` statement with ``Action: "*"``, ``"service:*"`` or
``NotAction`` that the resource did not have before). Templates are JSON or YAML with CloudFormation's short tags
(``!Ref``, ``!GetAtt``, ``!Sub``...), read by :func:`parse_template`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, cast

from pydantic import BaseModel, Field

from shared.aws import AwsClients
from shared.errors import CallError, InvalidRequest, NotConfigured, NotFound
from shared.redaction import redact_text
from shared.timestamps import iso
from shared.untrusted import clean

__all__ = [
    "MAX_TEMPLATE_BYTES",
    "Change",
    "ChangeSetRead",
    "Finding",
    "Verdict",
    "change_set_of",
    "classify",
    "gate_templates",
    "iam_wildcards",
    "is_empty",
    "is_stateful",
    "iso",
    "judge",
    "parse_template",
    "stack_of",
    "stack_or_none",
    "template_of",
    "text",
]

MAX_TEMPLATE_BYTES = 51_200  # CloudFormation's limit for a template body sent in the request
_TEXT = 500
_CHANGE_PAGES = 20  # DescribeChangeSet pages read (100 changes each)

_STATEFUL = frozenset(
    {
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::S3::Bucket",
        "AWS::SecretsManager::Secret",
        "AWS::Logs::LogGroup",
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",
        "AWS::EFS::FileSystem",
        "AWS::KMS::Key",
        "AWS::DocDB::DBCluster",
        "AWS::Neptune::DBCluster",
        "AWS::MemoryDB::Cluster",
        "AWS::OpenSearchService::Domain",
        "AWS::Elasticsearch::Domain",
        "AWS::ECR::Repository",
        "AWS::Kinesis::Stream",
        "AWS::Cognito::UserPool",
        "AWS::Backup::BackupVault",
    }
)
_STATEFUL_SERVICES = ("AWS::ElastiCache::",)

_IAM_DOCUMENTS = frozenset(
    {
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::RolePolicy",
        "AWS::IAM::UserPolicy",
        "AWS::IAM::GroupPolicy",
    }
)
_IAM_INLINE = frozenset({"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"})
_ADMIN_POLICY = re.compile(r":policy/AdministratorAccess$")
_SERVICE_WILDCARD = re.compile(r"^[^:]*:\*$")
_CHANGING = frozenset({"Add", "Modify", "Import", "Dynamic"})


def text(value: object, limit: int = _TEXT) -> str:
    """AWS or template text fit for an answer: invisible characters and secrets removed, cut to ``limit``."""
    cleaned = redact_text(clean(str(value if value is not None else ""))[0] or "")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


# -- templates ------------------------------------------------------------------------------------------------------


def parse_template(body: str, *, what: str = "template_body") -> dict[str, Any]:
    """A CloudFormation template from its JSON or YAML text (short tags become their long form:
    ``!Ref X`` is ``{"Ref": "X"}``, ``!GetAtt A.B`` is ``{"Fn::GetAtt": ["A", "B"]}``); an InvalidRequest that
    says what is wrong when it is not one."""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_TEMPLATE_BYTES:
        raise InvalidRequest(
            f"{what} is {len(body.encode('utf-8', 'surrogatepass')):,} bytes; CloudFormation takes at most "
            f"{MAX_TEMPLATE_BYTES:,} in a request. Upload the template to S3 and pass template_url instead."
        )
    stripped = body.lstrip()
    parsed: object
    if stripped.startswith("{"):
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise InvalidRequest(f"{what} is not valid JSON ({text(error, 200)}). Fix the template.") from None
    else:
        parsed = _load_yaml(body, what)
    if not isinstance(parsed, dict):
        raise InvalidRequest(f"{what} is not a CloudFormation template: it must be a JSON or YAML mapping.")
    template = cast("dict[str, Any]", parsed)
    if not isinstance(template.get("Resources"), dict) or not template["Resources"]:
        raise InvalidRequest(f"{what} has no Resources section: a CloudFormation template declares at least one.")
    return template


def _load_yaml(body: str, what: str) -> object:
    try:
        import yaml  # pyright: ignore[reportMissingModuleSource]
    except ImportError:
        raise NotConfigured(
            "PyYAML", "the pyyaml package (pip install pyyaml)", what="A YAML template needs the PyYAML library"
        ) from None
    try:
        return yaml.load(body, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError, TypeError, RecursionError, OverflowError) as error:
        first = " ".join(str(error).split())
        raise InvalidRequest(f"{what} is neither JSON nor valid YAML ({text(first, 200)}). Fix the template.") from None


_LOADER: Any = None


def _loader() -> Any:
    """A YAML SafeLoader that reads CloudFormation's short tags and keeps dates as text."""
    global _LOADER
    if _LOADER is None:
        import yaml  # pyright: ignore[reportMissingModuleSource]

        class CloudFormationLoader(yaml.SafeLoader):
            pass

        def short_tag(loader: Any, suffix: str, node: Any) -> object:
            if isinstance(node, yaml.ScalarNode):
                value: object = loader.construct_scalar(node)
            elif isinstance(node, yaml.SequenceNode):
                value = loader.construct_sequence(node, deep=True)
            else:
                value = loader.construct_mapping(node, deep=True)
            if suffix == "Ref":
                return {"Ref": value}
            if suffix == "Condition":
                return {"Condition": value}
            if suffix == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
            return {f"Fn::{suffix}": value}

        def date_as_text(loader: Any, node: Any) -> object:
            return loader.construct_scalar(node)

        CloudFormationLoader.add_multi_constructor("!", short_tag)
        CloudFormationLoader.add_constructor("tag:yaml.org,2002:timestamp", date_as_text)
        _LOADER = CloudFormationLoader
    return _LOADER


def _template_from_answer(body: object) -> dict[str, Any] | None:
    """GetTemplate's TemplateBody: botocore decodes a JSON template, a YAML one stays text."""
    if isinstance(body, Mapping):
        return dict(cast("Mapping[str, Any]", body)) or None
    if isinstance(body, str) and body.strip():
        try:
            return parse_template(body, what="the stored template")
        except InvalidRequest:
            return None
    return None


async def template_of(aws: AwsClients, stack: str, change_set: str | None = None) -> dict[str, Any] | None:
    """The template of a stack (or of one of its change sets), after transforms; None when empty or unreadable."""
    params: dict[str, Any] = {"StackName": stack, "TemplateStage": "Processed"}
    if change_set is not None:
        params["ChangeSetName"] = change_set
    answer = await aws.call("cloudformation", "GetTemplate", **params)
    return _template_from_answer(answer.get("TemplateBody"))


# -- stacks ---------------------------------------------------------------------------------------------------------


async def stack_or_none(aws: AwsClients, stack: str) -> dict[str, Any] | None:
    """``DescribeStacks`` of one stack; None when there is none by that name (AWS says so as a ValidationError)."""
    try:
        answer = await aws.call("cloudformation", "DescribeStacks", StackName=stack)
    except InvalidRequest as error:
        if "does not exist" in str(error):
            return None
        raise
    stacks = answer.get("Stacks") or []
    return dict(stacks[0]) if stacks else None


async def stack_of(aws: AwsClients, stack: str) -> dict[str, Any]:
    """``DescribeStacks`` of one stack; NotFound when there is none."""
    found = await stack_or_none(aws, stack)
    if found is None:
        raise NotFound(f"There is no stack {stack!r} in this account and region: list_stacks shows those there are.")
    return found


# -- change sets ----------------------------------------------------------------------------------------------------


ChangeKind = Literal["add", "modify", "replace", "may_replace", "remove", "import", "dynamic"]


class Change(BaseModel):
    logical_id: str = Field(description="Logical id in the template.")
    type: str = Field(description="Resource type, e.g. AWS::S3::Bucket.")
    physical_id: str | None = Field(description="The resource's name or id in AWS (none for an add).")
    change: ChangeKind = Field(
        description="add, modify, replace (a new resource replaces it), may_replace (Conditional), remove, "
        "import or dynamic (decided at execution)."
    )
    properties: list[str] = Field(description="What changes: property names (or Tags, Metadata...).")
    replaced_by: list[str] = Field(description="Of those, the properties that force (or may force) replacement.")


class Finding(BaseModel):
    logical_id: str = Field(description="Logical id of the resource that tripped the gate.")
    type: str = Field(description="Resource type.")
    rule: Literal["deletes_stateful", "replaces_stateful", "iam_wildcard"] = Field(description="The rule tripped.")
    why: str = Field(description="What the change would do.")


class Verdict(BaseModel):
    verdict: Literal["allowed", "blocked"] = Field(
        description="blocked: executing needs an approval reference (execute_change_set approval=...)."
    )
    findings: list[Finding] = Field(description="Each resource that tripped the gate, and why.")
    note: str | None = Field(default=None, description="What the gate could not check.")


def is_stateful(resource_type: str) -> bool:
    """Whether a resource of this type holds data that a delete or a replacement loses."""
    return resource_type in _STATEFUL or resource_type.startswith(_STATEFUL_SERVICES)


def _resource_changes(changes: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for change in changes:
        resource = change.get("ResourceChange")
        if isinstance(resource, Mapping):
            yield cast("Mapping[str, Any]", resource)


def _kind(resource: Mapping[str, Any]) -> ChangeKind:
    action = str(resource.get("Action") or "")
    if action == "Modify":
        replacement = str(resource.get("Replacement") or "False")
        return "replace" if replacement == "True" else "may_replace" if replacement == "Conditional" else "modify"
    return cast(
        "ChangeKind",
        {"Add": "add", "Remove": "remove", "Import": "import", "Dynamic": "dynamic"}.get(action, "dynamic"),
    )


def classify(changes: Sequence[Mapping[str, Any]]) -> list[Change]:
    """Each resource change of a change set: what happens to it and which properties change."""
    found: list[Change] = []
    for resource in _resource_changes(changes):
        properties: list[str] = []
        replaced_by: list[str] = []
        for detail in resource.get("Details") or []:
            target = cast("Mapping[str, Any]", detail.get("Target") or {})
            name = str(target.get("Name") or target.get("Attribute") or "")
            if name and name not in properties:
                properties.append(name)
            if target.get("RequiresRecreation") in ("Always", "Conditionally") and name and name not in replaced_by:
                replaced_by.append(name)
        found.append(
            Change(
                logical_id=text(resource.get("LogicalResourceId"), 255),
                type=text(resource.get("ResourceType"), 255),
                physical_id=text(resource["PhysicalResourceId"], 1024) if resource.get("PhysicalResourceId") else None,
                change=_kind(resource),
                properties=[text(name, 255) for name in properties[:30]],
                replaced_by=[text(name, 255) for name in replaced_by[:30]],
            )
        )
    return found


def judge(
    changes: Sequence[Mapping[str, Any]],
    template: Mapping[str, Any] | None,
    previous: Mapping[str, Any] | None = None,
) -> Verdict:
    """The diff gate over a change set's ``Changes``, the template it deploys (``template``, for IAM) and the
    stack's current template (``previous``: what was there before; None for a new stack)."""
    findings: list[Finding] = []
    note = None
    resources = _resources(template)
    before = _resources(previous)
    for resource in _resource_changes(changes):
        logical = str(resource.get("LogicalResourceId") or "")
        kind = str(resource.get("ResourceType") or "")
        change = _kind(resource)
        if is_stateful(kind) and change in ("remove", "replace", "may_replace", "dynamic"):
            findings.append(_stateful(logical, kind, change, resource, before.get(logical)))
        if str(resource.get("Action") or "") in _CHANGING and kind.startswith("AWS::IAM::"):
            if logical not in resources:
                note = f"IAM of {text(logical, 255)} not checked: the template read does not hold it."
                continue
            new = iam_wildcards(resources.get(logical))
            old = iam_wildcards(before.get(logical)) if _same_type(before.get(logical), kind) else set[str]()
            widened = sorted(new - old)
            if widened:
                findings.append(
                    Finding(
                        logical_id=text(logical, 255),
                        type=kind,
                        rule="iam_wildcard",
                        why=text("grants wildcard actions: " + "; ".join(widened)),
                    )
                )
    return Verdict(verdict="blocked" if findings else "allowed", findings=findings, note=note)


def _resources(template: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    raw = (template or {}).get("Resources")
    if not isinstance(raw, Mapping):
        return {}
    return {
        str(key): cast("Mapping[str, Any]", value)
        for key, value in cast("Mapping[object, object]", raw).items()
        if isinstance(value, Mapping)
    }


def _same_type(resource: Mapping[str, Any] | None, kind: str) -> bool:
    return resource is not None and resource.get("Type") == kind


def _stateful(
    logical: str, kind: str, change: str, resource: Mapping[str, Any], before: Mapping[str, Any] | None
) -> Finding:
    physical = f" ({text(resource['PhysicalResourceId'], 200)})" if resource.get("PhysicalResourceId") else ""
    causes = [
        str((detail.get("Target") or {}).get("Name"))
        for detail in resource.get("Details") or []
        if (detail.get("Target") or {}).get("RequiresRecreation") in ("Always", "Conditionally")
        and (detail.get("Target") or {}).get("Name")
    ]
    because = f" because {', '.join(sorted(set(causes))[:10])} change" if causes else ""
    policy = str(resource.get("PolicyAction") or "")
    if change == "remove":
        kept = policy in ("Retain", "Snapshot") or (before or {}).get("DeletionPolicy") in ("Retain", "Snapshot")
        how = policy or (before or {}).get("DeletionPolicy")
        why = f"would be removed from the stack{physical}" + (
            f" (DeletionPolicy {how}: AWS keeps it or a snapshot, but the stack no longer manages it)"
            if kept
            else ": it and its data are deleted"
        )
        return Finding(logical_id=text(logical, 255), type=kind, rule="deletes_stateful", why=text(why))
    if change == "replace":
        why = f"would be replaced{physical}{because}: a new, empty one is created and the old one deleted"
    elif change == "may_replace":
        why = f"may be replaced{physical}{because} (Replacement: Conditional): its data could be lost"
    else:
        why = f"its change is decided only at execution{physical} (Dynamic): it could be replaced or deleted"
    if policy.startswith("ReplaceAnd") and policy != "ReplaceAndDelete":
        why += f" ({policy}: the old one is kept)"
    return Finding(logical_id=text(logical, 255), type=kind, rule="replaces_stateful", why=text(why))


# -- IAM ------------------------------------------------------------------------------------------------------------


def iam_wildcards(resource: Mapping[str, Any] | None) -> set[str]:
    """The wildcard grants of an IAM resource of a template: each ``Allow`` of ``*``, ``service:*`` or a
    ``NotAction``, and the AdministratorAccess managed policy, as a short description."""
    if resource is None:
        return set()
    kind = resource.get("Type")
    properties = resource.get("Properties")
    if not isinstance(properties, Mapping):
        return set()
    props = cast("Mapping[str, Any]", properties)
    documents: list[tuple[str, object]] = []
    if kind in _IAM_DOCUMENTS:
        name = props.get("PolicyName") or props.get("ManagedPolicyName")
        documents.append((_name(name, "policy"), props.get("PolicyDocument")))
    if kind in _IAM_INLINE:
        for policy in _values(props.get("Policies")):
            if isinstance(policy, Mapping):
                entry = cast("Mapping[str, Any]", policy)
                documents.append((_name(entry.get("PolicyName"), "inline policy"), entry.get("PolicyDocument")))
    found: set[str] = set()
    if kind in _IAM_INLINE or kind == "AWS::IAM::ManagedPolicy":
        for arn in _values(props.get("ManagedPolicyArns")):
            if isinstance(arn, str) and _ADMIN_POLICY.search(arn):
                found.add("managed policy AdministratorAccess (Action '*')")
    for name, document in documents:
        for statement in _statements(document):
            effect = statement.get("Effect")
            if isinstance(effect, str) and effect.lower() == "deny":
                continue
            if "NotAction" in statement:
                found.add(f"{name}: Allow with NotAction (every action but the ones listed)")
            for action in _values(statement.get("Action")):
                if isinstance(action, str) and (action.strip() == "*" or _SERVICE_WILDCARD.match(action.strip())):
                    found.add(f"{name}: Allow Action '{action.strip()}'")
    return found


def _name(value: object, default: str) -> str:
    return text(value, 128) if isinstance(value, str) and value else default


def _values(value: object, depth: int = 0) -> Iterator[object]:
    """The items of a template list (or the value itself), both branches of an ``Fn::If`` included."""
    if depth > 10 or value is None:
        return
    if isinstance(value, list):
        for item in cast("list[object]", value):
            yield from _branches(item, depth + 1)
    else:
        yield from _branches(value, depth + 1)


def _branches(value: object, depth: int) -> Iterator[object]:
    if isinstance(value, Mapping):
        mapping = cast("Mapping[str, Any]", value)
        condition = mapping.get("Fn::If")
        if len(mapping) == 1 and isinstance(condition, list) and len(cast("list[object]", condition)) == 3:
            for branch in cast("list[object]", condition)[1:]:
                yield from _values(branch, depth + 1)
            return
        if len(mapping) == 1 and mapping.get("Ref") == "AWS::NoValue":
            return
    yield value


def _statements(document: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            return
    for branch in _values(document):
        if isinstance(branch, Mapping):
            for statement in _values(cast("Mapping[str, Any]", branch).get("Statement")):
                if isinstance(statement, Mapping):
                    yield cast("Mapping[str, Any]", statement)


# -- reading a change set -------------------------------------------------------------------------------------------


class ChangeSetRead(BaseModel):
    """A change set as DescribeChangeSet gives it, with all its changes."""

    id: str
    name: str
    stack_id: str
    stack_name: str
    status: str
    status_reason: str | None
    execution_status: str | None
    changes: list[dict[str, Any]]
    more: bool  # changes left unread (a first page only was asked for)


async def change_set_of(aws: AwsClients, change_set: str, stack: str | None, *, all_pages: bool) -> ChangeSetRead:
    """``DescribeChangeSet`` (every page when ``all_pages``); NotFound when there is no such change set."""
    params: dict[str, Any] = {"ChangeSetName": change_set}
    if stack is not None:
        params["StackName"] = stack
    changes: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    token = None
    for _ in range(_CHANGE_PAGES):
        try:
            answer = await aws.call("cloudformation", "DescribeChangeSet", **params)
        except InvalidRequest as error:
            if "does not exist" in str(error) or isinstance(error, NotFound):
                raise NotFound(
                    f"There is no change set {change_set!r}"
                    + (f" of stack {stack!r}" if stack else "")
                    + ": pass the change_set_id preview_change_set returned."
                ) from None
            raise
        first = first or answer
        changes += [dict(change) for change in answer.get("Changes") or []]
        token = answer.get("NextToken")
        if not token or not all_pages:
            break
        params["NextToken"] = token
    assert first is not None
    return ChangeSetRead(
        id=str(first.get("ChangeSetId") or change_set),
        name=str(first.get("ChangeSetName") or ""),
        stack_id=str(first.get("StackId") or stack or ""),
        stack_name=str(first.get("StackName") or stack or ""),
        status=str(first.get("Status") or "UNKNOWN"),
        status_reason=text(first["StatusReason"]) if first.get("StatusReason") else None,
        execution_status=first.get("ExecutionStatus"),
        changes=changes,
        more=bool(token),
    )


def is_empty(read: ChangeSetRead) -> bool:
    """A change set with nothing to change (AWS fails it with a reason saying so; emulators complete it empty)."""
    reason = (read.status_reason or "").lower()
    if read.status == "FAILED":
        return "didn't contain changes" in reason or "no updates are to be performed" in reason
    return read.status == "CREATE_COMPLETE" and not read.changes


async def gate_templates(
    aws: AwsClients, read: ChangeSetRead, given: Mapping[str, Any] | None, stack_status: str | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """The templates the gate needs: the change set's (``given`` when its text is at hand and has no transform,
    else AWS's processed copy) and the stack's current one (none for a stack not created yet); and a note when
    one could not be read."""
    note = None
    template: dict[str, Any] | None = dict(given) if given is not None and "Transform" not in given else None
    if template is None:
        try:
            template = await template_of(aws, read.stack_id, read.id)
        except CallError as error:
            note = f"the change set's template could not be read: {str(error)[:200]}"
    previous = None
    if stack_status not in (None, "REVIEW_IN_PROGRESS"):
        try:
            previous = await template_of(aws, read.stack_id)
        except CallError as error:
            note = f"the stack's current template could not be read: {str(error)[:200]}"
    return template, previous, note
