"""Toolset ``stacks``: CloudFormation stacks and infrastructure changes: list and describe stacks, preview a
change as a change set classified per resource behind the diff gate, execute an approved one, detect drift."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers.deploy.arguments import Cursor, Key
from servers.deploy.deps import DeployDeps
from servers.deploy.stacks import (
    MAX_TEMPLATE_BYTES,
    Change,
    ChangeSetRead,
    Verdict,
    change_set_of,
    classify,
    gate_templates,
    is_empty,
    judge,
    parse_template,
    stack_of,
    stack_or_none,
    text,
)
from shared.aws import AwsClients, Located
from shared.errors import CallError, InvalidRequest
from shared.pagination import encode_cursor, token_position
from shared.timestamps import iso
from shared.toolset import Toolset

__all__ = ["stacks"]

stacks = Toolset(
    "stacks",
    "CloudFormation: stacks and their failures, change sets previewed behind a diff gate, execution, drift.",
    start_with="list_stacks",
)

POLL_SECONDS = 2.0  # between two looks while a tool waits for a change set or a drift detection
_SCAN_PAGES = 10
_MAX_CHANGES = 200  # resource changes listed in an answer (the gate always sees all of them)
_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_PENDING = ("CREATE_PENDING", "CREATE_IN_PROGRESS")
_LISTED = [  # every stack status but DELETE_COMPLETE
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "CREATE_COMPLETE",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "REVIEW_IN_PROGRESS",
    "IMPORT_IN_PROGRESS",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
]

StackName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$", description="Stack name.")]
StackRef = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9:/-]{0,1023}$", description="Stack name or id.")]
ChangeSetRef = Annotated[
    str, Field(pattern=r"^[A-Za-z][A-Za-z0-9:/-]{0,1599}$", description="change_set_id from preview_change_set.")
]
ChangeSetArn = Annotated[
    str,
    Field(
        pattern=r"^arn:aws[a-z-]*:cloudformation:[a-z0-9-]{1,64}:\d{12}:changeSet/[A-Za-z][A-Za-z0-9-]{0,127}/[A-Za-z0-9-]{1,128}$",
        description="change_set_id from preview_change_set.",
    ),
]
MaxWait = Annotated[int, Field(ge=0, le=60, description="Wait for it to finish, at most (seconds).")]


class StackSummary(BaseModel):
    name: str = Field(description="Stack name.")
    status: str = Field(description="CREATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE, REVIEW_IN_PROGRESS, ...")
    reason: str | None = Field(description="Why it is in that status.")
    updated_at: str | None = Field(description="Last change, ISO 8601.")
    drift: str | None = Field(description="DRIFTED, IN_SYNC, UNKNOWN or NOT_CHECKED.")


class StackList(Located):
    stacks: list[StackSummary] = Field(description="Stacks (deleted ones left out).")
    next_cursor: str | None = Field(description="Pass back for more.")


class Output(BaseModel):
    key: str = Field(description="Output name.")
    value: str = Field(description="Its value.")
    export: str | None = Field(description="Export name, when exported.")


class Parameter(BaseModel):
    key: str = Field(description="Parameter name.")
    value: str | None = Field(description="Its value; null when NoEcho (hidden).")


class FailedEvent(BaseModel):
    at: str | None = Field(description="ISO 8601.")
    logical_id: str = Field(description="Logical id of the resource (the stack's own name for the stack).")
    type: str = Field(description="Resource type.")
    status: str = Field(description="CREATE_FAILED, UPDATE_FAILED, DELETE_FAILED, ...")
    reason: str = Field(description="Why, as CloudFormation said.")


class StackView(Located):
    name: str = Field(description="Stack name.")
    id: str = Field(description="Stack id (ARN).")
    status: str = Field(description="Stack status.")
    reason: str | None = Field(description="Why it is in that status.")
    created_at: str | None = Field(description="ISO 8601.")
    updated_at: str | None = Field(description="ISO 8601.")
    drift: str | None = Field(description="DRIFTED, IN_SYNC, UNKNOWN or NOT_CHECKED.")
    outputs: list[Output] = Field(description="Stack outputs.")
    parameters: list[Parameter] = Field(description="Parameters (NoEcho values hidden).")
    first_failure: FailedEvent | None = Field(description="The earliest failure of the latest operation: the cause.")
    failed_events: list[FailedEvent] = Field(description="Recent failed resource events, newest first.")
    next: str = Field(description="What to call next.")


class Preview(Located):
    stack: str = Field(description="Stack name.")
    change_set_id: str = Field(description="For get_change_set and execute_change_set.")
    change_set_type: str | None = Field(description="CREATE (a new stack) or UPDATE.")
    status: str = Field(description="CREATE_COMPLETE (ready), CREATE_PENDING/CREATE_IN_PROGRESS or FAILED.")
    status_reason: str | None = Field(description="Why, when it failed.")
    no_changes: bool = Field(description="The template and parameters change nothing.")
    changes: list[Change] = Field(description="Per resource: what happens to it.")
    more_changes: int = Field(description="Changes not listed (the gate saw them all).")
    gate: Verdict | None = Field(description="The diff gate's verdict; null until the change set is ready.")
    next: str = Field(description="What to call next.")


class Executed(Located):
    stack: str = Field(description="Stack name.")
    change_set_id: str = Field(description="The change set executed.")
    gate: Verdict = Field(description="The gate's verdict at execution.")
    approval: str | None = Field(description="The approval reference given.")
    stack_status: str = Field(description="The stack's status just after (e.g. UPDATE_IN_PROGRESS).")
    replayed: bool = Field(default=False, description="This answer repeats a call with the same idempotency key.")
    next: str = Field(description="What to call next.")


class Difference(BaseModel):
    path: str = Field(description="Property path, e.g. /Tags/0/Value.")
    kind: str = Field(description="ADD, REMOVE or NOT_EQUAL.")
    expected: str = Field(description="Value in the template (cut).")
    actual: str = Field(description="Value in AWS (cut).")


class DriftedResource(BaseModel):
    logical_id: str = Field(description="Logical id.")
    type: str = Field(description="Resource type.")
    physical_id: str | None = Field(description="Name or id in AWS.")
    status: str = Field(description="MODIFIED or DELETED.")
    differences: list[Difference] = Field(description="Property differences.")


class Drift(Located):
    stack: str = Field(description="Stack name or id.")
    detection_id: str = Field(description="Pass back as detection_id to ask again while it runs.")
    detection: str = Field(description="DETECTION_IN_PROGRESS, DETECTION_COMPLETE or DETECTION_FAILED.")
    stack_drift: str | None = Field(description="DRIFTED, IN_SYNC, UNKNOWN or NOT_CHECKED.")
    reason: str | None = Field(description="Why detection failed or was partial (types without drift support).")
    drifted_count: int | None = Field(description="Resources drifted.")
    drifted: list[DriftedResource] = Field(description="Drifted resources and their differences.")
    waited_seconds: float = Field(description="How long this call waited.")
    next: str = Field(description="What to call next.")


# -- stacks ---------------------------------------------------------------------------------------------------------


@stacks.read(title="List stacks", open_world=True)
async def list_stacks(
    deps: DeployDeps,
    name_prefix: Annotated[str | None, Field(min_length=1, max_length=128, description="Name prefix.")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Stacks per page.")] = 50,
    cursor: Cursor = None,
) -> StackList:
    """CloudFormation stacks of the account and region (deleted ones left out): status, reason, last change,
    drift. Then describe_stack for one stack's outputs and failures."""
    token, skip = token_position(cursor) if cursor else (None, 0)
    shown: list[Mapping[str, Any]] = []
    after: dict[str, Any] | None = None
    for _ in range(_SCAN_PAGES):
        params: dict[str, Any] = {"StackStatusFilter": _LISTED}
        if token:
            params["NextToken"] = token
        answer = await deps.aws.call("cloudformation", "ListStacks", **params)
        page = [s for s in answer.get("StackSummaries") or [] if _named(s, name_prefix)][skip:]
        room = limit - len(shown)
        if len(page) > room:
            shown += page[:room]
            after = {"token": token, "skip": skip + room}
            break
        shown += page
        skip = 0
        token = answer.get("NextToken")
        if not token:
            break
        if len(shown) == limit:
            after = {"token": token, "skip": 0}
            break
    else:
        after = {"token": token, "skip": 0}
    return StackList(
        **await deps.aws.located(),
        stacks=[_summary(raw) for raw in shown],
        next_cursor=encode_cursor(after) if after else None,
    )


