"""From a file to a workflow ready to publish: read YAML or JSON (knowing the line of every value, so problems
point into the file), up-convert AFU-9 v0.4 documents, parse, validate; every problem is collected before
anything is refused, and nothing reaches the store without passing (:class:`Prepared` is what it stores)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

from orchestrator.catalog import Catalog
from orchestrator.format import Workflow, canonical, content_hash, parse_workflow
from orchestrator.problems import Path, Problem, WorkflowInvalid
from orchestrator.v04 import is_v04, upconvert
from orchestrator.validation import validate

__all__ = ["MAX_BYTES", "Prepared", "Source", "load_source", "prepare", "read_source"]

MAX_BYTES = 1_000_000
"""The largest workflow file read (1 MB)."""


@dataclass(frozen=True)
class Source:
    """A parsed document and the text it came from (for line numbers)."""

    data: Any
    text: str
    name: str = "<document>"

    def line(self, path: Path) -> int | None:
        """The 1-based line of the value at ``path`` (or of the nearest enclosing one that exists)."""
        try:
            node = _compose(self.text)
        except Exception:  # noqa: BLE001 - line numbers are a courtesy: none when the text cannot be composed
            return None
        return _line(node, path) if node is not None else None


@dataclass(frozen=True)
class Prepared:
    """A workflow that passed every check: the model, its canonical document and its content hash."""

    workflow: Workflow
    document: dict[str, Any]
    content_hash: str
    from_v04: bool = False

    @property
    def name(self) -> str:
        return self.workflow.metadata.name

    @property
    def version(self) -> str:
        return self.workflow.metadata.version


def read_source(path: FilePath) -> Source:
    """The document in ``path`` (JSON for ``.json``, else YAML); OSError when it cannot be read,
    :class:`WorkflowInvalid` when it is not valid YAML/JSON or too large."""
    with path.open("rb") as file:
        raw = file.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise WorkflowInvalid([Problem((), f"the file is larger than {MAX_BYTES // 1000} kB")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WorkflowInvalid([Problem((), "the file is not UTF-8 text")]) from None
    return load_source(text, name=str(path), json_only=path.suffix.lower() == ".json")


def load_source(text: str, *, name: str = "<document>", json_only: bool = False) -> Source:
    """``text`` parsed as JSON (``json_only``) or YAML (of which JSON is a part)."""
    if json_only:
        try:
            return Source(json.loads(text), text, name)
        except json.JSONDecodeError as error:
            raise WorkflowInvalid([Problem((), f"not valid JSON: {error.msg} (line {error.lineno})")]) from None
    import yaml

    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass (see _loader)
    except yaml.YAMLError as error:
        raise WorkflowInvalid([Problem((), f"not valid YAML: {_yaml_error(error)}")]) from None
    return Source(data, text, name)


def prepare(
    data: Any,
    catalog: Catalog | None = None,
    *,
    published: Callable[[str, str | None], bool] | None = None,
    version: str | None = None,
) -> Prepared:
    """``data`` (a parsed document, v1 or AFU-9 v0.4) checked completely; :class:`WorkflowInvalid` lists every
    problem. ``version`` overrides ``metadata.version`` (before hashing)."""
    unstorable = _unstorable(data)
    if unstorable is not None:
        raise WorkflowInvalid(
            [Problem(unstorable, "holds a NUL character or an unpaired surrogate, which cannot be stored")]
        )
    from_v04 = is_v04(data)
    if from_v04:
        data = upconvert(data, catalog)
    if version is not None and isinstance(data, Mapping) and isinstance(data.get("metadata"), Mapping):
        data = {**data, "metadata": {**data["metadata"], "version": version}}
    try:
        workflow = parse_workflow(data)
    except WorkflowInvalid as invalid:
        raise WorkflowInvalid(Problem(p.path, p.message, converted=from_v04) for p in invalid.problems) from None
    problems = validate(workflow, catalog, published=published)
    if problems:
        raise WorkflowInvalid(Problem(p.path, p.message, converted=from_v04) for p in problems)
    document = canonical(workflow)
    return Prepared(workflow, document, content_hash(document), from_v04)


def _unstorable(value: Any, path: Path = ()) -> Path | None:
    """The path of the first string (key or value) holding text no database takes."""
    if isinstance(value, str):
        return path if "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _unstorable(str(key), (*path, str(key))) or _unstorable(item, (*path, str(key)))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable(item, (*path, index))
            if found is not None:
                return found
    return None


# --- YAML ----------------------------------------------------------------------------------------------------


def _loader() -> Any:
    """PyYAML's safe loader without its implicit timestamps (a time stays the text written, as in JSON) and
    refusing a key given twice in one mapping (PyYAML would keep the last silently)."""
    import yaml

    class Loader(yaml.SafeLoader):
        yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's class attribute
            first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, str | int | float | bool) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"the key {key!r} is given twice",
                        key_node.start_mark,
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return Loader


def _yaml_error(error: Exception) -> str:
    problem = getattr(error, "problem", None)
    mark = getattr(error, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(error).replace("\n", " ")[:300]


def _compose(text: str) -> Any:
    import yaml

    return yaml.compose(text, Loader=yaml.SafeLoader)


def _line(node: Any, path: Path) -> int:
    import yaml

    line = node.start_mark.line + 1
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((value for key, value in node.value if getattr(key, "value", None) == str(part)), None)
            if child is None:
                return line
            key_line = next(key.start_mark.line + 1 for key, value in node.value if value is child)
            line = key_line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        else:
            return line
        node = child
    return line
