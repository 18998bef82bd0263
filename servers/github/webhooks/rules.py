"""Webhook routing rules: which deliveries go where, read from a YAML or JSON file (``AFU9_GITHUB_WEBHOOK_RULES``).

::

    servers:                       # optional; default http://127.0.0.1:<port>/mcp with AFU9_HTTP_TOKENS' first token
      factory: {url: "http://127.0.0.1:3004/mcp", token_env: FACTORY_TOKEN}
    rules:
      - name: count-merged-prs     # unique; part of the idempotency key of each target run
        match:                     # every key given must match; a value is a glob or a list of globs
          event: pull_request
          action: closed
          repository: "acme/*"     # owner/name, case-insensitive; also branch, label, sender
        if: "payload.pull_request.merged"          # optional JMESPath over the context, truthy to run
        tool:                      # or: record: true   or: workflow: {name: triage, inputs: {...}}
          server: factory
          name: record_kpi_measurement
          arguments: {kpi_id: throughput, value: 1, source: "github:${repository}#${payload.number}"}

A string argument that is exactly ``${expr}`` takes the value of the JMESPath expression (any JSON type);
``${expr}`` inside a longer string is replaced by the value as text. The context is ``event``, ``action``,
``delivery``, ``repository``, ``branch``, ``labels``, ``sender`` and ``payload``. A delivery that no rule
matches is recorded only. Every rule that matches runs, in file order.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.errors import ConfigError

__all__ = ["DEFAULT_PORTS", "Context", "Rule", "Rules", "ServerAddress", "Target", "load_rules", "render"]

DEFAULT_PORTS = {"orchestrator": 3000, "github": 3001, "deploy": 3002, "observability": 3003, "factory": 3004}
"""Where the suite's servers listen by default (one ECS task: the sidecars share 127.0.0.1)."""

_TEMPLATE = re.compile(r"\$\{(.+?)\}")
_WHOLE = re.compile(r"^\$\{(.+)\}$", re.DOTALL)
_MAX_RULES = 200
_SETTING = "AFU9_GITHUB_WEBHOOK_RULES"

Patterns = str | list[str] | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    event: Patterns = None
    action: Patterns = None
    repository: Patterns = None
    branch: Patterns = None
    label: Patterns = None
    sender: Patterns = None


class ToolTarget(_Strict):
    server: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,127}$")
    arguments: dict[str, Any] = Field(default_factory=dict[str, Any])


class WorkflowTarget(_Strict):
    name: str = Field(min_length=1, max_length=255)
    version: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict[str, Any])


