"""The checks a workflow passes before it is published, each problem with its path in the document.

Document checks: step ids unique; ``needs`` name siblings and form no cycle; ``goto`` targets are later steps of
the same list; every template parses; every expression reads only what exists where it runs (``inputs`` it
declares, ``steps.<id>`` that certainly ran before, the named ``outputs`` a step declares, the fields its tool's
output schema lists, ``execution`` fields, the item of an enclosing map).

Catalog checks (with a :class:`~orchestrator.catalog.Catalog`): every server and tool exists; literal arguments
fit the tool's input schema (arguments holding templates are checked once they have values, at run time); a
step calling a tool that ``tools/list`` does not mark read-only says ``write: true``; such a write on a tool not
marked idempotent has an ``idempotency_key``; an agent's tool globs match tools.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.catalog import Catalog, ToolInfo
from orchestrator.expressions import (
    EXECUTION_FIELDS,
    STEP_FIELDS,
    ExpressionError,
    Template,
    compile_expression,
    has_template,
    pitfalls,
    references,
    split_template,
    strings,
)
from orchestrator.format import (
    AgentStep,
    ApprovalStep,
    Compensation,
    Goto,
    LoopStep,
    MapStep,
    ParallelStep,
    Step,
    SwitchStep,
    ToolStep,
    WaitStep,
    Workflow,
    WorkflowStep,
    child_blocks,
)
from orchestrator.problems import Path, Problem, render_path

__all__ = ["APPROVAL_OUTPUT", "validate"]

APPROVAL_OUTPUT = ("decision", "approved", "actor", "reason", "at")
_ROOTS = ("inputs", "steps", "execution")


def validate(
    workflow: Workflow,
    catalog: Catalog | None = None,
    *,
    published: Callable[[str, str | None], bool] | None = None,
) -> list[Problem]:
    """Every problem of ``workflow``; with ``catalog``, also of its tool calls; with ``published`` (name,
    version or None → whether such a workflow is published), also of its sub-workflow steps."""
    return _Checker(workflow, catalog, published).run()


@dataclass
class _Placed:
    """A step and where it is: its path, its list (``block``), its index there and the step that holds it."""

    step: Step
    path: Path
    block: Path
    index: int
    container: str | None
    maps: tuple[MapStep, ...] = ()
    loops: int = 0


@dataclass(frozen=True)
class _Scope:
    """What an expression may read where it is."""

    visible: frozenset[str]
    variables: frozenset[str] = frozenset()
    here: str | None = None  # the step the expression belongs to (for "add it to needs" hints)
    result_of: str | None = None  # `result` is this step's result (named outputs)


@dataclass
class _Checker:
    workflow: Workflow
    catalog: Catalog | None
    published: Callable[[str, str | None], bool] | None
    problems: list[Problem] = field(default_factory=list[Problem])
    placed: dict[str, _Placed] = field(default_factory=dict[str, _Placed])
    blocks: dict[Path, list[str]] = field(default_factory=dict[Path, list[str]])
    before: dict[str, set[str]] = field(default_factory=dict[str, set[str]])
    visible: dict[str, frozenset[str]] = field(default_factory=dict[str, frozenset[str]])

    def run(self) -> list[Problem]:
        self._place(self.workflow.steps, ("steps",), None, (), 0)
        for block, ids in self.blocks.items():
            self._order(block, ids)
        for step_id in self.placed:
            self._visibility(step_id)
        self._check_inputs_schema()
        for placed in self.placed.values():
            self._check_step(placed)
        top = frozenset(v for i in self.blocks[("steps",)] for v in self._exposed(i))
        for name, expression in self.workflow.outputs.items():
            self._expression(expression, ("outputs", name), _Scope(top))
        return self.problems

    def add(self, path: Path, message: str) -> None:
        self.problems.append(Problem(path, message))

    # --- where every step is ------------------------------------------------------------------------------------

    def _place(
        self, steps: Sequence[Step], block: Path, container: str | None, maps: tuple[MapStep, ...], loops: int
    ) -> None:
        ids = self.blocks.setdefault(block, [])
        for index, step in enumerate(steps):
            path = (*block, index)
            if step.id in self.placed:
                first = self.placed[step.id].path
                self.add((*path, "id"), f"step id {step.id!r} is used twice (first at {render_path(first)})")
                continue
            self.placed[step.id] = _Placed(step, path, block, index, container, maps, loops)
            ids.append(step.id)
            inner_maps = (*maps, step) if isinstance(step, MapStep) else maps
            inner_loops = loops + 1 if isinstance(step, LoopStep) else loops
            for relative, children in child_blocks(step):
                self._place(children, (*path, *relative), step.id, inner_maps, inner_loops)

    def _deps(self, step_id: str) -> list[tuple[str, bool]]:
        """The siblings ``step_id`` runs after, each with whether it was named in ``needs``."""
        placed = self.placed[step_id]
        if placed.step.needs is None:
            siblings = self.blocks[placed.block]
            position = siblings.index(step_id)
            return [(siblings[position - 1], False)] if position > 0 else []
        return [(need, True) for need in placed.step.needs if self._sibling(need, placed)]

    def _sibling(self, need: str, placed: _Placed) -> bool:
        other = self.placed.get(need)
        return other is not None and other.block == placed.block and need != placed.step.id

    def _order(self, block: Path, ids: list[str]) -> None:
        for step_id in ids:
            placed = self.placed[step_id]
            for position, need in enumerate(placed.step.needs or []):
                where = (*placed.path, "needs", position)
                other = self.placed.get(need)
                if need == step_id:
                    self.add(where, "a step cannot need itself")
                elif other is None:
                    self.add(where, f"no step {need!r} in this workflow{_suggest(need, self.placed)}")
                elif other.block != block:
                    siblings = ", ".join(i for i in ids if i != step_id) or "none"
                    self.add(
                        where,
                        f"{need!r} is not in the same step list; a step needs only its siblings ({siblings}), "
                        "and the steps holding them order the rest",
                    )
        state: dict[str, int] = {}  # 1: being visited, 2: done
        stack: list[str] = []
        reported: set[frozenset[str]] = set()

        def visit(step_id: str) -> set[str]:
            if state.get(step_id) == 2:
                return self.before[step_id]
            state[step_id] = 1
            stack.append(step_id)
            found: set[str] = set()
            for need, _named in self._deps(step_id):
                if state.get(need) == 1:
                    cycle = [*stack[stack.index(need) :], need]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        self._cycle(cycle)
                    continue
                found |= {need, *visit(need)}
            stack.pop()
            state[step_id] = 2
            self.before[step_id] = found
            return found

        for step_id in ids:
            visit(step_id)

    def _cycle(self, cycle: list[str]) -> None:
        first = min(cycle[:-1], key=lambda i: self.placed[i].index)
        start = cycle.index(first)
        ordered = [*cycle[start:-1], *cycle[:start], first]
        links = []
        for later, earlier in itertools.pairwise(ordered):
            named = dict(self._deps(later)).get(earlier, True)
            links.append(f"{later} needs {earlier}" + ("" if named else " (the step before it in the list)"))
        self.add((*self.placed[first].path, "needs"), "the needs form a cycle: " + ", ".join(links))

    def _exposed(self, step_id: str) -> set[str]:
        """What a finished step lets later steps read: itself, and the steps inside a parallel or loop."""
        found = {step_id}
        step = self.placed[step_id].step
        if isinstance(step, ParallelStep | LoopStep):
            for _, children in child_blocks(step):
                for child in children:
                    if child.id in self.placed and self.placed[child.id].step is child:
                        found |= self._exposed(child.id)
        return found

    def _visibility(self, step_id: str) -> frozenset[str]:
        if step_id in self.visible:
            return self.visible[step_id]
        placed = self.placed[step_id]
        seen: set[str] = set()
        for earlier in self.before.get(step_id, set()):
            seen |= self._exposed(earlier)
        if placed.container is not None:
            seen |= self._visibility(placed.container)
        self.visible[step_id] = frozenset(seen)
        return self.visible[step_id]

    # --- one step ----------------------------------------------------------------------------------------------

    def _scope(self, placed: _Placed, *, result: bool = False, extra: Iterable[str] = ()) -> _Scope:
        variables: set[str] = set()
        for outer in placed.maps:
            variables |= {outer.as_, "index"}
        if placed.loops:
            variables.add("iteration")
        visible = self._visibility(placed.step.id) | set(extra)
        return _Scope(
            frozenset(visible),
            frozenset(variables),
            placed.step.id,
            placed.step.id if result else None,
        )

    def _check_step(self, placed: _Placed) -> None:
        step, path = placed.step, placed.path
        if self.placed.get(step.id) is not placed:
            return
        scope = self._scope(placed)
        if step.if_ is not None:
            self._expression(step.if_, (*path, "if"), scope)
        for name, expression in step.outputs.items():
            self._expression(expression, (*path, "outputs", name), self._scope(placed, result=True))
        if step.idempotency_key is not None:
            self._templates(step.idempotency_key, (*path, "idempotency_key"), scope)
        if isinstance(step.on_error, Goto):
            self._goto(placed, step.on_error.goto, (*path, "on_error", "goto"))
        if step.compensate is not None:
            own = self._scope(placed, extra=[step.id])
            self._compensation(step.compensate, (*path, "compensate"), own)
        if isinstance(step, ToolStep):
            self._templates(step.arguments, (*path, "arguments"), scope)
            self._tool_call(step, path, scope_key=step.idempotency_key)
        elif isinstance(step, AgentStep):
            self._agent(step, path, scope)
        elif isinstance(step, MapStep):
            self._expression(step.items, (*path, "items"), scope)
            if step.as_ in (*_ROOTS, "index", "iteration"):
                self.add((*path, "as"), f"{step.as_!r} would hide {step.as_} inside the map: choose another name")
        elif isinstance(step, SwitchStep):
            for position, case in enumerate(step.cases):
                self._expression(case.when, (*path, "cases", position, "when"), scope)
                self._goto(placed, case.goto, (*path, "cases", position, "goto"))
            if step.default is not None:
                self._goto(placed, step.default, (*path, "default"))
        elif isinstance(step, LoopStep):
            inside = frozenset(v for child in step.steps if child.id in self.placed for v in self._exposed(child.id))
            until = _Scope(scope.visible | inside, scope.variables | {"iteration"}, step.id)
            self._expression(step.until, (*path, "until"), until)
        elif isinstance(step, ApprovalStep):
            self._templates(step.message, (*path, "message"), scope)
            self._templates(step.data, (*path, "data"), scope)
        elif isinstance(step, WaitStep) and step.until is not None:
            self._templates(step.until, (*path, "until"), scope)
        elif isinstance(step, WorkflowStep):
            self._templates(step.inputs, (*path, "inputs"), scope)
            self._sub_workflow(step, path)

    def _goto(self, placed: _Placed, target: str, path: Path) -> None:
        other = self.placed.get(target)
        if other is None:
            self.add(path, f"no step {target!r} in this workflow{_suggest(target, self.placed)}")
        elif other.block != placed.block:
            self.add(path, f"{target!r} is not in the same step list: goto jumps only within one list")
        elif other.index <= placed.index:
            self.add(path, f"{target!r} comes before this step: goto jumps forward (use a loop step to repeat)")

    def _compensation(self, compensation: Compensation, path: Path, scope: _Scope) -> None:
        if compensation.if_ is not None:
            self._expression(compensation.if_, (*path, "if"), scope)
        if compensation.idempotency_key is not None:
            self._templates(compensation.idempotency_key, (*path, "idempotency_key"), scope)
        self._templates(compensation.arguments, (*path, "arguments"), scope)
        self._tool_call(compensation, path, scope_key=compensation.idempotency_key)

    def _agent(self, step: AgentStep, path: Path, scope: _Scope) -> None:
        if isinstance(step.prompt, str):
            self._templates(step.prompt, (*path, "prompt"), scope)
        else:
            self._templates(step.prompt.variables, (*path, "prompt", "variables"), scope)
        if step.output_schema is not None:
            self._json_schema(step.output_schema, (*path, "output_schema"))
        for position, pattern in enumerate(step.tools):
            where = (*path, "tools", position)
            if "/" not in pattern:
                self.add(where, f"{pattern!r} is not server/tool (a glob such as github/get_* or factory/*)")
            elif self.catalog is not None and not self.catalog.matching(pattern):
                self.add(where, f"{pattern!r} matches no tool of the servers ({', '.join(self.catalog.servers)})")

    def _sub_workflow(self, step: WorkflowStep, path: Path) -> None:
        if step.workflow == self.workflow.metadata.name:
            self.add((*path, "workflow"), "a workflow cannot run itself as a sub-workflow")
        elif self.published is not None and not self.published(step.workflow, step.version):
            which = f"{step.workflow} {step.version}" if step.version else step.workflow
            self.add((*path, "workflow"), f"no published workflow {which}: publish it first")

    def _check_inputs_schema(self) -> None:
        if self.workflow.inputs is not None:
            self._json_schema(self.workflow.inputs, ("inputs",))

    def _json_schema(self, schema: Mapping[str, Any], path: Path) -> None:
        from jsonschema.exceptions import SchemaError
        from jsonschema.validators import validator_for

        try:
            validator_for(schema).check_schema(dict(schema))
        except SchemaError as error:
            self.add((*path, *error.absolute_path), f"not a valid JSON Schema: {error.message}")

    # --- expressions and what they read -------------------------------------------------------------------------

    def _templates(self, value: Any, path: Path, scope: _Scope) -> None:
        for where, text in strings(value, path):
            if not has_template(text):
                continue
            try:
                parts = split_template(text)
            except ExpressionError as error:
                self.add(where, str(error))
                continue
            for part in parts:
                if isinstance(part, Template):
                    self._expression(part.expression, where, scope)

    def _expression(self, expression: str, path: Path, scope: _Scope) -> None:
        try:
            compile_expression(expression)
        except ExpressionError as error:
            self.add(path, str(error))
            return
        for warning in pitfalls(expression):
            self.add(path, warning)
        for chain in references(expression):
            message = self._reference(chain, scope)
            if message:
                self.add(path, message)

    def _reference(self, chain: tuple[str, ...], scope: _Scope) -> str | None:
        root = chain[0]
        if root == "inputs":
            return self._input_reference(chain)
        if root == "execution":
            if len(chain) > 1 and chain[1] not in EXECUTION_FIELDS:
                return f"execution has no field {chain[1]!r} (it has {', '.join(EXECUTION_FIELDS)})"
            return None
        if root == "steps":
            return self._step_reference(chain, scope)
        if root == "result" and scope.result_of is not None:
            return self._output_field(scope.result_of, chain[1:], f"result of {scope.result_of}")
        if root in scope.variables:
            return None
        known = [*_ROOTS, *sorted(scope.variables), *(["result"] if scope.result_of else [])]
        hint = ""
        if root in self.placed:
            hint = f"; did you mean steps.{root}.output?"
        elif root == "input":
            hint = "; did you mean inputs?"
        elif root in ("null", "true", "false"):
            hint = f"; a JMESPath literal is written in backticks: `{root}`"
        return f"unknown name {root!r}: expressions read {', '.join(known)}{hint}"

    def _input_reference(self, chain: tuple[str, ...]) -> str | None:
        schema = self.workflow.inputs
        if len(chain) < 2 or not schema or not isinstance(schema.get("properties"), Mapping):
            return None
        declared: Mapping[str, Any] = schema["properties"]
        if chain[1] in declared:
            return None
        return f"inputs.{chain[1]} is not declared in inputs.properties{_suggest(chain[1], declared)}"

    def _step_reference(self, chain: tuple[str, ...], scope: _Scope) -> str | None:
        if len(chain) < 2:
            return None
        target = chain[1]
        placed = self.placed.get(target)
        if placed is None:
            return f"no step {target!r} in this workflow{_suggest(target, self.placed)}"
        if target not in scope.visible:
            return self._not_visible(target, scope)
        if len(chain) < 3:
            return None
        part = chain[2]
        if part not in STEP_FIELDS:
            return f"steps.{target} has {', '.join(STEP_FIELDS)}; not {part!r}"
        if part == "outputs" and len(chain) > 3:
            declared = placed.step.outputs
            if chain[3] not in declared:
                listed = ", ".join(declared) or "none"
                return f"step {target!r} declares no output {chain[3]!r} (its outputs: {listed})"
        if part == "output":
            return self._output_field(target, chain[3:], f"the output of {target}")
        return None

    def _not_visible(self, target: str, scope: _Scope) -> str:
        other = self.placed[target]
        here = self.placed.get(scope.here) if scope.here else None
        if scope.here == target:
            return f"step {target!r} reads its own result: use outputs (over `result`) or a later step"
        if other.maps and (here is None or other.maps[-1] not in here.maps):
            holder = other.maps[-1].id
            return f"{target!r} runs once per item inside map step {holder!r}: read steps.{holder}.output instead"
        if here is not None and other.block == here.block:
            return f"steps.{target} may not have run before this step: add {target!r} to its needs"
        return f"steps.{target} is not certain to have run before this step (it runs in another branch or later)"

    def _output_field(self, step_id: str, fields: tuple[str, ...], what: str) -> str | None:
        if not fields:
            return None
        step = self.placed[step_id].step
        if isinstance(step, ApprovalStep):
            if fields[0] not in APPROVAL_OUTPUT:
                return f"{what} (an approval) has {', '.join(APPROVAL_OUTPUT)}; not {fields[0]!r}"
            return None
        if isinstance(step, ParallelStep):
            if fields[0] not in step.branches:
                return f"{what} (a parallel step) has its branches {', '.join(step.branches)}; not {fields[0]!r}"
            return None
        if isinstance(step, ToolStep) and self.catalog is not None:
            tool = self.catalog.tool(step.server, step.tool)
            if tool is not None and tool.output_schema:
                return _schema_path(tool.output_schema, fields, f"{what} ({step.server}.{step.tool})")
        return None

    # --- tool calls against the catalog -------------------------------------------------------------------------

    def _tool_call(self, call: ToolStep | Compensation, path: Path, *, scope_key: str | None) -> None:
        if self.catalog is None:
            return
        tools = self.catalog.servers.get(call.server)
        if tools is None:
            why = self.catalog.unavailable.get(call.server)
            if why is not None:
                self.add((*path, "server"), f"server {call.server!r} could not be listed: {why}")
            else:
                known = ", ".join(self.catalog.servers) or "none"
                self.add((*path, "server"), f"no server {call.server!r} (the servers: {known})")
            return
        tool = tools.get(call.tool)
        if tool is None:
            self.add((*path, "tool"), f"server {call.server!r} has no tool {call.tool!r}{_suggest(call.tool, tools)}")
            return
        self._arguments(call, tool, (*path, "arguments"))
        if not tool.read_only and not call.write:
            self.add(
                (*path, "write"),
                f"{call.server}.{call.tool} writes (tools/list does not mark it read-only): mark the step write: true",
            )
        if not tool.read_only and not tool.idempotent:
            takes_key = "idempotency_key" in tool.input_schema.get("properties", {})
            if scope_key is None and "idempotency_key" not in call.arguments:
                self.add(
                    (*path, "idempotency_key"),
                    f"{call.server}.{call.tool} is not idempotent: give idempotency_key (e.g. "
                    '"${{ execution.id }}-<step id>") so a retried or resumed step does not write twice',
                )
            elif scope_key is not None and "idempotency_key" in call.arguments and takes_key:
                self.add(
                    (*path, "arguments", "idempotency_key"),
                    "give the key once: the step's idempotency_key is passed to the tool as this argument",
                )

    def _arguments(self, call: ToolStep | Compensation, tool: ToolInfo, path: Path) -> None:
        from jsonschema.validators import validator_for

        schema = dict(tool.input_schema)
        properties: Mapping[str, Any] = schema.get("properties") or {}
        dynamic = {name for name, value in call.arguments.items() if any(has_template(s) for _, s in strings(value))}
        if schema.get("additionalProperties") is not True and properties:
            for name in call.arguments:
                if name not in properties:
                    takes = ", ".join(properties)
                    self.add(
                        (*path, name),
                        f"{call.server}.{call.tool} has no argument {name!r}{_suggest(name, properties)} "
                        f"(it takes {takes})",
                    )
        literal = {name: value for name, value in call.arguments.items() if name not in dynamic and name in properties}
        schema["required"] = [name for name in schema.get("required", []) if name not in dynamic]
        schema["additionalProperties"] = True  # unknown names are reported above, once
        validator = validator_for(schema)(schema, format_checker=validator_for(schema).FORMAT_CHECKER)
        for error in validator.iter_errors(literal):
            if error.validator == "required" and not error.absolute_path:
                missing = [name for name in schema["required"] if name not in literal]
                for name in missing:
                    self.add((*path, name), f"missing required argument {name!r} of {call.server}.{call.tool}")
                continue
            self.add((*path, *error.absolute_path), error.message)


def _schema_path(schema: Mapping[str, Any], fields: tuple[str, ...], what: str) -> str | None:
    """A problem when ``fields`` is not a path of object properties in ``schema`` (``$ref``s to ``$defs``
    followed); None when it is, or when the schema does not say (open objects, unions of several shapes)."""
    defs: Mapping[str, Any] = schema.get("$defs", {})
    node: Mapping[str, Any] = schema
    walked: list[str] = []
    for name in fields:
        node = _resolved(node, defs)
        kind = node.get("type")
        if kind == "array":
            where = ".".join(walked)
            return f"{what}: {where} is a list; read its elements with {where}[] or {where}[0]"
        properties = node.get("properties")
        if not isinstance(properties, Mapping):
            return None
        if name not in properties:
            where = ".".join(walked)
            listed = ", ".join(properties)
            of, dotted = (f" of {where}", f"{where}.{name}") if where else ("", name)
            return f"{what} has no field {dotted}{_suggest(name, properties)} (fields{of}: {listed})"
        walked.append(name)
        node = properties[name]
    return None


def _resolved(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    for _ in range(20):
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            node = defs.get(reference.removeprefix("#/$defs/"), {})
            continue
        options = node.get("anyOf") or node.get("oneOf")
        if isinstance(options, list):
            shapes = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
            if len(shapes) == 1:
                node = shapes[0]
                continue
        break
    return node


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
