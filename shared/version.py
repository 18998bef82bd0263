"""The version of AFU-9 as installed (package metadata), for the servers' info and outbound user agents."""

from __future__ import annotations

import functools
import importlib.metadata

__all__ = ["version"]


@functools.cache
def version() -> str:
    """The installed version of the ``afu9`` distribution (``0+unknown`` when running from a bare source tree)."""
    try:
        return importlib.metadata.version("afu9")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "0+unknown"
