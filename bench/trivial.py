"""The benchmark's tools, shared verbatim by the bare server and the kit server.

``add_numbers`` is the one tool of the overhead benchmark. ``count_characters`` takes one string of any size
and answers with its length; it is served only when ``AFU9_BENCH_TEXT_TOOL=1`` (both sides read it), for the
``/health`` under load benchmark, which sends ~1 MB arguments.
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BaseModel, Field

__all__ = ["TEXT_TOOL_NAME", "TOOL_NAME", "Count", "Sum", "add_numbers", "count_characters", "text_tool_served"]

TOOL_NAME = "add_numbers"
TEXT_TOOL_NAME = "count_characters"


class Sum(BaseModel):
    """The sum of two integers."""

    total: int = Field(description="a + b")


class Count(BaseModel):
    """The length of a text."""

    characters: int = Field(description="Number of characters of the text.")


async def add_numbers(
    a: Annotated[int, Field(description="First addend.")],
    b: Annotated[int, Field(description="Second addend.")],
) -> Sum:
    """Add two integers and return their sum. A benchmark tool: it does nothing else."""
    return Sum(total=a + b)


async def count_characters(text: Annotated[str, Field(description="Any text.")]) -> Count:
    """Count the characters of a text. A benchmark tool for large arguments: it does nothing else."""
    return Count(characters=len(text))


def text_tool_served() -> bool:
    """Whether this server process also serves ``count_characters`` (``AFU9_BENCH_TEXT_TOOL=1``)."""
    return os.environ.get("AFU9_BENCH_TEXT_TOOL") == "1"
