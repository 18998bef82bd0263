"""Opaque pagination cursors: every list tool hands one back while there is more."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, cast

from shared.errors import InvalidRequest

__all__ = ["decode_cursor", "encode_cursor"]


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
    raise InvalidRequest("The cursor is not valid: pass back next_cursor exactly as a previous call returned it.")
