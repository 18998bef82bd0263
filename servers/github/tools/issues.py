"""Toolset ``issues``."""

from __future__ import annotations

from shared.toolset import Toolset

__all__ = ["issues"]

issues = Toolset("issues", "")