def _named(summary: Mapping[str, Any], prefix: str | None) -> bool:
    return prefix is None or str(summary.get("StackName") or "").startswith(prefix)


def _summary(raw: Mapping[str, Any]) -> StackSummary:
    return StackSummary(
        name=text(raw.get("StackName"), 255),
        status=str(raw.get("StackStatus")),
        reason=text(raw["StackStatusReason"]) if raw.get("StackStatusReason") else None,
        updated_at=iso(raw.get("LastUpdatedTime") or raw.get("CreationTime")),
        drift=(raw.get("DriftInformation") or {}).get("StackDriftStatus"),
    )


@stacks.read(title="Describe a stack", open_world=True)
async def describe_stack(
    deps: DeployDeps,
    stack: StackRef,
    failed_events: Annotated[int, Field(ge=0, le=50, description="Failed events to show at most.")] = 10,
) -> StackView:
    """One stack: status and reason, outputs, parameters (NoEcho hidden), drift status, and its recent failed
    resource events with CloudFormation's reasons (first_failure is the cause). Then preview_change_set to
    change it, or detect_drift."""
    found = await stack_of(deps.aws, stack)
    hidden = await _no_echo(deps.aws, found)
    failures, first = await _failures(deps.aws, str(found.get("StackId") or stack), failed_events)
    status = str(found.get("StackStatus"))
    return StackView(
        **await deps.aws.located(),
        name=text(found.get("StackName"), 255),
        id=str(found.get("StackId") or ""),
        status=status,
        reason=text(found["StackStatusReason"]) if found.get("StackStatusReason") else None,
        created_at=iso(found.get("CreationTime")),
        updated_at=iso(found.get("LastUpdatedTime")),
        drift=(found.get("DriftInformation") or {}).get("StackDriftStatus"),
        outputs=[
            Output(
                key=text(raw.get("OutputKey"), 255),
                value=text(raw.get("OutputValue"), 1000),
                export=text(raw["ExportName"], 255) if raw.get("ExportName") else None,
            )
            for raw in found.get("Outputs") or []
        ],
        parameters=[
            Parameter(
                key=text(raw.get("ParameterKey"), 255),
                value=None
                if hidden is None or raw.get("ParameterKey") in hidden or raw.get("ParameterValue") == "****"
                else text(raw.get("ParameterValue"), 1000),
            )
            for raw in found.get("Parameters") or []
        ],
        first_failure=first,
        failed_events=failures,
        next=(
            "Fix the cause in first_failure, then preview_change_set."
            if first is not None and ("FAILED" in status or "ROLLBACK" in status)
            else "preview_change_set to change it; detect_drift to compare it with AWS."
        ),
    )


