"""Logging: every record is one JSON line on stderr, with every secret redacted, and nothing on stdout."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from shared.logs import configure_logging

TOKEN = "ghp_" + "Q" * 36
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
_ROUTED = (
    "mcp",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
    "sqlalchemy",
    "alembic",
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
)


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """configure_logging() as main() calls it, writing into pytest's captured stderr; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    saved_named = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level) for name in _ROUTED}
    try:
        yield capsys
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, (handlers, named_level) in saved_named.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).setLevel(named_level)


def _configure(capsys: pytest.CaptureFixture[str], level: str = "DEBUG") -> None:
    # Inside the test body: pytest swaps sys.stderr between setup and call, and the handler binds it.
    configure_logging(level)
    capsys.readouterr()


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    captured = capsys.readouterr()
    assert captured.out == "", "nothing may reach stdout: over stdio it is the protocol"
    return [json.loads(line) for line in captured.err.splitlines()]


def test_a_record_is_one_json_line_with_time_level_logger_and_message(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    _configure(json_logs)
    logging.getLogger("afu9.test").info("served %d tools\nin %s", 4, "factory")

    [entry] = _lines(json_logs)
    assert entry["level"] == "info"
    assert entry["logger"] == "afu9.test"
    assert entry["msg"] == "served 4 tools\nin factory"
    assert entry["ts"].endswith("+00:00")


def test_secrets_in_the_message_and_its_arguments_are_redacted(json_logs: pytest.CaptureFixture[str]) -> None:
    _configure(json_logs)
    log = logging.getLogger("afu9.test")
    log.warning("calling GitHub with %s for %s", TOKEN, "octo/repo")
    log.warning(f"connecting to postgresql+asyncpg://afu9:pw-in-url@db/afu9 as {AWS_KEY_ID}")

    first, second = _lines(json_logs)
    assert first["msg"] == "calling GitHub with [REDACTED] for octo/repo"
    assert second["msg"] == "connecting to postgresql+asyncpg://afu9:[REDACTED]@db/afu9 as [REDACTED]"


def test_secrets_in_extra_fields_are_redacted_also_when_nested_or_secret_named(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    _configure(json_logs)
    logging.getLogger("afu9.test").info(
        "request",
        extra={
            "password": "hunter2",
            "token": 12345,
            "tool": "list_kpis",
            "count": 3,
            "arguments": {"source": TOKEN, "api_key": "short", "kpi_id": "mttr", "tags": [AWS_KEY_ID]},
            "error": ValueError(f"bad credentials {TOKEN}"),
        },
    )

    [entry] = _lines(json_logs)
    assert entry["password"] == "[REDACTED]"
    assert entry["token"] == "[REDACTED]"
    assert entry["tool"] == "list_kpis"
    assert entry["count"] == 3
    assert entry["arguments"] == {
        "source": "[REDACTED]",
        "api_key": "[REDACTED]",
        "kpi_id": "mttr",
        "tags": ["[REDACTED]"],
    }
    assert entry["error"] == "bad credentials [REDACTED]"


def test_exception_text_is_logged_redacted(json_logs: pytest.CaptureFixture[str]) -> None:
    _configure(json_logs)
    try:
        raise ConnectionError(f"login failed for postgresql://afu9:s3cret@db/afu9 with {TOKEN}")
    except ConnectionError:
        logging.getLogger("afu9.test").exception("database away")

    [entry] = _lines(json_logs)
    assert entry["level"] == "error"
    assert entry["msg"] == "database away"
    assert entry["exc"].startswith("Traceback (most recent call last):")
    assert "ConnectionError: login failed for postgresql://afu9:[REDACTED]@db/afu9 with [REDACTED]" in entry["exc"]
    assert "s3cret" not in entry["exc"]
    assert TOKEN not in entry["exc"]


def test_the_sdk_and_library_loggers_come_out_as_the_same_redacted_json(
    json_logs: pytest.CaptureFixture[str],
) -> None:
    _configure(json_logs)
    logging.getLogger("mcp.server.lowlevel").warning("session token %s", TOKEN)
    logging.getLogger("sqlalchemy.engine").warning("connect postgresql://u:pw-secret@h/d")

    first, second = _lines(json_logs)
    assert (first["logger"], first["msg"]) == ("mcp.server.lowlevel", "session token [REDACTED]")
    assert (second["logger"], second["msg"]) == ("sqlalchemy.engine", "connect postgresql://u:[REDACTED]@h/d")


def test_at_debug_aws_wire_bodies_are_never_logged(json_logs: pytest.CaptureFixture[str]) -> None:
    _configure(json_logs, "DEBUG")
    body = b'{"SecretString": "{\\"password\\": \\"plain-words-no-pattern\\"}"}'
    logging.getLogger("botocore.parsers").debug("Response body:\n%r", body)
    logging.getLogger("botocore.endpoint").debug("Sending http request: %s", body)
    logging.getLogger("urllib3.connectionpool").debug("response %s", body)
    logging.getLogger("botocore.credentials").info("Found credentials in environment variables.")
    logging.getLogger("afu9.test").debug("our own debug line")

    lines = _lines(json_logs)
    assert "plain-words-no-pattern" not in json.dumps(lines)
    assert [line["logger"] for line in lines] == ["botocore.credentials", "afu9.test"]


def test_a_malformed_logging_call_does_not_break_its_caller(json_logs: pytest.CaptureFixture[str]) -> None:
    _configure(json_logs)
    logging.getLogger("afu9.test").info("two values %s and %s", TOKEN)

    [entry] = _lines(json_logs)
    assert entry["msg"].startswith("two values %s and %s")
    assert TOKEN not in json.dumps(entry)


def test_records_below_the_configured_level_are_dropped(json_logs: pytest.CaptureFixture[str]) -> None:
    _configure(json_logs, "WARNING")
    log = logging.getLogger("afu9.test")
    log.info("quiet")
    log.warning("loud")

    assert [entry["msg"] for entry in _lines(json_logs)] == ["loud"]
