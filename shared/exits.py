"""How a process refuses to start: one line on stderr naming what to fix, exit code 2, no traceback."""

from __future__ import annotations

import sys
from typing import NoReturn

__all__ = ["fail"]


def fail(message: str) -> NoReturn:
    """Stop the process with ``afu9: <message>`` on stderr and exit code 2."""
    sys.stderr.write(f"afu9: {message}\n")
    raise SystemExit(2)
