"""What is wrong with a workflow document: each problem with its path in the document (``steps[2].arguments.kpi_id``),
and the exception that carries all of them at once, so a user fixes a document in one pass."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Path", "Problem", "WorkflowInvalid", "render_path"]

Path = tuple[str | int, ...]
"""Keys and list indexes from the document's root to the value a problem is about."""


def render_path(path: Path) -> str:
    """``("steps", 2, "arguments", "kpi_id")`` as ``steps[2].arguments.kpi_id``; the root is ``(document)``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(document)"


@dataclass(frozen=True)
class Problem:
    """One thing to fix: where (``path``) and what (``message``, a sentence a user can act on).

    ``converted``: the path is in the document up-converted from AFU-9 v0.4, not in the file as written.
    """

    path: Path
    message: str
    converted: bool = False

    def __str__(self) -> str:
        where = render_path(self.path)
        return f"{'(up-converted) ' if self.converted else ''}{where}: {self.message}"


class WorkflowInvalid(Exception):
    """A workflow document with problems; ``problems`` lists every one once, sorted by path."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: Sequence[Problem] = sorted(set(problems), key=_order)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''}: " + "; ".join(map(str, self.problems[:5])))


def _order(problem: Problem) -> tuple[bool, tuple[tuple[int, str], ...], str]:
    # a list index and a key at the same depth do not compare; indexes sort numerically, keys by name
    key = tuple((part, "") if isinstance(part, int) else (-1, part) for part in problem.path)
    return (problem.converted, key, problem.message)
