"""Toolset ``repos``."""

from __future__ import annotations

from shared.toolset import Toolset

__all__ = ["repos"]

repos = Toolset("repos", "")
