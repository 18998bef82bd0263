"""Secret redaction in free text and in nested JSON-like values (used by logs and the audit trail)."""

from __future__ import annotations

import pytest

from shared.redaction import REDACTED, redact_text, redact_value

GITHUB_CLASSIC = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GITHUB_FINE_GRAINED = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF"
GITHUB_APP = "ghs_" + "z" * 36
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA7bq5s3g0m4B8b0XkzWkq0c6Qk0Yl\n"
    "p8q3Z0r6E5hJ1yTn3lX0d9vE4mN5o2P1qR7sT8uV9w\n"
    "-----END RSA PRIVATE KEY-----"
)


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (f"cloning with {GITHUB_CLASSIC} now", GITHUB_CLASSIC, ["cloning with ", " now"]),
        (f"GITHUB_TOKEN={GITHUB_FINE_GRAINED}", GITHUB_FINE_GRAINED, ["GITHUB_TOKEN="]),
        (f"installation token {GITHUB_APP}", GITHUB_APP, ["installation token"]),
        (f"key id {AWS_KEY_ID} in us-east-1", AWS_KEY_ID, ["key id ", " in us-east-1"]),
        (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET, ["aws_secret_access_key = "]),
        (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET} aws s3 ls", AWS_SECRET, ["AWS_SECRET_ACCESS_KEY=", " aws s3 ls"]),
        ("password=hunter2-hunter2 user=bob", "hunter2-hunter2", ["password=", "user=bob"]),
        ('{"password": "correct horse battery", "user": "bob"}', "horse", ['"password": "', '"user": "bob"']),
        ("client_secret: 'abc def;ghi'", "def;ghi", ["client_secret: '"]),
        ("x-api-key: k3y-0f-the-api", "k3y-0f-the-api", ["x-api-key: "]),
        ("https://example.com/cb?token=abc123xyz&state=ok", "abc123xyz", ["state=ok"]),
        ("Authorization: Bearer abcdef0123456789.xyz", "abcdef0123456789", ["Authorization: "]),
        ("curl -H 'authorization: Basic dXNlcjpwYXNzd29yZA=='", "dXNlcjpwYXNzd29yZA", ["curl -H "]),
        ("sent Bearer sk-proj-0123456789abcdefghij to the api", "0123456789abcdefghij", ["sent Bearer", "to the api"]),
        (
            "postgresql+asyncpg://afu9:s3cr3t-pw@db.internal:5432/afu9",
            "s3cr3t-pw",
            ["postgresql+asyncpg://afu9:", "@db.internal:5432/afu9"],
        ),
        ("redis://:only-a-password@cache:6379/0", "only-a-password", ["redis://:", "@cache:6379/0"]),
        ("git remote https://bot:ghtoken123@github.com/o/r.git", "ghtoken123", ["@github.com/o/r.git"]),
        (f"key:\n{PEM}\nend", "MIIEpAIBAAKCAQEA", ["key:\n", "\nend"]),
        (f"id_token={JWT}", "SflKxwRJSMeKKF2QT4fw", ["id_token="]),
        (f"jwt {JWT} seen", "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ", ["jwt ", " seen"]),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123", "abcdefghijklmnopqrstuvwxyz0123", []),
    ],
)
def test_secrets_in_text_are_redacted_and_the_rest_is_kept(text: str, secret: str, kept: list[str]) -> None:
    redacted = redact_text(text)
    assert secret not in redacted
    assert REDACTED in redacted
    for part in kept:
        assert part in redacted


def test_a_truncated_private_key_is_redacted_to_the_end() -> None:
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
    assert redact_text(text) == REDACTED


@pytest.mark.parametrize(
    "text",
    [
        "list_kpis returned 12 KPIs in 4 ms",
        "GET /mcp 200 from 127.0.0.1:53122",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        "commit 0ed736c5f7257f7a7bc957e7d43316dbf3a81dd6",
        "ghp_short is not a token",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_secret_named_fields_are_hidden_whatever_their_value() -> None:
    value = {
        "password": "x",
        "db_password": 12345,
        "GITHUB_TOKEN": "short",
        "api_key": ["a", "b"],
        "aws_secret_access_key": {"nested": "thing"},
        "Authorization": "Bearer abc",
        "private_key": "k",
        "database_url": "sqlite:///x",
        "kpi_id": "mttr",
    }
    assert redact_value(value) == {
        "password": REDACTED,
        "db_password": REDACTED,
        "GITHUB_TOKEN": REDACTED,
        "api_key": REDACTED,
        "aws_secret_access_key": REDACTED,
        "Authorization": REDACTED,
        "private_key": REDACTED,
        "database_url": REDACTED,
        "kpi_id": "mttr",
    }


def test_secrets_deep_in_nested_values_are_redacted_and_the_shape_is_kept() -> None:
    value = {
        "kpi_id": "mttr",
        "value": 42.5,
        "ok": True,
        "none": None,
        "steps": [
            {"name": "clone", "arguments": {"url": "https://bot:pw-in-url@github.com/o/r.git"}},
            {"name": "auth", "headers": {"X-Note": f"from {GITHUB_CLASSIC}"}},
        ],
        "tuple": (AWS_KEY_ID, 1),
        "set": {JWT},
        "deeper": {"a": {"b": {"c": [[f"-- {PEM} --"]]}}},
    }

    redacted = redact_value(value)

    text = repr(redacted)
    for secret in ("pw-in-url", GITHUB_CLASSIC, AWS_KEY_ID, JWT, "MIIEpAIBAAKCAQEA"):
        assert secret not in text
    assert redacted == {
        "kpi_id": "mttr",
        "value": 42.5,
        "ok": True,
        "none": None,
        "steps": [
            {"name": "clone", "arguments": {"url": f"https://bot:{REDACTED}@github.com/o/r.git"}},
            {"name": "auth", "headers": {"X-Note": f"from {REDACTED}"}},
        ],
        "tuple": [REDACTED, 1],
        "set": [REDACTED],
        "deeper": {"a": {"b": {"c": [[f"-- {REDACTED} --"]]}}},
    }


def test_redacting_a_value_leaves_the_original_untouched() -> None:
    original = {"source": GITHUB_CLASSIC, "list": [GITHUB_CLASSIC]}
    redact_value(original)
    assert original == {"source": GITHUB_CLASSIC, "list": [GITHUB_CLASSIC]}


def test_absurdly_deep_values_are_cut_off_instead_of_recursing_forever() -> None:
    value: object = "leaf"
    for _ in range(200):
        value = [value]
    redacted = redact_value(value)
    depth = 0
    while isinstance(redacted, list):
        redacted = redacted[0]  # pyright: ignore[reportUnknownVariableType]
        depth += 1
    assert redacted == REDACTED
    assert depth < 30
