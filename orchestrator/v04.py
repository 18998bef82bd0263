"""AFU-9 v0.4 workflow definitions, up-converted to the ``orchestrator/v1`` format.

A v0.4 document has ``name``, ``description``, ``steps`` (each ``name``, ``tool`` as ``server.tool``, ``params``
with ``${dotted.path}`` placeholders, ``assign``, ``if`` or ``condition``, ``retry``) and ``config``
(``continueOnError``, ``timeoutMs``, ``maxRetries``). Up-conversion:

- each step becomes ``type: tool`` with ``server``/``tool`` split at the first dot, ``params`` → ``arguments``,
  its id taken from ``assign`` (else from its name), v0.4's ``name`` kept as the display name; the steps stay in
  order (no ``needs``: each runs after the one before);
- ``${a.b}`` → ``${{ a.b }}``, reading ``input.x`` as ``inputs.x``, an earlier step's ``assign``ed name as
  ``steps.<id>.output``, and any other root (``repo``, ``issue``, the caller's variables) from the inputs;
- ``if``/``condition`` (v0.4 substituted the placeholders, then ran the text as JavaScript) → a JMESPath
  expression: placeholders, quoted strings, numbers, ``true``/``false``/``null``, comparisons, ``&&``, ``||``,
  ``!`` and parentheses convert (``${x.length}`` becomes ``length(x)``); anything else is reported;
- step ``retry`` → ``retry`` (milliseconds → durations; ``fixed`` and ``linear`` backoff → rate 1),
  ``config.maxRetries`` N → ``defaults.retry.max_attempts`` N + 1, ``config.continueOnError`` →
  ``defaults.on_error: continue``, ``config.timeoutMs`` → ``deadline``;
- ``agent.*`` pseudo-tools → ``type: agent`` (prompt, model, the listed servers' tools);
- the six GitHub tools v0.4 calls get our names and arguments (``github.getIssue`` → ``get_issue``...); a merge
  reads the pull request's head sha first (our merge refuses to merge a head it was not shown);
- with a :class:`~orchestrator.catalog.Catalog`, a step calling a tool that is not read-only is marked
  ``write: true`` (v0.4 had no marking), and one that is not idempotent gets the idempotency key
  ``${{ execution.id }}-<step id>``, so a v0.4 document that calls existing tools validates as it is.

Problems found while converting carry the v0.4 document's paths (``steps[2].params.owner``).

The GitHub table (:data:`GITHUB_TOOLS`) is the one place v0.4's GitHub tool names and arguments are mapped to
the github server's; a test checks every entry against that server's ``tools/list``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.catalog import Catalog
from orchestrator.problems import Path, Problem, WorkflowInvalid

__all__ = ["GITHUB_TOOLS", "LegacyGitHubTool", "context_inputs", "is_v04", "upconvert"]


@dataclass(frozen=True)
class LegacyGitHubTool:
    """One v0.4 GitHub tool: its name, ours, how arguments map, fixed values, what v0.4 callers must add."""

    legacy: str
    tool: str
    arguments: Mapping[str, str]
    fixed: Mapping[str, Any] = field(default_factory=dict[str, Any])
    needs: Mapping[str, str] = field(default_factory=dict[str, str])


GITHUB_TOOLS: dict[str, LegacyGitHubTool] = {
    entry.legacy: entry
    for entry in (
        LegacyGitHubTool("getIssue", "get_issue", {"owner": "owner", "repo": "repo", "number": "number"}),
        LegacyGitHubTool(
            "listIssues", "list_issues", {"owner": "owner", "repo": "repo", "state": "state", "labels": "labels"}
        ),
        LegacyGitHubTool(
            "createBranch", "create_branch", {"owner": "owner", "repo": "repo", "branch": "branch", "from": "from_ref"}
        ),
        LegacyGitHubTool(
            "commitFileChanges",
            "push_files",
            {"owner": "owner", "repo": "repo", "branch": "branch", "message": "message", "files": "files"},
        ),
        LegacyGitHubTool(
            "createPullRequest",
            "create_pull_request",
            {"owner": "owner", "repo": "repo", "title": "title", "body": "body", "head": "head", "base": "base"},
            fixed={"draft": False},
        ),
        LegacyGitHubTool(
            "mergePullRequest",
            "merge_pull_request",
            {
                "owner": "owner",
                "repo": "repo",
                "pull_number": "number",
                "commit_title": "commit_title",
                "commit_message": "commit_message",
                "merge_method": "method",
            },
            fixed={"method": "merge"},
            needs={"expected_head_sha": "the pull request's head_sha, from get_pull_request"},
        ),
    )
}
"""The AFU-9 v0.4 GitHub tools and ours: argument renames, fixed values, what v0.4 callers must add."""

_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INDEXED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])+)$")
_MS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1))


def is_v04(document: Any) -> bool:
    """Whether ``document`` is an AFU-9 v0.4 definition (a ``steps`` list, no ``apiVersion`` or ``kind``)."""
    return (
        isinstance(document, Mapping)
        and "apiVersion" not in document
        and "kind" not in document
        and isinstance(document.get("steps"), list)
    )


def upconvert(document: Mapping[str, Any], catalog: Catalog | None = None) -> dict[str, Any]:
    """The ``orchestrator/v1`` document for the v0.4 ``document``; :class:`WorkflowInvalid` lists what cannot be
    converted, with paths in the v0.4 document."""
    return _Converter(catalog).convert(document)


@dataclass
class _Converter:
    catalog: Catalog | None
    problems: list[Problem] = field(default_factory=list[Problem])
    assigned: dict[str, str] = field(default_factory=dict[str, str])  # v0.4 variable -> step id
    later: dict[str, int] = field(default_factory=dict[str, int])  # variable -> index of the step assigning it
    ids: set[str] = field(default_factory=set[str])

    def convert(self, document: Mapping[str, Any]) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": document.get("name"),
            "version": _version(document.get("version")),
            "compat": "afu9/v0.4",
        }
        if document.get("description"):
            metadata["description"] = document["description"]
        converted: dict[str, Any] = {"apiVersion": "orchestrator/v1", "kind": "Workflow", "metadata": metadata}
        config = document.get("config") or {}
        if not isinstance(config, Mapping):
            self.add(("config",), "config is a mapping (continueOnError, timeoutMs, maxRetries)")
            config = {}
        defaults: dict[str, Any] = {}
        if config.get("continueOnError") is True:
            defaults["on_error"] = "continue"
        retries = config.get("maxRetries")
        if isinstance(retries, int) and not isinstance(retries, bool) and retries > 0:
            defaults["retry"] = {"max_attempts": retries + 1}
        if defaults:
            converted["defaults"] = defaults
        timeout = config.get("timeoutMs")
        if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout > 0:
            converted["deadline"] = _duration(timeout)
        raw_steps: list[Any] = document["steps"]
        for index, raw in enumerate(raw_steps):
            if isinstance(raw, Mapping) and isinstance(raw.get("assign"), str):
                self.later.setdefault(raw["assign"], index)
        steps: list[dict[str, Any]] = []
        for index, raw in enumerate(raw_steps):
            steps += self._step(raw, index)
        converted["steps"] = steps
        if self.problems:
            raise WorkflowInvalid(self.problems)
        return converted

    def add(self, path: Path, message: str) -> None:
        self.problems.append(Problem(path, message))

    # --- steps -------------------------------------------------------------------------------------------------

    def _step(self, raw: Any, index: int) -> list[dict[str, Any]]:
        path: Path = ("steps", index)
        if not isinstance(raw, Mapping):
            self.add(path, "a v0.4 step is a mapping (name, tool, params, assign, condition)")
            return []
        tool = raw.get("tool")
        if not isinstance(tool, str) or "." not in tool:
            self.add((*path, "tool"), f"{tool!r} is not server.tool (e.g. github.getIssue)")
            return []
        server, name = tool.split(".", 1)
        step_id = self._id(raw, index)
        step: dict[str, Any] = {"id": step_id}
        if isinstance(raw.get("name"), str) and raw["name"] != step_id:
            step["name"] = raw["name"][:200]
        condition = raw.get("if", raw.get("condition"))
        if condition is not None:
            key = "if" if "if" in raw else "condition"
            expression = self._condition(condition, (*path, key), index)
            if expression is not None:
                step["if"] = expression
        if isinstance(raw.get("retry"), Mapping):
            step["retry"] = self._retry(raw["retry"], (*path, "retry"))
        params = raw.get("params") or {}
        if not isinstance(params, Mapping):
            self.add((*path, "params"), "params is a mapping of argument names to values")
            params = {}
        arguments = {str(k): self._value(v, (*path, "params", str(k)), index) for k, v in params.items()}
        before: list[dict[str, Any]] = []
        if server == "agent":
            step |= self._agent(arguments, name)
        else:
            if server == "github" and name in GITHUB_TOOLS:
                name, arguments, before = self._github(GITHUB_TOOLS[name], arguments, step, path)
            step |= {"type": "tool", "server": server, "tool": name, "arguments": arguments}
            self._mark(step)
            for read in before:
                self._mark(read)
        if isinstance(raw.get("assign"), str):
            self.assigned[raw["assign"]] = step_id
        return [*before, step]

    def _id(self, raw: Mapping[str, Any], index: int) -> str:
        for candidate in (raw.get("assign"), raw.get("name")):
            if isinstance(candidate, str):
                slug = re.sub(r"[^A-Za-z0-9_]+", "_", candidate).strip("_").lower()[:60]
                if slug and not slug[0].isdigit():
                    return self._unique(slug)
        return self._unique(f"step_{index + 1}")

    def _unique(self, base: str) -> str:
        name, number = base, 2
        while name in self.ids:
            name, number = f"{base}_{number}", number + 1
        self.ids.add(name)
        return name

    def _github(
        self, entry: LegacyGitHubTool, arguments: dict[str, Any], step: dict[str, Any], path: Path
    ) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        translated = dict(entry.fixed)
        for key, value in arguments.items():
            if key in entry.arguments:
                translated[entry.arguments[key]] = value
            else:
                self.add(
                    (*path, "params", key),
                    f"github.{entry.legacy} has no parameter {key!r}; it takes {', '.join(entry.arguments)}",
                )
        before: list[dict[str, Any]] = []
        if "expected_head_sha" in entry.needs:
            read_id = self._unique(f"{step['id']}_head")
            read: dict[str, Any] = {
                "id": read_id,
                "name": "Read the pull request's head before merging",
                "type": "tool",
                "server": "github",
                "tool": "get_pull_request",
                "arguments": {k: translated[k] for k in ("owner", "repo", "number") if k in translated},
            }
            if "if" in step:
                read["if"] = step["if"]
            translated["expected_head_sha"] = f"${{{{ steps.{read_id}.output.head_sha }}}}"
            before.append(read)
        return entry.tool, translated, before

    def _agent(self, arguments: dict[str, Any], name: str) -> dict[str, Any]:
        config = arguments.get("config") if isinstance(arguments.get("config"), Mapping) else {}
        agent: dict[str, Any] = {"type": "agent", "prompt": arguments.get("prompt", "")}
        if isinstance(config, Mapping) and isinstance(config.get("model"), str):
            agent["model"] = config["model"]
        servers = arguments.get("serverNames")
        if isinstance(servers, list):
            agent["tools"] = [f"{server}/*" for server in servers if isinstance(server, str)]
        if name != "execute":
            agent["name"] = f"agent.{name}"
        return agent

    def _mark(self, step: dict[str, Any]) -> None:
        if self.catalog is None:
            return
        tool = self.catalog.tool(step["server"], step["tool"])
        if tool is None or tool.read_only:
            return
        step["write"] = True
        if not tool.idempotent and "idempotency_key" not in step["arguments"]:
            step["idempotency_key"] = f"${{{{ execution.id }}}}-{step['id']}"

    def _retry(self, raw: Mapping[str, Any], path: Path) -> dict[str, Any]:
        retry: dict[str, Any] = {}
        if isinstance(raw.get("maxAttempts"), int):
            retry["max_attempts"] = raw["maxAttempts"]
        for legacy, ours in (("initialDelayMs", "initial_interval"), ("maxDelayMs", "max_interval")):
            value = raw.get(legacy)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                retry[ours] = _duration(value)
        backoff = raw.get("backoff", "exponential")
        if backoff == "exponential":
            multiplier = raw.get("backoffMultiplier", 2)
            retry["backoff_rate"] = multiplier if isinstance(multiplier, int | float) else 2
        elif backoff in ("fixed", "linear"):
            retry["backoff_rate"] = 1
        else:
            self.add((*path, "backoff"), f"backoff {backoff!r} is not fixed, linear or exponential")
        if "initial_interval" in retry and "max_interval" not in retry:
            retry["max_interval"] = max(retry["initial_interval"], "60s", key=_milliseconds)
        return retry

    # --- placeholders and conditions ---------------------------------------------------------------------------

    def _value(self, value: Any, path: Path, index: int) -> Any:
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: f"${{{{ {self._path(m.group(1), path, index)} }}}}", value)
        if isinstance(value, Mapping):
            return {str(k): self._value(v, (*path, str(k)), index) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v, (*path, i), index) for i, v in enumerate(value)]
        return value

    def _path(self, dotted: str, path: Path, index: int) -> str:
        """A v0.4 ``a.b.c`` placeholder as a JMESPath expression over the v1 context."""
        parts = [part.strip() for part in dotted.strip().split(".")]
        if not parts or not all(parts):
            self.add(path, f"${{{dotted}}} is not a dotted path")
            return "`null`"
        length = parts[-1] == "length" and len(parts) > 1
        if length:
            parts = parts[:-1]
        root, rest = parts[0], parts[1:]
        if root == "input":
            head = ["inputs"]
        elif root in self.assigned:
            head = ["steps", self.assigned[root], "output"]
        elif root in self.later and self.later[root] >= index:
            self.add(path, f"${{{dotted}}} reads {root!r}, which only a later step assigns")
            return "`null`"
        else:
            head = ["inputs", _segment(root)]
        expression = ".".join([*head, *(_segment(part) for part in rest)]).replace(".[", "[")
        return f"length({expression})" if length else expression

    def _condition(self, condition: Any, path: Path, index: int) -> str | None:
        if isinstance(condition, bool):
            return f"`{json.dumps(condition)}`"
        if not isinstance(condition, str) or not condition.strip():
            self.add(path, "a condition is a text such as ${input.deploy} === true")
            return None
        out: list[str] = []
        position = 0
        text = condition.strip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.lastgroup is None:
                self.add(path, f"cannot convert {condition!r} at {text[position:][:20]!r}: rewrite it as JMESPath")
                return None
            kind, piece = match.lastgroup, match.group()
            position = match.end()
            if kind == "space":
                continue
            if kind == "placeholder":
                out.append(self._path(piece[2:-1], path, index))
            elif kind == "string":
                inner = piece[1:-1]
                whole = _PLACEHOLDER.fullmatch(inner)
                if whole:
                    out.append(self._path(whole.group(1), path, index))
                elif "${" in inner:
                    self.add(path, f"cannot convert {piece!r} (a placeholder inside text): rewrite it as JMESPath")
                    return None
                else:
                    plain = re.sub(r"\\(.)", r"\1", inner)  # JavaScript escapes, then JMESPath's own
                    out.append("'" + plain.replace("'", "\\'") + "'")
            elif kind == "number":
                out.append(f"`{piece}`")
            elif kind == "word":
                out.append(f"`{_WORDS.get(piece, piece)}`")
            else:
                out.append(_OPERATORS.get(piece, piece))
        return " ".join(out)


_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<placeholder>\$\{[^{}]*\})"
    r"|(?P<string>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<word>\b(?:true|false|null|undefined)\b)"
    r"|(?P<operator>===|!==|==|!=|<=|>=|&&|\|\||<|>|!|\(|\))"
)
_OPERATORS = {"===": "==", "!==": "!="}
_WORDS = {"undefined": "null"}


def _segment(part: str) -> str:
    if _IDENTIFIER.match(part):
        return part
    if part.isdigit():
        return f"[{part}]"
    indexed = _INDEXED.match(part)
    if indexed:
        return indexed.group(1) + indexed.group(2)
    return json.dumps(part)


def _version(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return f"{value}.0.0"
    return value if isinstance(value, str) else "1.0.0"


def _duration(milliseconds: int) -> str:
    if milliseconds == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in _MS:
        count, milliseconds = divmod(milliseconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _milliseconds(duration: str) -> float:
    from orchestrator.format import parse_duration

    return parse_duration(duration).total_seconds() * 1000


def context_inputs(context: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs of an up-converted document from a v0.4 execution context (``input``, ``repo``,
    ``variables``, ``issue``...): ``input``'s fields and the variables at the top, every other root as it is,
    so ``${input.x}`` (now ``inputs.x``) and ``${repo.owner}`` (now ``inputs.repo.owner``) both resolve."""
    inputs: dict[str, Any] = {key: value for key, value in context.items() if key not in ("input", "variables")}
    for part in ("variables", "input"):
        value = context.get(part)
        if isinstance(value, Mapping):
            inputs.update(value)
    return inputs
