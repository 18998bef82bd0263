"""Secret redaction: one place that knows what a secret looks like.

Used by the log filter and by the audit log, so no token, key or password reaches a log line or a row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import cast

__all__ = ["REDACTED", "redact_text", "redact_value"]

REDACTED = "[REDACTED]"

# Argument/field names whose values are secrets whatever they look like.
_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|authorization|"
    r"credential|session[_-]?key|signature|cookie|database_url|dsn)",
    re.IGNORECASE,
)

# Values that are secrets wherever they appear in free text.
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # PEM private keys (whole block).
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
    # GitHub tokens: classic, fine-grained, app, oauth, refresh.
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"),
    # Anthropic / OpenAI style API keys.
    re.compile(r"\bsk-(ant-)?[A-Za-z0-9_\-]{16,}\b"),
    # AWS access key ids.
    re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b"),
    # Slack tokens.
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
    # JWTs.
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
)

# key=value / key: value / "key": "value" pairs whose key names a secret (AWS secret keys, passwords in text).
_PAIR = re.compile(
    # The lookbehind starts a key only at the start of a word, which keeps the scan linear on long words.
    r"""(?<![A-Za-z0-9_\-])"""
    r"""(?P<key>["']?[A-Za-z0-9_\-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|access[_-]?key|authorization)"""
    r"""[A-Za-z0-9_\-]*["']?\s*[:=]\s*)"""
    # A quoted value runs to its closing quote (it may hold spaces); a bare one to the next separator.
    r"""(?:(?P<quote>["'])(?:\\.|(?!(?P=quote)).)+|(?:Bearer\s+)?[^\s"',;&]+)""",
    re.IGNORECASE,
)
# user:password@ in URLs (database URLs, git remotes).
# The lookbehind starts a scheme only at the start of a word, which keeps the scan linear on long words.
_URL_CREDENTIALS = re.compile(
    r"(?<![a-z0-9+.\-])(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.I
)
_BEARER = re.compile(r"\b(Bearer|Basic|token)\s+[A-Za-z0-9._~+/=\-]{8,}", re.IGNORECASE)


# Every pattern above needs one of these in the text; one scan for them spares ordinary text the eight scans.
_SUSPECT = re.compile(
    r"-----BEGIN|gh[pousr]_|github_pat_|sk-|AKIA|ASIA|AGPA|AIDA|AROA|xox|eyJ|://|bearer|basic|token|pass|secret|"
    r"key|authorization",
    re.IGNORECASE,
)


def redact_text(text: str) -> str:
    """Replace every secret-looking part of ``text`` with ``[REDACTED]``."""
    if not _SUSPECT.search(text):
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _PAIR.sub(lambda m: f"{m['key']}{m['quote'] or ''}{REDACTED}", text)


def redact_value(value: object, *, depth: int = 0) -> object:
    """A copy of a JSON-like value with secret-named fields and secret-looking strings redacted."""
    if depth > 20:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        mapping = cast("Mapping[object, object]", value)
        return {
            str(key): (REDACTED if _SECRET_KEY.search(str(key)) else redact_value(item, depth=depth + 1))
            for key, item in mapping.items()
        }
    if isinstance(value, Sequence | Set) and not isinstance(value, bytes | bytearray):
        return [redact_value(item, depth=depth + 1) for item in cast("Iterable[object]", value)]
    return value
