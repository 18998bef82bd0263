"""Toolset ``actions``."""

from __future__ import annotations

from shared.toolset import Toolset

__all__ = ["actions"]

actions = Toolset("actions", "", default=False)
