"""Expressions in workflow documents: JMESPath, one sandboxed language (no ``eval``, no I/O, no side effects).

Two kinds of fields hold them:

- **expression fields** (``if``, a loop's ``until``, a switch case's ``when``, a map's ``items``, the values of
  ``outputs``): one JMESPath expression, written bare (``inputs.dry_run``) or wrapped (``${{ inputs.dry_run }}``);
- **value fields** (a tool's ``arguments``, ``idempotency_key``, an approval's ``message`` and ``data``, a
  sub-workflow's ``inputs``, a wait's ``until``): any JSON, in which a string may hold ``${{ expr }}``
  templates. A string that is exactly one template takes the expression's value, of any JSON type
  (``value: "${{ inputs.value }}"`` passes a number); templates inside longer text are replaced by their value
  as text (a string as it is, null as nothing, anything else as compact JSON).

Expressions read a read-only context: ``inputs``, ``steps.<id>.output | outputs | status | error`` and
``execution`` (``id``, ``name``, ``version``, ``content_hash``, ``started_at``, ``triggered_by``), plus the
item variable inside a map (``item`` and ``index`` by default) and ``iteration`` inside a loop. Truthiness is
JMESPath's: false, null, ``""``, ``[]`` and ``{}`` are false; everything else (``0`` too) is true.

Same approach as the github server's webhook rules (``servers/github/webhooks/rules.py``), with ``${{ }}``
delimiters: ``${...}`` stays literal text, so AFU-9 v0.4 placeholders are never evaluated by accident.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from orchestrator.problems import Path

__all__ = [
    "EXECUTION_FIELDS",
    "STEP_FIELDS",
    "ExpressionError",
    "Template",
    "compile_expression",
    "evaluate",
    "has_template",
    "pitfalls",
    "references",
    "render",
    "split_template",
    "strings",
    "truthy",
    "unwrap",
    "whole_template",
]

OPEN, CLOSE = "${{", "}}"
EXECUTION_FIELDS = ("id", "name", "version", "content_hash", "started_at", "triggered_by")
"""What ``execution`` holds while a workflow runs."""
STEP_FIELDS = ("output", "outputs", "status", "error")
"""What ``steps.<id>`` holds: its result, its named outputs, its status and its error (if it failed)."""


class ExpressionError(ValueError):
    """An expression that does not parse, or a template that is not closed; the message says where."""


@dataclass(frozen=True)
class Template:
    """One ``${{ expression }}`` in a string; ``start`` is the offset of its ``${{``."""

    expression: str
    start: int


@functools.lru_cache(maxsize=1024)
def compile_expression(expression: str) -> Any:
    """The parsed JMESPath ``expression`` (cached); :class:`ExpressionError` naming the column otherwise."""
    import jmespath
    from jmespath.exceptions import JMESPathError

    text = expression.strip()
    if not text:
        raise ExpressionError("empty expression")
    try:
        return jmespath.compile(text)
    except JMESPathError as error:
        first = str(error).splitlines()[0]
        raise ExpressionError(f"not a JMESPath expression: {text!r} ({first})") from None


def split_template(text: str) -> list[str | Template]:
    """``text`` as literal parts and templates, in order (:class:`ExpressionError` for an unclosed ``${{``).

    The end of a template is the first ``}}`` outside JMESPath quotes and braces, so multi-select hashes
    (``${{ {id: item.kpi_id} }}``) and literals (``${{ `{"a": 1}` }}``) may appear inside one.
    """
    parts: list[str | Template] = []
    position = 0
    while True:
        start = text.find(OPEN, position)
        if start < 0:
            if position < len(text):
                parts.append(text[position:])
            return parts
        if start > position:
            parts.append(text[position:start])
        end = _template_end(text, start + len(OPEN))
        if end is None:
            raise ExpressionError(f"template at character {start + 1} is not closed with }}}}: {text[start:][:60]!r}")
        parts.append(Template(text[start + len(OPEN) : end].strip(), start))
        position = end + len(CLOSE)


def _template_end(text: str, index: int) -> int | None:
    depth, quote = 0, ""
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0 and text.startswith(CLOSE, index):
                return index
            depth = max(0, depth - 1)
        index += 1
    return None


def has_template(text: str) -> bool:
    return OPEN in text


def whole_template(text: str) -> str | None:
    """The expression when ``text`` is exactly one template (surrounding blanks allowed), else None."""
    try:
        parts = split_template(text.strip())
    except ExpressionError:
        return None
    return parts[0].expression if len(parts) == 1 and isinstance(parts[0], Template) else None


def unwrap(text: str) -> str:
    """An expression field's expression: ``${{ x }}`` and ``x`` are both ``x``; checked to parse."""
    inner = whole_template(text)
    if inner is None and has_template(text):
        split_template(text)  # raises for an unclosed template
        raise ExpressionError(
            "an expression field holds one expression (bare, or wrapped in ${{ }}), not text with templates"
        )
    expression = (inner if inner is not None else text).strip()
    compile_expression(expression)
    return expression


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of ``expression`` over ``context``."""
    return compile_expression(expression).search(dict(context))


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every template in its strings evaluated over ``context`` (see the module docstring)."""
    if isinstance(value, str):
        if not has_template(value):
            return value
        whole = whole_template(value)
        if whole is not None:
            return evaluate(whole, context)
        parts = split_template(value)
        return "".join(
            _as_text(evaluate(part.expression, context)) if isinstance(part, Template) else part for part in parts
        )
    if isinstance(value, Mapping):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def truthy(value: Any) -> bool:
    """JMESPath's truthiness: false, null, empty strings, lists and objects are false."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str | list | dict) and not value)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string inside ``value`` (a JSON value) with its path (keys are not values: not listed)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, (*path, index))


# --- what an expression reads ---------------------------------------------------------------------------------

_RELATIVE = {"projection", "value_projection", "filter_projection", "flatten", "pipe", "index_expression"}
"""Nodes whose first child is read from the current context and the rest from intermediate results."""


def references(expression: str) -> list[tuple[str, ...]]:
    """The paths ``expression`` reads from the root of the context, as field names: ``steps.a.output.b[0]``
    reads ``("steps", "a", "output", "b")``. Paths inside projections, filters and ``&`` references read list
    elements, not the root, and are not listed."""
    return _roots(compile_expression(expression).parsed)


def _roots(node: Mapping[str, Any]) -> list[tuple[str, ...]]:
    kind, children = node["type"], node.get("children", [])
    if kind in ("field", "subexpression", *_RELATIVE):
        fields, _ = _lead(node)
        if fields:
            return [tuple(fields)]
        return _roots(children[0]) if children else []
    if kind in {"expref", "literal", "current", "identity", "index", "slice"}:
        return []
    return [path for child in children for path in _roots(child)]


def _lead(node: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The field names ``node`` starts by reading, and whether it is exactly that path (more may follow)."""
    kind, children = node["type"], node.get("children", [])
    if kind == "field":
        return [node["value"]], True
    if kind == "subexpression":
        path: list[str] = []
        for child in children:
            fields, whole = _lead(child)
            path += fields
            if not whole:
                return path, False
        return path, True
    if kind in _RELATIVE and children:
        return _lead(children[0])[0], False
    return [], False


def pitfalls(expression: str) -> list[str]:
    """JMESPath readings that surprise: ``!a.b`` is ``(!a).b``, which is almost never what was meant."""
    found: list[str] = []

    def visit(node: Mapping[str, Any]) -> None:
        children = node.get("children", [])
        if node["type"] == "subexpression" and children and children[0]["type"] == "not_expression":
            found.append("`!a.b` reads as `(!a).b` in JMESPath: write `!(a.b)`")
        for child in children:
            visit(child)

    visit(compile_expression(expression).parsed)
    return found
