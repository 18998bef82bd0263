"""Settings: defaults, environment parsing, the per-server prefix, and one clear line for a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from servers.factory.settings import FactorySettings
from shared.settings import CommonSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_keep_writes_off_bind_loopback_and_use_the_embedded_sqlite_file() -> None:
    settings = load_settings(FactorySettings)

    assert settings.port == 3004
    assert settings.host == "127.0.0.1"
    assert settings.allow_writes is False
    assert settings.read_only is False
    assert settings.http_tokens == []
    assert settings.allowed_hosts == []
    assert settings.toolsets == []
    assert settings.enabled_tools == []
    assert settings.disabled_tools == []
    assert settings.max_request_bytes == 1_048_576
    assert settings.audit_queue_size == 10_000
    assert settings.log_level == "INFO"
    assert settings.database_url is None
    assert settings.sqlalchemy_url() == "sqlite+aiosqlite:///.afu9/afu9.db"


def test_comma_separated_lists_are_split_and_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFU9_HTTP_TOKENS", " alice:s3cret-one-0123456 , bob:s3cret-two-0123456,, ")
    monkeypatch.setenv("AFU9_ALLOWED_HOSTS", "afu9.example.com:*,internal-alb:3004")
    monkeypatch.setenv("AFU9_ALLOWED_ORIGINS", "https://console.example.com")
    monkeypatch.setenv("AFU9_FACTORY_TOOLSETS", "kpis")
    monkeypatch.setenv("AFU9_FACTORY_ENABLED_TOOLS", "list_kpis, get_kpi")
    monkeypatch.setenv("AFU9_FACTORY_DISABLED_TOOLS", "get_kpi_history")

    settings = load_settings(FactorySettings)

    assert settings.http_tokens == ["alice:s3cret-one-0123456", "bob:s3cret-two-0123456"]
    assert settings.allowed_hosts == ["afu9.example.com:*", "internal-alb:3004"]
    assert settings.allowed_origins == ["https://console.example.com"]
    assert settings.toolsets == ["kpis"]
    assert settings.enabled_tools == ["list_kpis", "get_kpi"]
    assert settings.disabled_tools == ["get_kpi_history"]


def test_an_empty_token_list_means_no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFU9_HTTP_TOKENS", "")
    assert load_settings(FactorySettings).http_tokens == []


def test_shared_fields_read_their_afu9_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AFU9_DATABASE_URL", "postgresql+asyncpg://afu9:pw@db.internal:5432/afu9")
    monkeypatch.setenv("AFU9_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AFU9_READ_ONLY", "true")
    monkeypatch.setenv("AFU9_HOST", "0.0.0.0")
    monkeypatch.setenv("AFU9_LOG_LEVEL", "debug")
    monkeypatch.setenv("AFU9_AUDIT_QUEUE_SIZE", "50")
    monkeypatch.setenv("AFU9_MAX_REQUEST_BYTES", "2048")

    settings = load_settings(FactorySettings)

    assert settings.sqlalchemy_url() == "postgresql+asyncpg://afu9:pw@db.internal:5432/afu9"
    assert settings.data_dir == tmp_path
    assert settings.read_only is True
    assert settings.host == "0.0.0.0"
    assert settings.log_level == "DEBUG"
    assert settings.audit_queue_size == 50
    assert settings.max_request_bytes == 2048


def test_the_database_password_never_shows_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFU9_DATABASE_URL", "postgresql+asyncpg://afu9:hunter2-secret@db/afu9")
    settings = load_settings(FactorySettings)
    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in str(settings.model_dump())


def test_bare_names_other_tools_set_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # HOST=0.0.0.0 would silently drop the Host/Origin checks; DATABASE_URL often names another app's database.
    for name, value in {
        "HOST": "0.0.0.0",
        "DATABASE_URL": "postgresql://someone-else/db",
        "LOG_LEVEL": "DEBUG",
        "ALLOW_WRITES": "1",
        "READ_ONLY": "1",
        "HTTP_TOKENS": "x",
        "DATA_DIR": "/elsewhere",
        "PORT": "8080",
        "TOOLSETS": "other",
    }.items():
        monkeypatch.setenv(name, value)

    for settings in (load_settings(FactorySettings), load_settings(CommonSettings)):
        assert settings.host == "127.0.0.1"
        assert settings.database_url is None
        assert settings.log_level == "INFO"
        assert settings.allow_writes is False
        assert settings.read_only is False
        assert settings.http_tokens == []
        assert settings.data_dir == Path(".afu9")
    factory = load_settings(FactorySettings)
    assert factory.port == 3004
    assert factory.toolsets == []


def test_server_fields_use_the_server_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFU9_FACTORY_PORT", "4100")
    monkeypatch.setenv("AFU9_PORT", "4200")
    monkeypatch.setenv("AFU9_TOOLSETS", "not-for-factory")

    settings = load_settings(FactorySettings)

    assert settings.port == 4100
    assert settings.toolsets == []


@pytest.mark.parametrize(
    ("allow_writes", "factory_writes", "expected"),
    [
        (None, None, False),
        ("1", None, True),
        ("true", "0", False),
        ("0", "1", True),
        (None, "yes", True),
        (None, "false", False),
    ],
)
def test_the_per_server_write_gate_overrides_allow_writes(
    monkeypatch: pytest.MonkeyPatch, allow_writes: str | None, factory_writes: str | None, expected: bool
) -> None:
    if allow_writes is not None:
        monkeypatch.setenv("AFU9_ALLOW_WRITES", allow_writes)
    if factory_writes is not None:
        monkeypatch.setenv("AFU9_FACTORY_ALLOW_WRITES", factory_writes)
    assert load_settings(FactorySettings).allow_writes is expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AFU9_FACTORY_PORT", "not-a-port"),
        ("AFU9_FACTORY_PORT", "70000"),
        ("AFU9_AUDIT_QUEUE_SIZE", "0"),
        ("AFU9_AUDIT_QUEUE_SIZE", "lots"),
        ("AFU9_ALLOW_WRITES", "maybe"),
        ("AFU9_FACTORY_ALLOW_WRITES", "perhaps"),
        ("AFU9_FACTORY_AUDIT_QUEUE_SIZE", "lots"),
        ("AFU9_READ_ONLY", "sometimes"),
        ("AFU9_LOG_LEVEL", "loud"),
        ("AFU9_MAX_REQUEST_BYTES", "10"),
        ("AFU9_FACTORY_MAX_REQUEST_BYTES", "10"),
        ("AFU9_DATABASE_URL", "mysql://root:hunter2@db/afu9"),
        ("AFU9_DATABASE_URL", "not a url"),
    ],
)
def test_a_malformed_value_exits_2_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SystemExit) as exited:
        load_settings(FactorySettings)

    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith("\n")
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"afu9: invalid setting {name}: ")


def test_a_malformed_value_stops_the_server_process_before_it_serves_without_a_traceback(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AFU9_")}
    env |= {"AFU9_FACTORY_PORT": "eighty", "AFU9_DATA_DIR": str(tmp_path)}

    finished = subprocess.run(
        [sys.executable, "-m", "servers.factory", "--transport", "stdio"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 2
    assert finished.stdout == ""
    assert finished.stderr.splitlines() == [
        "afu9: invalid setting AFU9_FACTORY_PORT: Input should be a valid integer, unable to parse string as an integer"
    ]


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://afu9:pw@db:5432/afu9", "postgresql+asyncpg://afu9:pw@db:5432/afu9"),
        ("postgres://afu9@db/afu9", "postgresql+asyncpg://afu9@db/afu9"),
        ("postgresql+asyncpg://afu9@db/afu9", "postgresql+asyncpg://afu9@db/afu9"),
        ("sqlite:////var/lib/afu9.db", "sqlite+aiosqlite:////var/lib/afu9.db"),
    ],
)
def test_the_usual_database_url_spellings_run_on_the_async_drivers(
    monkeypatch: pytest.MonkeyPatch, given: str, used: str
) -> None:
    monkeypatch.setenv("AFU9_DATABASE_URL", given)

    assert load_settings(CommonSettings).sqlalchemy_url() == used


def test_a_refused_database_url_is_not_echoed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AFU9_DATABASE_URL", "mysql://root:hunter2@db/afu9")

    with pytest.raises(SystemExit):
        load_settings(CommonSettings)

    assert "hunter2" not in capsys.readouterr().err


def test_any_shared_setting_given_for_one_server_beats_the_shared_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFU9_HOST", "10.0.0.1")
    monkeypatch.setenv("AFU9_FACTORY_HOST", "127.0.0.2")
    monkeypatch.setenv("AFU9_HTTP_TOKENS", "shared:token-1-0123456789ab")
    monkeypatch.setenv("AFU9_FACTORY_HTTP_TOKENS", "factory:token-2-0123456789ab,other:token-3-0123456789ab")
    monkeypatch.setenv("AFU9_LOG_LEVEL", "warning")

    factory = load_settings(FactorySettings)
    shared = load_settings(CommonSettings)

    assert (factory.host, factory.http_tokens) == (
        "127.0.0.2",
        ["factory:token-2-0123456789ab", "other:token-3-0123456789ab"],
    )
    assert factory.log_level == "WARNING"  # not overridden: the shared value
    assert (shared.host, shared.http_tokens) == ("10.0.0.1", ["shared:token-1-0123456789ab"])


@pytest.mark.parametrize("tokens", ["short", "ci:short", "ci:" + "x" * 15, "ok:" + "x" * 20 + ",bad:tiny"])
def test_a_token_shorter_than_16_characters_stops_the_process_with_one_line(
    tokens: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AFU9_HTTP_TOKENS", tokens)
    with pytest.raises(SystemExit) as raised:
        load_settings(FactorySettings)
    err = capsys.readouterr().err
    assert raised.value.code == 2
    assert err.count("\n") == 1
    assert "AFU9_HTTP_TOKENS" in err
    assert "at least 16" in err
    assert "short" not in err.replace("shorter", "")  # the token itself is never echoed
    assert "tiny" not in err


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://u@h:notaport/x", "port"),
        ("postgresql://u@h:99999/x", "port"),
        ("postgresql://u@h:5432/", "database name"),
        ("postgresql:///x", "no host"),
    ],
)
def test_a_database_url_that_cannot_work_stops_the_process_naming_the_setting(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AFU9_DATABASE_URL", url)
    with pytest.raises(SystemExit):
        load_settings(FactorySettings)
    err = capsys.readouterr().err
    assert err.startswith("afu9: invalid setting AFU9_DATABASE_URL: ")
    assert reason in err
