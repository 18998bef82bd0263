"""Logging: JSON lines on stderr, every record passed through the redaction filter.

Configured once, in ``main()``. Nothing here writes to stdout: over stdio, stdout is the protocol.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import cast

from shared.redaction import redact_text, redact_value

__all__ = ["JsonFormatter", "RedactingFilter", "configure_logging"]

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of msg
}


class RedactingFilter(logging.Filter):
    """Redacts secrets from the rendered message and from extra fields of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed logging call must not break its caller
            message = f"{record.msg} (bad log arguments: {record.args!r})"
        redacted = redact_text(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD:
                setattr(record, key, _redact_extra(key, value))
        return True


def _redact_extra(key: str, value: object) -> object:
    """An extra field as it may be logged: secret-named fields hidden, secret-looking text redacted."""
    if not isinstance(value, str | int | float | bool | Mapping | Sequence | None):
        value = str(value)  # the formatter would print str(value); redact that text
    fields: dict[str, object] = {key: value}
    return cast("dict[str, object]", redact_value(fields))[key]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_text:
            entry["exc"] = record.exc_text
        elif record.exc_info:
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


_WIRE_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def configure_logging(level: str = "INFO") -> None:
    """Send every log record, as redacted JSON, to stderr (replacing handlers set before)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDK configures its own handlers when a server is built; route them through ours.
    for name in ("mcp", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "sqlalchemy", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel("WARNING")
    logging.getLogger("alembic").setLevel("WARNING")
    # At DEBUG, botocore logs every request and response body (task definitions' environment values, secret
    # values read by GetSecretValue) and the redaction filter knows secrets only by their look: never below INFO.
    for name in _WIRE_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
