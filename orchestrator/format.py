"""The workflow format (``apiVersion: orchestrator/v1``): pydantic models of a workflow document, its parsing into
problems with paths, its canonical form and content hash, and the JSON Schema generated from the models
(committed as ``orchestrator/schemas/workflow.schema.json``; ``afu9 generate`` rewrites it).

A document is YAML or JSON (the same model). Steps have a stable ``id`` and a ``type``: ``tool``, ``agent``
(declared; run by a later release), ``parallel``, ``map``, ``switch``, ``loop``, ``approval``, ``wait`` or
``workflow`` (a published sub-workflow). ``docs/workflows.md`` explains every field with an example.

Parsing checks the shape of the document and that every expression parses; :mod:`orchestrator.validation`
checks what needs the whole document (unique ids, ``needs``, references) and the servers' tools.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from orchestrator.expressions import ExpressionError, unwrap
from orchestrator.problems import Path, Problem, WorkflowInvalid

__all__ = [
    "API_VERSION",
    "STEP_TYPES",
    "AgentStep",
    "ApprovalStep",
    "Compensation",
    "Defaults",
    "Goto",
    "LoopStep",
    "MapStep",
    "Metadata",
    "ParallelStep",
    "Retry",
    "Step",
    "SwitchStep",
    "ToolStep",
    "WaitStep",
    "Workflow",
    "WorkflowStep",
    "canonical",
    "child_blocks",
    "content_hash",
    "json_schema",
    "parse_duration",
    "parse_workflow",
]

API_VERSION = "orchestrator/v1"
STEP_TYPES = ("tool", "agent", "parallel", "map", "switch", "loop", "approval", "wait", "workflow")
SCHEMA_ID = "https://afu9.dev/schemas/orchestrator/v1/workflow.schema.json"


# --- scalar types ---------------------------------------------------------------------------------------------


def _match(regex: str, hint: str) -> AfterValidator:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value[:80]!r} is not {hint}")
        return value

    return AfterValidator(check)


def _schema(regex: str, description: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": regex, "description": description})


_STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NAME = r"^[a-z][a-z0-9_-]{0,127}$"
_SERVER = r"^[a-z][a-z0-9_-]{0,63}$"
_TOOL = r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$"
_SEMVER = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"

StepId = Annotated[
    str,
    _match(_STEP_ID.pattern, "a step id (a letter or _, then letters, digits or _; at most 64)"),
    _schema(_STEP_ID.pattern, "A step id: unique in the document, read in expressions as steps.<id>."),
]
Name = Annotated[
    str,
    _match(_NAME, "a workflow name (lowercase letters, digits, _ and -, starting with a letter)"),
    _schema(_NAME, "A workflow name: lowercase letters, digits, _ and -."),
]
ServerName = Annotated[
    str,
    _match(_SERVER, "a server name (e.g. factory, github)"),
    _schema(_SERVER, "An MCP server of the suite, e.g. factory."),
]
ToolName = Annotated[
    str,
    _match(_TOOL, "a tool name (e.g. list_kpis)"),
    _schema(_TOOL, "A tool of the server, as tools/list names it."),
]
Identifier = Annotated[
    str,
    _match(_STEP_ID.pattern, "an identifier (letters, digits and _, not starting with a digit)"),
    _schema(_STEP_ID.pattern, "A name read in expressions (letters, digits and _)."),
]
Semver = Annotated[
    str,
    _match(_SEMVER, "a semantic version (MAJOR.MINOR.PATCH, e.g. 1.2.0 or 2.0.0-rc.1)"),
    _schema(_SEMVER, "Semantic version MAJOR.MINOR.PATCH[-prerelease]; a published (name, version) never changes."),
]

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNITS = ("days", "hours", "minutes", "seconds", "milliseconds")


def parse_duration(text: str) -> timedelta:
    """``1h30m``, ``45s``, ``250ms``, ``2d`` as a timedelta (ValueError otherwise)."""
    match = _DURATION.fullmatch(text.strip()) if text.strip() else None
    if match is None:
        raise ValueError(f"{text[:40]!r} is not a duration: use e.g. 30s, 5m, 1h30m, 250ms or 2d")
    return timedelta(**{unit: int(value) for unit, value in zip(_UNITS, match.groups(), strict=True) if value})


def _duration(value: str) -> str:
    parse_duration(value)
    return value.strip()


Duration = Annotated[
    str,
    AfterValidator(_duration),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _DURATION.pattern,
            "description": "A duration: days, hours, minutes, seconds, milliseconds, e.g. 30s, 5m, 1h30m, 250ms.",
            "examples": ["30s", "5m", "1h30m"],
        }
    ),
]


def _expression(value: str) -> str:
    try:
        return unwrap(value)
    except ExpressionError as error:
        raise ValueError(str(error)) from None


Expression = Annotated[
    str,
    AfterValidator(_expression),
    WithJsonSchema(
        {
            "type": "string",
            "description": "A JMESPath expression over inputs, steps and execution, bare or wrapped in ${{ }}.",
            "examples": ["inputs.dry_run", "${{ steps.approve.output.decision == 'approved' }}"],
        }
    ),
]
Template = Annotated[
    str,
    Field(
        max_length=4000,
        description="Text; ${{ expr }} is replaced by the expression's value (a string that is exactly one "
        "template takes the value itself, of any JSON type).",
    ),
]

ErrorClass = Literal["any", "timeout", "transport", "unavailable", "rate_limited", "tool_error", "protocol_error"]
"""What failed: ``timeout`` (an attempt ran past its timeout), ``transport`` (the server could not be reached or
the connection broke), ``unavailable`` (the tool said a dependency is away), ``rate_limited``, ``tool_error``
(any other error result), ``protocol_error`` (the call was refused by MCP itself: bad arguments, unknown tool),
``any``."""
TRANSIENT: tuple[ErrorClass, ...] = ("timeout", "transport", "unavailable", "rate_limited")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- per-step policies ----------------------------------------------------------------------------------------


class Retry(_Strict):
    """Attempts with capped exponential backoff: the n-th wait is ``initial_interval * backoff_rate**(n-1)``,
    at most ``max_interval``; ``jitter: full`` waits a random time up to that (so never more than the cap)."""

    max_attempts: int = Field(default=3, ge=1, le=100, description="Attempts in all (1: no retry).")
    initial_interval: Duration = Field(default="1s", description="Wait before the second attempt.")
    backoff_rate: float = Field(default=2.0, ge=1.0, le=10.0, description="Each wait is this times the previous.")
    max_interval: Duration = Field(default="60s", description="The longest wait between two attempts.")
    jitter: Literal["full", "none"] = Field(default="full", description="full: a random wait up to the computed one.")
    retry_on: list[ErrorClass] = Field(
        default_factory=lambda: list(TRANSIENT), description="Errors retried (default: the transient ones)."
    )
    no_retry_on: list[ErrorClass] = Field(default_factory=list[ErrorClass], description="Errors never retried.")

    @model_validator(mode="after")
    def _capped(self) -> Retry:
        if parse_duration(self.initial_interval) > parse_duration(self.max_interval):
            raise ValueError(
                f"initial_interval {self.initial_interval} is longer than max_interval {self.max_interval}"
            )
        return self


class Goto(_Strict):
    goto: StepId = Field(description="A later step of the same step list to continue with.")


_ON_ERROR = ("fail", "continue", "compensate")


def _on_error(value: Any) -> str | Goto:
    if isinstance(value, Goto):
        return value
    if isinstance(value, str) and value in _ON_ERROR:
        return value
    if isinstance(value, Mapping) and set(value) == {"goto"}:
        target = value["goto"]
        if isinstance(target, str) and _STEP_ID.fullmatch(target):
            return Goto(goto=target)
    raise ValueError("on_error is fail, continue, compensate or {goto: <step id>}")


def _on_error_dump(value: str | Goto) -> Any:
    return value.model_dump() if isinstance(value, Goto) else value


OnError = Annotated[
    str | Goto,
    PlainValidator(_on_error),
    PlainSerializer(_on_error_dump),
    WithJsonSchema(
        {
            "description": "What a failure (after the retries) does: fail the execution (default), continue "
            "(the step ends failed, the execution goes on), compensate (run the compensations registered so far, "
            "newest first, then fail) or goto a later step of the same list.",
            "oneOf": [
                {"enum": list(_ON_ERROR)},
                {
                    "type": "object",
                    "properties": {"goto": {"type": "string"}},
                    "required": ["goto"],
                    "additionalProperties": False,
                },
            ],
        }
    ),
]


class Compensation(_Strict):
    """The tool call that undoes a step, registered once the step succeeds; it reads ``steps.<id>`` of the step
    it undoes."""

    server: ServerName
    tool: ToolName
    arguments: dict[str, Any] = Field(default_factory=dict[str, Any], description="Values; may hold ${{ }}.")
    write: bool = Field(default=False, description="The tool writes (required when tools/list says so).")
    idempotency_key: Template | None = None
    if_: Expression | None = Field(default=None, alias="if", description="Compensate only when true.")
    retry: Retry | None = None
    timeout: Duration | None = None


class _Step(_Strict):
    id: StepId
    name: str | None = Field(default=None, max_length=200, description="Display name.")
    needs: list[StepId] | None = Field(
        default=None,
        description="Steps of the same list this one runs after. Omitted: after the previous step in the list; "
        "[]: at the start. Steps whose needs are met together run at the same time.",
    )
    if_: Expression | None = Field(default=None, alias="if", description="Run only when true; else skipped.")
    retry: Retry | None = None
    timeout: Duration | None = Field(default=None, description="Per attempt.")
    deadline: Duration | None = Field(default=None, description="All attempts together.")
    on_error: OnError | None = None
    compensate: Compensation | None = None
    idempotency_key: Template | None = Field(
        default=None, description="Same key, same effect: required on writes whose tool is not idempotent."
    )
    outputs: dict[Identifier, Expression] = Field(
        default_factory=dict[str, str],
        description="Named outputs: expressions over `result` (this step's result), read as steps.<id>.outputs.<name>.",
    )


class ToolStep(_Step):
    """Call one tool of one MCP server."""

    type: Literal["tool"]
    server: ServerName
    tool: ToolName
    arguments: dict[str, Any] = Field(default_factory=dict[str, Any], description="Values; may hold ${{ }}.")
    write: bool = Field(default=False, description="The tool writes: required when tools/list says it is no read.")


class PromptRef(_Strict):
    ref: str = Field(min_length=1, max_length=255, description="A prompt of the prompt library.")
    version: int | None = Field(default=None, ge=1)
    variables: dict[str, Any] = Field(default_factory=dict[str, Any])


class Budget(_Strict):
    tokens: int | None = Field(default=None, ge=1)
    cost_usd: float | None = Field(default=None, gt=0)


class AgentStep(_Step):
    """An LLM tool-use loop over an allow-list of tools (declared now; run by a later release)."""

    type: Literal["agent"]
    provider: Literal["anthropic"] = "anthropic"
    model: str | None = Field(default=None, max_length=200)
    prompt: PromptRef | Template
    tools: list[str] = Field(
        default_factory=list[str], description="Allowed tools as server/tool globs, e.g. github/get_*."
    )
    max_iterations: int = Field(default=10, ge=1, le=200)
    budget: Budget | None = None
    output_schema: dict[str, Any] | None = Field(default=None, description="JSON Schema of the structured answer.")
    mode: Literal["react", "router", "orchestrator", "evaluator_optimizer"] = "react"


class ParallelStep(_Step):
    """Run named branches at once; the step's output maps each branch to its last step's output."""

    type: Literal["parallel"]
    branches: dict[Identifier, Annotated[list[Step], Field(min_length=1)]] = Field(min_length=1)
    join: Literal["all", "any", "quorum"] = Field(default="all", description="Which branches must succeed.")
    quorum: int | None = Field(default=None, ge=1, description="With join: quorum, how many.")
    fail_fast: bool = Field(default=True, description="Cancel the other branches once the join cannot be met.")

    @model_validator(mode="after")
    def _quorum(self) -> ParallelStep:
        if (self.join == "quorum") != (self.quorum is not None):
            raise ValueError("give quorum: N exactly when join is quorum")
        if self.quorum is not None and self.quorum > len(self.branches):
            raise ValueError(f"quorum {self.quorum} is more than the {len(self.branches)} branches")
        return self


class MapStep(_Step):
    """Run ``steps`` once per element of ``items``; the output lists each run's last step output, in order."""

    type: Literal["map"]
    items: Expression = Field(description="An expression giving a list.")
    as_: Identifier = Field(default="item", alias="as", description="The element's name inside (with index).")
    max_concurrency: int = Field(default=1, ge=1, le=100, description="Elements run at once.")
    steps: list[Step] = Field(min_length=1)