async def _no_echo(aws: AwsClients, found: Mapping[str, Any]) -> set[str] | None:
    """The NoEcho parameters of a stack (AWS shows them as ****; an emulator may not); None: unknown, hide all."""
    if not found.get("Parameters"):
        return set()
    if found.get("StackStatus") == "REVIEW_IN_PROGRESS":
        return None
    try:
        summary = await aws.call("cloudformation", "GetTemplateSummary", StackName=str(found.get("StackId")))
    except CallError:
        return None
    return {str(p.get("ParameterKey")) for p in summary.get("Parameters") or [] if p.get("NoEcho")}


async def _failures(aws: AwsClients, stack: str, limit: int) -> tuple[list[FailedEvent], FailedEvent | None]:
    """Failed resource events of the newest 200 events (newest first), and the earliest failure of the latest
    operation that is not a cancellation (the cause)."""
    events: list[Mapping[str, Any]] = []
    params: dict[str, Any] = {"StackName": stack}
    for _ in range(2):
        answer = await aws.call("cloudformation", "DescribeStackEvents", **params)
        events += answer.get("StackEvents") or []
        if not answer.get("NextToken"):
            break
        params["NextToken"] = answer["NextToken"]
    failed = [_failed(raw) for raw in events if str(raw.get("ResourceStatus") or "").endswith("_FAILED")]
    latest: list[FailedEvent] = []
    for raw in events:  # newest first, down to the event that started the latest operation
        if str(raw.get("ResourceStatus") or "").endswith("_FAILED"):
            latest.append(_failed(raw))
        if raw.get("ResourceType") == "AWS::CloudFormation::Stack" and raw.get("ResourceStatusReason") == (
            "User Initiated"
        ):
            break
    causes = [event for event in latest if "cancelled" not in event.reason.lower()]
    return failed[:limit], (causes or latest or [None])[-1]


def _failed(raw: Mapping[str, Any]) -> FailedEvent:
    return FailedEvent(
        at=iso(raw.get("Timestamp")),
        logical_id=text(raw.get("LogicalResourceId"), 255),
        type=text(raw.get("ResourceType"), 255),
        status=str(raw.get("ResourceStatus")),
        reason=text(raw.get("ResourceStatusReason") or "(no reason given)"),
    )


