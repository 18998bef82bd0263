"""What the github server's toolsets share: lenient readers of GitHub's JSON, paging, the identity answer.

GitHub's objects are read with :func:`text`, :func:`number`, :func:`login` and friends, which never fail on a
field that GitHub Enterprise Server or a newer API version adds, omits or leaves null: a tool answers with what
is there. Answers are projections (what an agent needs, no ``*_url`` noise, users as logins), and user-written
text goes through :func:`untrusted`, which also reports whether it had to remove something.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from shared.errors import InvalidArguments
from shared.pagination import decode_cursor, encode_cursor
from shared.untrusted import clean

__all__ = [
    "Me",
    "Untrusted",
    "as_dict",
    "as_list",
    "flag",
    "login",
    "logins",
    "next_cursor",
    "number",
    "page_of",
    "text",
    "untrusted",
]

_MAX_PAGE = 10_000


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text(obj: Any, key: str) -> str | None:
    value = as_dict(obj).get(key)
    return value if isinstance(value, str) else None


def number(obj: Any, key: str) -> int | None:
    value = as_dict(obj).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def flag(obj: Any, key: str) -> bool | None:
    value = as_dict(obj).get(key)
    return value if isinstance(value, bool) else None


def login(obj: Any, key: str = "user") -> str | None:
    """The login of the user at ``obj[key]`` (GitHub nests whole user objects; an answer needs the login)."""
    return text(as_dict(obj).get(key), "login")


def logins(obj: Any, key: str) -> list[str]:
    return [name for item in as_list(as_dict(obj).get(key)) if (name := text(item, "login"))]


class Untrusted:
    """Collects whether user-written text had something removed while an answer is built."""

    def __init__(self) -> None:
        self.removed = False

    def __call__(self, value: str | None) -> str | None:
        cleaned, removed = clean(value)
        self.removed = self.removed or removed
        return cleaned


def untrusted(value: str | None) -> str | None:
    """User-written ``value`` without invisible characters and hidden HTML comments."""
    return clean(value)[0]


def page_of(cursor: str | None) -> int:
    """The page a cursor points at (1 without one)."""
    if not cursor:
        return 1
    page = decode_cursor(cursor, keys=frozenset({"page"}))["page"]
    if type(page) is not int or not 1 <= page <= _MAX_PAGE:
        raise InvalidArguments("The cursor is not valid: pass back next_cursor exactly as a previous call returned it.")
    return page


def next_cursor(has_next: bool, page: int) -> str | None:
    return encode_cursor({"page": page + 1}) if has_next and page < _MAX_PAGE else None


class Me(BaseModel):
    """Who the server acts as on GitHub, and how much of the rate limit is left."""

    login: str = Field(description="The user (token) or the app installation the server acts as.")
    kind: str = Field(description="'token' (a personal access token) or 'app' (a GitHub App installation).")
    scopes: list[str] = Field(description="OAuth scopes of a classic token; empty for fine-grained tokens and apps.")
    api_url: str = Field(
        description="The GitHub REST API the server talks to (GitHub Enterprise Server if not api.github.com)."
    )
    rate_limit: int | None = Field(description="Requests allowed per hour.")
    rate_remaining: int | None = Field(description="Requests left until the reset.")
    rate_reset: str | None = Field(description="When the rate limit resets (ISO 8601, UTC).")
