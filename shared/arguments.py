"""Tool arguments as the kit checks them: strict schemas, one short sentence per bad field, storable text.

- :func:`unknown_arguments` refuses arguments a tool does not declare (every input schema says
  ``additionalProperties: false``), so a misspelt argument is refused instead of silently ignored; it runs
  before the SDK validates, on the SDK's own argument model (no second model to build per tool).
- :func:`explain` writes a validation failure the way a model can act on it: which argument, what is wrong,
  what is accepted. No values are echoed (they may be huge, or secret) and no documentation URLs.
- :func:`unstorable_text` finds text no database or API takes (NUL, unpaired surrogates) before it reaches one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

__all__ = ["answer_schema", "argument_names", "explain", "lean_schema", "unknown_arguments", "unstorable_text"]

_MAX_SENTENCES = 5
_MAX_DEPTH = 20


def argument_names(model: type[BaseModel]) -> frozenset[str]:
    """The argument names ``model`` accepts (a field's alias where it has one)."""
    return frozenset(field.alias or name for name, field in model.model_fields.items())


def unknown_arguments(model: type[BaseModel], arguments: Mapping[str, object]) -> str | None:
    """The refusal of ``arguments`` when they hold names ``model`` does not declare (with the other problems
    of the rest, so one answer says everything), or None when every name is known."""
    names = argument_names(model)
    unknown = [name for name in arguments if name not in names]
    if not unknown:
        return None
    try:
        model.model_validate({name: value for name, value in arguments.items() if name in names})
    except ValidationError as error:
        return explain(error, names, unknown)
    return explain(None, names, unknown)


def lean_schema(schema: dict[str, Any], *, optional_nulls: bool) -> dict[str, Any]:
    """``schema`` without what a model pays to read and gains nothing from: every ``title`` (pydantic repeats
    each property's name there) and, with ``optional_nulls``, the ``null`` branch and ``null`` default of an
    optional property (leaving it out means the same). Output schemas keep their nulls: clients validate
    answers against them."""
    return cast("dict[str, Any]", _lean(schema, optional_nulls))


def answer_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema as ``tools/list`` carries it: the shape clients validate answers against, without the
    descriptions and ``required`` lists that make up most of its bytes (a tool's description says what it
    answers; the models' field descriptions stay in the code and the generated reference)."""
    return cast("dict[str, Any]", _shape_only(_lean(schema, optional_nulls=False)))


def _shape_only(node: object) -> object:
    if isinstance(node, list):
        return [_shape_only(item) for item in cast("list[object]", node)]
    if not isinstance(node, dict):
        return node
    schema = cast("dict[str, object]", node)
    shaped: dict[str, object] = {}
    for key, value in schema.items():
        if key in ("description", "required") and not isinstance(value, dict):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            shaped[key] = {name: _shape_only(sub) for name, sub in cast("dict[str, object]", value).items()}
        else:
            shaped[key] = _shape_only(cast("object", value))
    return shaped


def _lean(node: object, optional_nulls: bool) -> object:
    if isinstance(node, list):
        return [_lean(item, optional_nulls) for item in cast("list[object]", node)]
    if not isinstance(node, dict):
        return node
    schema = cast("dict[str, object]", node)
    required = set(cast("list[str]", schema.get("required", [])))
    lean: dict[str, object] = {}
    for key, value in schema.items():
        if key == "title" and not isinstance(value, dict):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            members: dict[str, object] = {}
            for name, sub in cast("dict[str, object]", value).items():
                member = _lean(sub, optional_nulls)
                optional = key == "properties" and optional_nulls and name not in required
                members[name] = _without_null(member) if optional else member
            lean[key] = members
            continue
        lean[key] = _lean(cast("object", value), optional_nulls)
    return _type_union(lean)


def _type_union(schema: dict[str, object]) -> dict[str, object]:
    """``anyOf`` of bare types (``[{"type": "integer"}, {"type": "null"}]``) as one ``type`` list: the same
    meaning in fewer bytes."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or "type" in schema:
        return schema
    types: list[object] = []
    for branch in cast("list[object]", branches):
        if not (isinstance(branch, dict) and set(cast("dict[str, object]", branch)) == {"type"}):
            return schema
        types.append(cast("dict[str, object]", branch)["type"])
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {"type": types, **rest}


def _without_null(node: object) -> object:
    """An optional property without its ``null`` branch and ``null`` default (absent means the same)."""
    if not isinstance(node, dict):
        return node
    prop = dict(cast("dict[str, object]", node))
    types = prop.get("type")
    if isinstance(types, list) and "null" in types:
        kept_types = [kind for kind in cast("list[object]", types) if kind != "null"]
        prop["type"] = kept_types[0] if len(kept_types) == 1 else kept_types
    branches = prop.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in cast("list[object]", branches) if b != {"type": "null"}]
        if len(kept) == 1 and isinstance(kept[0], dict):
            del prop["anyOf"]
            prop = {**cast("dict[str, object]", kept[0]), **prop}
        elif len(kept) < len(cast("list[object]", branches)):
            prop["anyOf"] = kept
    if prop.get("default", 0) is None:
        del prop["default"]
    return prop


def explain(error: ValidationError | None, accepted: Iterable[str], unknown: Sequence[str] = ()) -> str:
    """One sentence per bad argument (at most five), naming it, what is wrong and what is accepted;
    ``unknown`` names arguments the tool does not declare."""
    names = sorted(accepted)
    sentences: list[str] = []
    unknown = list(unknown)
    details = error.errors(include_url=False, include_input=False) if error is not None else []
    for detail in details:
        field = _field(detail)
        kind = detail["type"]
        if kind == "extra_forbidden":
            unknown.append(field)
        elif kind == "missing":
            sentences.append(f"{field} is required.")
        else:
            sentences.append(f"{field}: {_message(detail)}.")
    if unknown:
        listed = ", ".join(unknown)
        noun = "argument" if len(unknown) == 1 else "arguments"
        sentences.insert(0, f"Unknown {noun} {listed}; this tool accepts: {', '.join(names) or 'no arguments'}.")
    if len(sentences) > _MAX_SENTENCES:
        more = len(sentences) - _MAX_SENTENCES
        sentences = [*sentences[:_MAX_SENTENCES], f"({more} more problem{'s' if more > 1 else ''})"]
    return "Invalid arguments: " + " ".join(sentences)


def _field(detail: ErrorDetails) -> str:
    # The location inside a union member's type ("str", "int") says nothing to a model: keep names and indexes.
    parts = [str(part) for part in detail["loc"] if isinstance(part, int) or not _is_type_tag(str(part))]
    return ".".join(parts) or "arguments"


def _is_type_tag(part: str) -> bool:
    return part in {"str", "int", "float", "bool", "none", "list", "dict"} or "[" in part or part.endswith("]")


def _message(detail: ErrorDetails) -> str:
    message = detail["msg"]
    message = message[0].lower() + message[1:] if message else "invalid value"
    return message.replace("Input should", "should").replace("input should", "should").rstrip(".")


def unstorable_text(value: object, path: str = "", depth: int = 0) -> str | None:
    """The path of the first string in ``value`` (keys included) that holds NUL or an unpaired surrogate."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, str):
        return path or "value" if _bad(value) else None
    if isinstance(value, Mapping):
        for key, item in cast("Mapping[object, object]", value).items():
            name = str(key)
            where = f"{path}.{name}" if path else name
            if _bad(name):
                return where
            found = unstorable_text(item, where, depth + 1)
            if found:
                return found
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        for index, item in enumerate(cast("Sequence[object]", value)):
            found = unstorable_text(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
    return None


def _bad(text: str) -> bool:
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")  # fails on an unpaired surrogate; three times faster than a regex scan
    except UnicodeEncodeError:
        return True
    return False
