"""Request paths built from what a caller passed: names checked, user values quoted, nothing that climbs the path."""

from __future__ import annotations

import re
from urllib.parse import quote

from shared.errors import InvalidRequest

__all__ = ["repo_path", "safe_path", "segment", "valid_ref"]

_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_NOT_IN_REFS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)")


def repo_path(owner: str, repo: str, *rest: object) -> str:
    """``repos/{owner}/{repo}/...`` with ``rest`` quoted (a ``/`` inside a part stays a separator: check file
    paths with ``safe_path`` and put refs through ``segment``); refused when owner or repo cannot be a GitHub name."""
    if not _OWNER.match(owner) or not _REPO.match(repo) or repo in (".", ".."):
        raise InvalidRequest(
            f"{owner}/{repo} cannot be a GitHub repository: owners and names use letters, digits, '-', '_' and '.'."
        )
    return "/".join(["repos", owner, repo, *(quote(str(part), safe="/") for part in rest)])


def segment(value: str) -> str:
    """``value`` as one URL path segment (``.`` and ``..`` too: they must not climb the path)."""
    return quote(value, safe="") if value.strip(".") else value.replace(".", "%2E")


def safe_path(path: str, what: str = "path") -> str:
    """``path`` without surrounding slashes; refused when a segment is empty, ``.`` or ``..``."""
    trimmed = path.strip("/")
    if trimmed and any(part in ("", ".", "..") for part in trimmed.split("/")):
        raise InvalidRequest(f"{what} {path!r} has an empty, '.' or '..' segment; give a path inside the repository.")
    return trimmed


def valid_ref(ref: str, what: str = "branch") -> str:
    """``ref`` when git would accept it as a branch, tag or sha (it goes into request paths)."""
    if not ref or _NOT_IN_REFS.search(ref) or ref.startswith(("/", "-", ".")) or ref.endswith(("/", ".")):
        raise InvalidRequest(f"{what} {ref!r} is not a name git accepts for a branch, tag or commit.")
    return ref