class Case(_Strict):
    when: Expression
    goto: StepId


class SwitchStep(_Step):
    """Continue at the ``goto`` of the first case whose ``when`` is true (else ``default``, else the next step);
    the steps jumped over are skipped."""

    type: Literal["switch"]
    cases: list[Case] = Field(min_length=1)
    default: StepId | None = None


class LoopStep(_Step):
    """Run ``steps`` again until ``until`` is true (checked after each round), at most ``max_iterations`` times."""

    type: Literal["loop"]
    until: Expression
    max_iterations: int = Field(ge=1, le=10_000)
    steps: list[Step] = Field(min_length=1)


class Approvers(_Strict):
    users: list[str] = Field(default_factory=list[str])
    roles: list[str] = Field(default_factory=list[str])


class ApprovalStep(_Step):
    """Wait for a person's decision; output ``{decision, approved, actor, reason, at}`` where ``decision`` is
    approved, rejected or timed_out and ``approved`` applies ``on_timeout``. ``timeout`` bounds the wait (24h)."""

    type: Literal["approval"]
    message: Template
    approvers: Approvers = Field(default_factory=Approvers)
    data: dict[str, Any] = Field(default_factory=dict[str, Any], description="Shown to the approver.")
    require_phrase: str | None = Field(default=None, max_length=200, description="Text the approver must type.")
    on_timeout: Literal["reject", "approve"] = "reject"


