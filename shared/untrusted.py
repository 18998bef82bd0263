"""Text written by people outside the operator's control (issue bodies, comments, commit messages, file
contents shown as text), made safe to show a model: a prompt-injection path.

:func:`clean` removes what a human reviewer would not see but a model would read: invisible and
bidirectional-control Unicode characters, and hidden HTML comments; answers say when something was removed.
"""

from __future__ import annotations

import re

__all__ = ["clean"]

# Zero-width and invisible formatting characters, bidirectional controls, tag characters, the BOM.
_INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)
_HTML_COMMENT = re.compile(r"<!--.*?(-->|$)", re.DOTALL)


def clean(text: str | None) -> tuple[str | None, bool]:
    """``text`` without invisible characters and hidden HTML comments, and whether anything was removed."""
    if not text:
        return text, False
    cleaned = _HTML_COMMENT.sub("", text) if "<!--" in text else text
    if not cleaned.isascii():
        cleaned = _INVISIBLE.sub("", cleaned)
    return cleaned, cleaned != text
