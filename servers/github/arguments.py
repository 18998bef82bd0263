"""The arguments most github tools share, described once (each description is read by the model on every
``tools/list``, so they are short: the tool's own description says the rest)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

__all__ = ["Cursor", "Key", "Limit", "Owner", "Repo"]

Owner = Annotated[str, Field(description="Owner.")]
Repo = Annotated[str, Field(description="Name.")]
Limit = Annotated[int, Field(ge=1, le=100, description="Per page.")]
Cursor = Annotated[str | None, Field(description="From next_cursor.")]
Key = Annotated[str | None, Field(min_length=1, max_length=255, description="Retry-safe key.")]