class WaitStep(_Step):
    """Wait for a duration, or until a moment (ISO 8601, may be a template)."""

    type: Literal["wait"]
    duration: Duration | None = None
    until: Template | None = None

    @model_validator(mode="after")
    def _one(self) -> WaitStep:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give exactly one of duration and until")
        return self


class WorkflowStep(_Step):
    """Run a published workflow as a child execution; its outputs are this step's output."""

    type: Literal["workflow"]
    workflow: Name
    version: Semver | None = Field(default=None, description="Omitted: the latest, resolved when this step starts.")
    inputs: dict[str, Any] = Field(default_factory=dict[str, Any], description="Values; may hold ${{ }}.")


Step = Annotated[
    ToolStep | AgentStep | ParallelStep | MapStep | SwitchStep | LoopStep | ApprovalStep | WaitStep | WorkflowStep,
    Field(discriminator="type"),
]


# --- the document ---------------------------------------------------------------------------------------------


class Metadata(_Strict):
    name: Name
    version: Semver
    description: str | None = Field(default=None, max_length=4000)
    labels: dict[str, str] = Field(default_factory=dict[str, str])
    compat: Literal["afu9/v0.4"] | None = Field(default=None, description="Up-converted from AFU-9 v0.4.")


class Defaults(_Strict):
    """What every step has unless it says otherwise."""

    retry: Retry | None = None
    timeout: Duration | None = None
    on_error: Literal["fail", "continue", "compensate"] | None = None


