"""The benchmark's one trivial tool, shared verbatim by the bare server and the kit server."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

__all__ = ["TOOL_NAME", "Sum", "add_numbers"]

TOOL_NAME = "add_numbers"


class Sum(BaseModel):
    """The sum of two integers."""

    total: int = Field(description="a + b")


async def add_numbers(
    a: Annotated[int, Field(description="First addend.")],
    b: Annotated[int, Field(description="Second addend.")],
) -> Sum:
    """Add two integers and return their sum. A benchmark tool: it does nothing else."""
    return Sum(total=a + b)
