"""Opaque pagination cursors: every list tool hands one back while there is more."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, cast

from shared.errors import InvalidRequest

__all__ = ["decode_cursor", "encode_cursor", "invalid_cursor", "token_of", "token_position"]


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque, URL-safe cursor for ``position``."""
    raw = json.dumps(position, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, keys: frozenset[str]) -> dict[str, Any]:
    """The position in ``cursor``; an InvalidRequest when it was not made by :func:`encode_cursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position: object = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        position = None
    if isinstance(position, dict):
        decoded = cast("dict[str, Any]", position)
        if decoded.keys() == keys:
            return decoded
    raise invalid_cursor()


def invalid_cursor() -> InvalidRequest:
    """The answer to a cursor this server did not make (or one edited since)."""
    return InvalidRequest("The cursor is not valid: pass back next_cursor exactly as a previous call returned it.")


def token_of(cursor: str) -> str:
    """The upstream page token in a cursor made of ``{"token": ...}`` (an upstream API's own next token)."""
    token = decode_cursor(cursor, keys=frozenset({"token"}))["token"]
    if not isinstance(token, str) or not token:
        raise invalid_cursor()
    return token


def token_position(cursor: str) -> tuple[str | None, int]:
    """``(token, skip)`` of a cursor made of ``{"token": ..., "skip": ...}``: the upstream page to ask for (None:
    the first) and how many of its items were already shown (an upstream page longer than a page here)."""
    position = decode_cursor(cursor, keys=frozenset({"token", "skip"}))
    token, skip = position["token"], position["skip"]
    if not (token is None or (isinstance(token, str) and token)) or type(skip) is not int or skip < 0:
        raise invalid_cursor()
    return token, skip