class Workflow(_Strict):
    """A workflow document (``apiVersion: orchestrator/v1``, ``kind: Workflow``)."""

    api_version: Literal["orchestrator/v1"] = Field(alias="apiVersion")
    kind: Literal["Workflow"]
    metadata: Metadata
    inputs: dict[str, Any] | None = Field(default=None, description="JSON Schema of the inputs.")
    outputs: dict[Identifier, Expression] = Field(
        default_factory=dict[str, str], description="The execution's outputs: expressions over steps and inputs."
    )
    defaults: Defaults | None = None
    deadline: Duration | None = Field(default=None, description="The whole execution's time limit.")
    steps: list[Step] = Field(min_length=1, max_length=1000)


for _model in (ParallelStep, MapStep, LoopStep, Workflow):
    _model.model_rebuild()


def child_blocks(step: Step) -> list[tuple[Path, Sequence[Step]]]:
    """The step lists inside ``step``, each with its path relative to the step."""
    if isinstance(step, ParallelStep):
        return [(("branches", name), steps) for name, steps in step.branches.items()]
    if isinstance(step, MapStep | LoopStep):
        return [(("steps",), step.steps)]
    return []


# --- parsing, canonical form, schema --------------------------------------------------------------------------


def parse_workflow(document: Any) -> Workflow:
    """``document`` (parsed YAML or JSON) as a :class:`Workflow`; :class:`WorkflowInvalid` lists every problem
    of shape, type and expression syntax, each with its path in the document."""
    if not isinstance(document, Mapping):
        raise WorkflowInvalid([Problem((), "a workflow document is a mapping (apiVersion, kind, metadata, steps)")])
    try:
        return Workflow.model_validate(document)
    except ValidationError as error:
        raise WorkflowInvalid(_problems(error, document)) from None