# -- change sets ----------------------------------------------------------------------------------------------------


@stacks.read(title="Preview a change", open_world=True)
async def preview_change_set(
    deps: DeployDeps,
    ctx: Context,
    stack: StackName,
    template_body: Annotated[str, Field(max_length=MAX_TEMPLATE_BYTES, description="Template, JSON or YAML.")] = "",
    template_url: Annotated[
        str | None, Field(pattern=r"^https://[^\s]{1,1016}$", description="Or: the template's S3 URL.")
    ] = None,
    parameters: Annotated[
        dict[str, Annotated[str, Field(max_length=4096)]] | None,
        Field(max_length=200, description="Parameter values by name; others keep their current value."),
    ] = None,
    max_wait_seconds: MaxWait = 30,
) -> Preview:
    """Create a CloudFormation change set from a template (a new stack if there is none) without executing it,
    and answer each resource's change (add, modify, replace, remove) and the diff gate's verdict. Then
    execute_change_set, with an approval reference if the gate blocks it."""
    # template_body is typed str, not str | None: the SDK would read a JSON template given as text as an object
    if bool(template_body) == (template_url is not None):
        raise InvalidRequest("Give the template as template_body (its text) or as template_url (in S3), not both.")
    template = parse_template(template_body) if template_body else None
    found = await stack_or_none(deps.aws, stack)
    status = str(found.get("StackStatus")) if found else None
    kind = "UPDATE" if status not in (None, "REVIEW_IN_PROGRESS") else "CREATE"
    params: dict[str, Any] = {
        "StackName": stack,
        "ChangeSetName": f"afu9-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(3)}",
        "ChangeSetType": kind,
        "Capabilities": _CAPABILITIES,
        "Description": "Preview by AFU-9 (not executed).",
        "Parameters": _parameters(parameters or {}, template, found if kind == "UPDATE" else None),
    }
    params |= {"TemplateBody": template_body} if template_body else {"TemplateURL": template_url}
    created = await deps.aws.call("cloudformation", "CreateChangeSet", **params)
    change_set = str(created.get("Id"))
    read = await _wait(deps.aws, ctx, change_set, stack, min(max_wait_seconds, deps.settings.wait_limit_seconds))
    return await _preview(deps, read, template, status, kind)


@stacks.read(title="Get a change set", open_world=True)
async def get_change_set(
    deps: DeployDeps,
    ctx: Context,
    change_set_id: ChangeSetRef,
    stack: Annotated[StackName | None, Field(description="With a change set name (not an id): its stack.")] = None,
    max_wait_seconds: MaxWait = 0,
) -> Preview:
    """A change set again: its status, each resource's change and the diff gate's verdict; with
    max_wait_seconds it waits while CloudFormation is still computing it. Then execute_change_set."""
    read = await _wait(deps.aws, ctx, change_set_id, stack, min(max_wait_seconds, deps.settings.wait_limit_seconds))
    found = await stack_or_none(deps.aws, read.stack_id)
    status = str(found.get("StackStatus")) if found else None
    return await _preview(deps, read, None, status, None)


