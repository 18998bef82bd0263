"""Toolset ``pulls``."""

from __future__ import annotations

from shared.toolset import Toolset

__all__ = ["pulls"]

pulls = Toolset("pulls", "")