def _problems(error: ValidationError, document: Any) -> list[Problem]:
    found: list[Problem] = []
    for detail in error.errors(include_url=False):
        path = _located(detail["loc"], document)
        kind, message = detail["type"], detail["msg"]
        if kind == "missing":
            message = f"missing required field {path[-1]!r}" if path else "missing"
        elif kind == "extra_forbidden":
            message = f"unknown field {path[-1]!r}" if path else message
        elif kind == "union_tag_invalid":
            path = (*path, "type")
            message = f"unknown step type {detail['input'].get('type')!r}; one of: {', '.join(STEP_TYPES)}"
        elif kind == "union_tag_not_found":
            message = f"a step needs a type: one of {', '.join(STEP_TYPES)}"
        else:
            message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        found.append(Problem(path, message))
    return _merged(found)


def _merged(problems: list[Problem]) -> list[Problem]:
    """One problem per path: a value that fits none of a union's members gets one line, not one per member."""
    by_path: dict[Path, list[str]] = {}
    for problem in problems:
        messages = by_path.setdefault(problem.path, [])
        if problem.message not in messages:
            messages.append(problem.message)
    return [Problem(path, "; or ".join(messages)) for path, messages in by_path.items()]


def _located(loc: Sequence[int | str], document: Any) -> Path:
    """pydantic's error location as a path in the document: the discriminator tags it inserts (``steps.0.tool
    .server``) and union member names are dropped."""
    path: list[str | int] = []
    node: Any = document
    tagged: set[int] = set()
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, Mapping):
            if node.get("type") == part and id(node) not in tagged:
                tagged.add(id(node))
                continue
            if part in node:
                node = node[part]
                path.append(part)
                continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path.append(part)
            continue
        if last and isinstance(part, str) and isinstance(node, Mapping):
            path.append(part)  # a missing field: its would-be place
    return tuple(path)


def canonical(workflow: Workflow) -> dict[str, Any]:
    """The document as stored and hashed: JSON values, fields at their default left out (writing a default out
    or not is the same document), keys as written in documents (``apiVersion``, ``if``, ``as``)."""
    return workflow.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def content_hash(document: Mapping[str, Any]) -> str:
    """sha256 (hex) of ``document`` as canonical JSON: keys sorted, no blanks, UTF-8, no ASCII escapes."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a workflow document (draft 2020-12), generated from the models."""
    schema = Workflow.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "AFU-9 workflow (orchestrator/v1)",
        **{key: value for key, value in schema.items() if key != "title"},
    }