def _parameters(
    given: Mapping[str, str], template: Mapping[str, Any] | None, found: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """CreateChangeSet's Parameters: those given, and for an update the current value of each other parameter the
    template still declares (when the template is at hand: with template_url CloudFormation uses the defaults)."""
    declared: set[str] | None = None
    if template is not None:
        section = template.get("Parameters")
        declared = (
            {str(key) for key in cast("Mapping[object, object]", section)} if isinstance(section, Mapping) else set()
        )
        unknown = sorted(set(given) - declared)
        if unknown:
            raise InvalidRequest(
                f"The template declares no parameter {', '.join(text(u, 100) for u in unknown[:5])}; "
                f"it declares: {text(', '.join(sorted(declared)) or 'none', 1000)}."
            )
    values: list[dict[str, Any]] = [{"ParameterKey": key, "ParameterValue": value} for key, value in given.items()]
    for raw in (found or {}).get("Parameters") or []:
        key = str(raw.get("ParameterKey"))
        if key not in given and declared is not None and key in declared:
            values.append({"ParameterKey": key, "UsePreviousValue": True})
    return values


async def _wait(aws: AwsClients, ctx: Context, change_set: str, stack: str | None, max_wait: int) -> ChangeSetRead:
    """The change set, read again every POLL_SECONDS while CloudFormation computes it, at most ``max_wait``."""
    started = time.monotonic()
    while True:
        read = await change_set_of(aws, change_set, stack, all_pages=False)
        waited = time.monotonic() - started
        if read.status not in _PENDING or waited + POLL_SECONDS > max_wait:
            break
        await ctx.report_progress(waited, max_wait, message=f"change set {read.status}")
        await asyncio.sleep(POLL_SECONDS)
    if read.status == "CREATE_COMPLETE" and read.more:
        read = await change_set_of(aws, read.id, None, all_pages=True)
    return read


async def _preview(
    deps: DeployDeps, read: ChangeSetRead, template: Mapping[str, Any] | None, status: str | None, kind: str | None
) -> Preview:
    empty = is_empty(read)
    gate: Verdict | None = None
    if read.status == "CREATE_COMPLETE" and not empty:
        gate = await _gate(deps.aws, read, template, status)
    changes = classify(read.changes)
    return Preview(
        **await deps.aws.located(),
        stack=read.stack_name,
        change_set_id=read.id,
        change_set_type=kind or ("CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"),
        status=read.status,
        status_reason=read.status_reason,
        no_changes=empty,
        changes=changes[:_MAX_CHANGES],
        more_changes=max(0, len(changes) - _MAX_CHANGES),
        gate=gate,
        next=_next(read, empty, gate),
    )


async def _gate(
    aws: AwsClients, read: ChangeSetRead, template: Mapping[str, Any] | None, status: str | None
) -> Verdict:
    new, previous, note = await gate_templates(aws, read, template, status)
    verdict = judge(read.changes, new, previous)
    notes = [part for part in (verdict.note, note) if part]
    return verdict.model_copy(update={"note": "; ".join(notes) if notes else None})


def _next(read: ChangeSetRead, empty: bool, gate: Verdict | None) -> str:
    if empty:
        return "Nothing to change: the stack already matches this template and these parameters."
    if read.status in _PENDING:
        return "Still being computed: call get_change_set with change_set_id and max_wait_seconds."
    if read.status != "CREATE_COMPLETE":
        return "The change set failed (status_reason): fix the template or parameters and preview again."
    if read.execution_status not in (None, "AVAILABLE"):
        return f"It cannot be executed (execution status {read.execution_status}): describe_stack for the stack."
    if gate is not None and gate.verdict == "blocked":
        return (
            "The gate blocks it (findings): get the change approved, then execute_change_set with approval set to "
            "the approval's reference (e.g. a ticket)."
        )
    return "execute_change_set to apply it."


@stacks.write(title="Execute a change set", destructive=True, idempotent=False, open_world=True)
async def execute_change_set(
    deps: DeployDeps,
    change_set_id: ChangeSetArn,
    approval: Annotated[
        str | None,
        Field(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.:/#@-]{2,199}$",
            description="Approval reference (e.g. a ticket) for a change set the gate blocks.",
        ),
    ] = None,
    idempotency_key: Key = None,
) -> Executed:
    """Execute a change set: it is read again and the diff gate applied again; one the gate blocks is refused
    unless approval names who approved it. Then describe_stack to follow the update."""

    async def act() -> Executed:
        read = await change_set_of(deps.aws, change_set_id, None, all_pages=True)
        if read.status != "CREATE_COMPLETE" or read.execution_status != "AVAILABLE":
            raise InvalidRequest(
                f"Change set {read.name or change_set_id} cannot be executed: status {read.status}, execution status "
                f"{read.execution_status}" + (f" ({read.status_reason})" if read.status_reason else "") + ". "
                "Nothing was executed; preview_change_set makes a new one."
            )
        found = await stack_or_none(deps.aws, read.stack_id)
        gate = await _gate(deps.aws, read, None, str(found.get("StackStatus")) if found else None)
        if gate.verdict == "blocked" and approval is None:
            raise InvalidRequest(_blocked(read, gate))
        params: dict[str, Any] = {"ChangeSetName": read.id, "StackName": read.stack_id}
        if idempotency_key is not None:
            params["ClientRequestToken"] = "afu9-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
        await deps.aws.call("cloudformation", "ExecuteChangeSet", **params)
        after = await stack_or_none(deps.aws, read.stack_id)
        return Executed(
            **await deps.aws.located(),
            stack=read.stack_name,
            change_set_id=read.id,
            gate=gate,
            approval=approval,
            stack_status=str((after or {}).get("StackStatus") or "UNKNOWN"),
            next="describe_stack to follow it: its status, and the failed events with reasons if it rolls back.",
        )

    request = {"change_set_id": change_set_id, "approval": approval}
    return await deps.idempotency.once(
        tool="execute_change_set", key=idempotency_key, request=request, action=act, result_type=Executed
    )


def _blocked(read: ChangeSetRead, gate: Verdict) -> str:
    tripped = "; ".join(f"{f.logical_id} ({f.type}) {f.why}" for f in gate.findings[:10])
    more = f"; and {len(gate.findings) - 10} more" if len(gate.findings) > 10 else ""
    return (
        f"The diff gate blocks change set {read.name} of stack {read.stack_name}: {tripped}{more}. Nothing was "
        "executed. If this is intended, get it approved and call again with approval set to the approval's "
        "reference (e.g. a ticket)."
    )


# -- drift ----------------------------------------------------------------------------------------------------------


@stacks.read(title="Detect drift", open_world=True)
async def detect_drift(
    deps: DeployDeps,
    ctx: Context,
    stack: StackRef,
    detection_id: Annotated[
        str | None, Field(pattern=r"^[A-Za-z0-9-]{1,128}$", description="Of a detection already started.")
    ] = None,
    max_wait_seconds: MaxWait = 30,
) -> Drift:
    """Compare a stack's resources with AWS (drift detection, for the resource types that support it): drifted
    resources with their property differences. If it is still running, call again with detection_id."""
    if detection_id is None:
        started_detection = await deps.aws.call("cloudformation", "DetectStackDrift", StackName=stack)
        detection_id = str(started_detection.get("StackDriftDetectionId"))
    max_wait_seconds = min(max_wait_seconds, deps.settings.wait_limit_seconds)
    started = time.monotonic()
    while True:
        status = await deps.aws.call(
            "cloudformation", "DescribeStackDriftDetectionStatus", StackDriftDetectionId=detection_id
        )
        waited = time.monotonic() - started
        if status.get("DetectionStatus") != "DETECTION_IN_PROGRESS" or waited + POLL_SECONDS > max_wait_seconds:
            break
        await ctx.report_progress(waited, max_wait_seconds, message="drift detection in progress")
        await asyncio.sleep(POLL_SECONDS)
    detection = str(status.get("DetectionStatus") or "UNKNOWN")
    drifted: list[DriftedResource] = []
    if detection != "DETECTION_IN_PROGRESS":
        drifted = await _drifted(deps.aws, str(status.get("StackId") or stack))
    count = status.get("DriftedStackResourceCount")
    return Drift(
        **await deps.aws.located(),
        stack=stack,
        detection_id=detection_id,
        detection=detection,
        stack_drift=status.get("StackDriftStatus"),
        reason=text(status["DetectionStatusReason"]) if status.get("DetectionStatusReason") else None,
        drifted_count=count if isinstance(count, int) else None,
        drifted=drifted,
        waited_seconds=round(time.monotonic() - started, 1),
        next=(
            "Still running: call detect_drift again with detection_id and max_wait_seconds."
            if detection == "DETECTION_IN_PROGRESS"
            else "Bring the template in line with AWS (or AWS with the template), then preview_change_set."
            if drifted
            else "No drift found in the resources that support drift detection."
        ),
    )


async def _drifted(aws: AwsClients, stack: str) -> list[DriftedResource]:
    found: list[DriftedResource] = []
    params: dict[str, Any] = {"StackName": stack, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]}
    for _ in range(5):
        answer = await aws.call("cloudformation", "DescribeStackResourceDrifts", **params)
        for raw in answer.get("StackResourceDrifts") or []:
            found.append(
                DriftedResource(
                    logical_id=text(raw.get("LogicalResourceId"), 255),
                    type=text(raw.get("ResourceType"), 255),
                    physical_id=text(raw["PhysicalResourceId"], 1024) if raw.get("PhysicalResourceId") else None,
                    status=str(raw.get("StackResourceDriftStatus")),
                    differences=[
                        Difference(
                            path=text(d.get("PropertyPath"), 300),
                            kind=str(d.get("DifferenceType")),
                            expected=text(d.get("ExpectedValue"), 300),
                            actual=text(d.get("ActualValue"), 300),
                        )
                        for d in (raw.get("PropertyDifferences") or [])[:30]
                    ],
                )
            )
        if not answer.get("NextToken"):
            break
        params["NextToken"] = answer["NextToken"]
    return found