class Rule(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    match: Match = Match()
    if_: str | None = Field(default=None, alias="if")
    record: Literal[True] | None = None
    tool: ToolTarget | None = None
    workflow: WorkflowTarget | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Rule:
        given = [kind for kind in ("record", "tool", "workflow") if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one target: record: true, tool: {...} or workflow: {...}")
        return self

    @field_validator("if_")
    @classmethod
    def _expression(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    @property
    def kind(self) -> str:
        return "tool" if self.tool else "workflow" if self.workflow else "record"

    @property
    def reads_payload(self) -> bool:
        """Whether matching or running this rule reads the payload (a record rule matching on stored columns
        does not: event, action, repository and sender are columns of the delivery)."""
        return (
            self.match.branch is not None
            or self.match.label is not None
            or self.if_ is not None
            or bool(self.tool or self.workflow)
        )

    def matches(self, context: Context) -> bool:
        checks = (
            (self.match.event, [context.event], False),
            (self.match.action, [context.action or ""], False),
            (self.match.repository, [context.repository or ""], True),
            (self.match.branch, [context.branch or ""], False),
            (self.match.label, context.labels, False),
            (self.match.sender, [context.sender or ""], True),
        )
        for patterns, values, fold in checks:
            if patterns is not None and not _any_match(patterns, values, fold):
                return False
        return self.if_ is None or bool(_compile(self.if_).search(context.data()))

    def target(self, context: Context) -> Target:
        """What this rule does for ``context``: the tool call with its arguments rendered."""
        if self.tool is not None:
            return Target(self.name, "tool", self.tool.server, self.tool.name, render(self.tool.arguments, context))
        if self.workflow is not None:
            arguments: dict[str, Any] = {"name": self.workflow.name, "inputs": render(self.workflow.inputs, context)}
            if self.workflow.version is not None:
                arguments["version"] = self.workflow.version
            return Target(self.name, "workflow", "orchestrator", "start_workflow", arguments)
        return Target(self.name, "record", None, None, {})


class ServerAddress(_Strict):
    url: str = Field(pattern=r"^https?://")
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class Rules(_Strict):
    servers: dict[str, ServerAddress] = Field(default_factory=dict[str, ServerAddress])
    rules: list[Rule] = Field(default_factory=list[Rule], max_length=_MAX_RULES)

    @model_validator(mode="after")
    def _checked(self) -> Rules:
        names = [rule.name for rule in self.rules]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"rule names must be unique: {', '.join(twice)}")
        for rule in self.rules:
            for value in _strings(rule.tool.arguments if rule.tool else rule.workflow.inputs if rule.workflow else {}):
                for expression in _TEMPLATE.findall(value):
                    _compile(expression)
        return self

    @property
    def read_payloads(self) -> bool:
        """Whether processing needs each delivery's payload."""
        return any(rule.reads_payload for rule in self.rules)

    def matching(self, context: Context) -> list[Rule]:
        return [rule for rule in self.rules if rule.matches(context)]


@dataclass(frozen=True)
class Context:
    """What rules match on and templates read: the delivery's headers and its payload."""

    delivery: str
    event: str
    action: str | None
    repository: str | None
    branch: str | None
    labels: list[str]
    sender: str | None
    payload: Mapping[str, Any]

    def data(self) -> dict[str, Any]:
        return {
            "delivery": self.delivery,
            "event": self.event,
            "action": self.action,
            "repository": self.repository,
            "branch": self.branch,
            "labels": self.labels,
            "sender": self.sender,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class Target:
    """One thing a matched rule does with a delivery."""

    rule: str
    kind: str  # record, tool, workflow
    server: str | None
    tool: str | None
    arguments: dict[str, Any]


def render(value: Any, context: Context) -> Any:
    """``value`` with its ``${expr}`` templates evaluated over ``context`` (see the module docstring)."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole and "${" not in whole.group(1):
            return _compile(whole.group(1)).search(context.data())
        return _TEMPLATE.sub(lambda m: _as_text(_compile(m.group(1)).search(context.data())), value)
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def load_rules(path: Path | None) -> Rules:
    """The rules in ``path`` (none: record every delivery only); a :class:`ConfigError` lists every problem."""
    if path is None:
        return Rules()
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(_SETTING, f"cannot read {path} ({type(error).__name__})") from None
    try:
        document = json.loads(raw) if path.suffix.lower() == ".json" else _yaml(raw)
    except ValueError as error:
        raise ConfigError(_SETTING, f"{path} is not valid {path.suffix or 'YAML'}: {error}") from None
    try:
        return Rules.model_validate(document if document is not None else {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in detail['loc']) or 'document'}: {detail['msg']}"
            for detail in error.errors()[:10]
        )
        raise ConfigError(_SETTING, f"{path}: {problems}") from None


def _yaml(raw: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise ValueError(str(error).replace("\n", " ")[:300]) from None


def _compile(expression: str) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(expression)
    except JMESPathError as error:
        raise ValueError(f"not a JMESPath expression: {expression!r} ({str(error).splitlines()[0]})") from None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _any_match(patterns: str | list[str], values: list[str], fold: bool) -> bool:
    listed = [patterns] if isinstance(patterns, str) else patterns
    if fold:
        listed, values = [p.lower() for p in listed], [v.lower() for v in values]
    return any(fnmatch.fnmatchcase(value, pattern) for pattern in listed for value in values)
