"""Typed settings: the fields every AFU-9 process shares, and the base of each server's own.

Settings are parsed once, in ``main()``, from the environment. A bad value stops the process
with one line naming the environment variable (see :func:`load_settings`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from shared.exits import fail

__all__ = [
    "CommonSettings",
    "EcsServices",
    "ServerSettings",
    "TextList",
    "load_settings",
    "port_field",
    "setting_error_line",
]

MIN_TOKEN_CHARS = 16

_Csv = Annotated[list[str], NoDecode]


def _split_text(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _cluster_and_service(services: list[str]) -> list[str]:
    for entry in services:
        cluster, _, service = entry.partition("/")
        if not cluster or not service or "/" in service:
            raise ValueError(f"each service is `cluster/service`, not {entry[:80]!r}")
    return services


TextList = Annotated[list[str], NoDecode, BeforeValidator(_split_text)]
"""A setting that is a list of texts, given comma-separated in the environment."""

EcsServices = Annotated[list[str], NoDecode, BeforeValidator(_split_text), AfterValidator(_cluster_and_service)]
"""A setting that names ECS services, comma-separated ``cluster/service`` in the environment."""

# Accepted URL schemes and the async driver each one runs on.
_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class CommonSettings(BaseSettings):
    """Fields every AFU-9 process reads. Their environment names are fixed (``AFU9_*``)."""

    # The prefix keeps bare names (HOST, DATABASE_URL, LOG_LEVEL...) that other tools set from being read.
    model_config = SettingsConfigDict(env_prefix="AFU9_", extra="ignore", populate_by_name=True, validate_default=True)

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=_env("AFU9_DATABASE_URL"),
        description="Database URL: postgresql://user:password@host:5432/db (asyncpg) or sqlite:///path.db. "
        "Default: a SQLite file under AFU9_DATA_DIR.",
    )
    data_dir: Path = Field(
        default=Path(".afu9"),
        validation_alias=_env("AFU9_DATA_DIR"),
        description="Folder for the embedded SQLite database and other local state.",
    )
    allow_writes: bool = Field(
        default=False,
        validation_alias=_env("AFU9_ALLOW_WRITES"),
        description="Open the write gate on every server: write tools run instead of refusing.",
    )
    read_only: bool = Field(
        default=False,
        validation_alias=_env("AFU9_READ_ONLY"),
        description="Read-only mode: write tools are not even listed; every read tool stays.",
    )
    http_tokens: _Csv = Field(
        default_factory=list,
        validation_alias=_env("AFU9_HTTP_TOKENS"),
        description="Comma-separated bearer tokens accepted over HTTP, each `token` or `client:token` "
        f"(tokens of at least {MIN_TOKEN_CHARS} characters). Empty: HTTP is open, which is allowed on a loopback "
        "host only.",
    )
    host: str = Field(
        default="127.0.0.1",
        validation_alias=_env("AFU9_HOST"),
        description="Interface the HTTP transport binds to.",
    )
    allowed_hosts: _Csv = Field(
        default_factory=list,
        validation_alias=_env("AFU9_ALLOWED_HOSTS"),
        description="Extra Host header values accepted over HTTP (host or host:port, `*` port wildcard "
        "allowed), e.g. the load balancer's name. Loopback names, the bound address and the IP addresses of "
        "this machine's interfaces are always accepted; `*` turns the Host check off.",
    )
    allowed_origins: _Csv = Field(
        default_factory=list,
        validation_alias=_env("AFU9_ALLOWED_ORIGINS"),
        description="Extra Origin header values accepted over HTTP (browser clients).",
    )
    max_request_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        validation_alias=_env("AFU9_MAX_REQUEST_BYTES"),
        description="Largest HTTP request body accepted; larger ones get 413.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        validation_alias=_env("AFU9_LOG_LEVEL"),
        description="Level of the JSON log lines written to stderr.",
    )
    session_idle_seconds: float = Field(
        default=1800,
        gt=0,
        le=86_400,
        validation_alias=_env("AFU9_SESSION_IDLE_SECONDS"),
        description="Stateful HTTP: a session with no request for this long is closed (the client re-initializes).",
    )
    max_sessions: int = Field(
        default=1000,
        ge=1,
        validation_alias=_env("AFU9_MAX_SESSIONS"),
        description="Stateful HTTP: open sessions at most; past it a new session gets 503 until one ends.",
    )
    max_sessions_per_client: int = Field(
        default=100,
        ge=1,
        validation_alias=_env("AFU9_MAX_SESSIONS_PER_CLIENT"),
        description="Stateful HTTP: open sessions at most per bearer-token client, so one client cannot use "
        "up AFU9_MAX_SESSIONS for everyone.",
    )
    audit_queue_size: int = Field(
        default=10_000,
        ge=1,
        validation_alias=_env("AFU9_AUDIT_QUEUE_SIZE"),
        description="Audit records held in memory while the database is away; past it the oldest are "
        "dropped and counted.",
    )

    @field_validator("http_tokens", "allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("http_tokens")
    @classmethod
    def _long_tokens(cls, tokens: list[str]) -> list[str]:
        for index, entry in enumerate(tokens, start=1):
            client, sep, token = entry.partition(":")
            secret = token if sep else client
            if len(secret) < MIN_TOKEN_CHARS:
                raise ValueError(
                    f"token {index} is {len(secret)} characters long; use tokens of at least {MIN_TOKEN_CHARS} "
                    "random characters (e.g. `openssl rand -hex 24`)"
                )
        return tokens

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _async_driver(cls, value: object) -> object:
        """Accept the usual spellings and pick the async driver; anything else is refused at start."""
        if not isinstance(value, str) or not value:
            return value or None
        scheme, sep, rest = value.partition("://")
        if not sep:
            raise ValueError("not a database URL; use postgresql://user:password@host:5432/db or sqlite:///path.db")
        driver = _DRIVERS.get(scheme.lower())
        if driver is None:
            raise ValueError(
                f"the {scheme.split('+')[0]!r} scheme is not supported; use postgresql://... or sqlite:///..."
            )
        if driver.startswith("postgresql"):
            _check_server_url(rest)
        return f"{driver}://{rest}"

    def source_of(self, field: str) -> str:
        """The environment variable that set ``field`` (a shared setting's name; see ServerSettings)."""
        alias = type(self).model_fields[field].validation_alias
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        return f"AFU9_{field.upper()}"

    def sqlalchemy_url(self) -> str:
        """The database URL to connect to (the embedded SQLite file when none is set)."""
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'afu9.db').as_posix()}"


class ServerSettings(CommonSettings):
    """Base of every server's settings: its own fields use the prefix ``AFU9_<NAME>_``, and every shared
    setting can be given for this server alone the same way (``AFU9_FACTORY_ALLOW_WRITES`` beats
    ``AFU9_ALLOW_WRITES``).

    A server's settings class names the server once and gives its default port::

        class FactorySettings(ServerSettings):
            server: ClassVar[str] = "factory"
            port: int = port_field(3004)
    """

    server: ClassVar[str] = ""
    port: int = Field(default=0, ge=0, le=65535, description="HTTP port (0 picks a free one).")
    toolsets: _Csv = Field(
        default_factory=list,
        description="Toolsets to serve (comma-separated): names, `default` (the default ones), `all`; empty: the "
        "default ones.",
    )
    enabled_tools: _Csv = Field(
        default_factory=list, description="Only these tools (comma-separated); empty: every tool of the toolsets."
    )
    disabled_tools: _Csv = Field(default_factory=list, description="Tools never served (comma-separated).")
    server_overrides: frozenset[str] = Field(
        default_factory=frozenset,
        exclude=True,
        validation_alias="__afu9_server_overrides",
        description="Shared settings this server overrides with its own variable (filled in while reading).",
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.server:
            cls.model_config["env_prefix"] = f"AFU9_{cls.server.upper()}_"

    def source_of(self, field: str) -> str:
        """The variable that decided ``field``: this server's own override when it was set, else the shared one."""
        if field in self.server_overrides:
            return f"{self.model_config.get('env_prefix', '')}{field}".upper()
        return super().source_of(field)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # A server's own AFU9_<SERVER>_<NAME> beats the shared AFU9_<NAME> (e.g. AFU9_FACTORY_ALLOW_WRITES).
        return init_settings, _ServerEnvironment(settings_cls, env_settings), dotenv_settings, file_secret_settings

    @field_validator("toolsets", "enabled_tools", "disabled_tools", mode="before")
    @classmethod
    def _split_server_csv(cls, value: object) -> object:
        return cls._split_csv(value)


class _ServerEnvironment(PydanticBaseSettingsSource):
    """The environment, where a server's ``AFU9_<SERVER>_<NAME>`` replaces the shared ``AFU9_<NAME>``.

    Overridden values are keyed by field name, so a bad one is reported under the server's variable.
    """

    def __init__(self, settings_cls: type[BaseSettings], environment: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._environment = environment

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._environment.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        values = self._environment()
        variables = {key.upper(): value for key, value in os.environ.items()}
        prefix = str(self.config.get("env_prefix", "")).upper()
        overridden: list[str] = []
        for name, field in CommonSettings.model_fields.items():
            own = variables.get(f"{prefix}{name.upper()}")
            if own is not None:
                if isinstance(field.validation_alias, AliasChoices):
                    for alias in field.validation_alias.choices:
                        values.pop(str(alias), None)
                values[name] = own
                overridden.append(name)
        values["__afu9_server_overrides"] = frozenset(overridden)
        return values


S = TypeVar("S", bound=BaseSettings)


def setting_error_line(settings_cls: type[BaseSettings], error: ValidationError) -> str:
    """One line naming the environment variable of the first bad setting, and what is wrong with it."""
    first = error.errors()[0]
    key = str(first["loc"][0]) if first["loc"] else "?"
    if key in settings_cls.model_fields:
        # Read under its field name, so from the prefixed variable (AFU9_FACTORY_PORT).
        env = f"{settings_cls.model_config.get('env_prefix', '')}{key}".upper()
    else:
        # Read under an alias, which is the variable's own name (AFU9_DATABASE_URL).
        env = key.upper()
    return f"afu9: invalid setting {env}: {first['msg']}"


def load_settings(settings_cls: type[S]) -> S:
    """Parse ``settings_cls`` from the environment, or exit with one line naming the bad key."""
    try:
        return settings_cls()
    except ValidationError as error:
        fail(setting_error_line(settings_cls, error).removeprefix("afu9: "))


def port_field(port: int) -> Any:
    """A server's ``port`` field with its default port."""
    return Field(default=port, ge=0, le=65535, description="HTTP port.")


def _check_server_url(rest: str) -> None:
    """A PostgreSQL URL names a host, a numeric port (if any) and a database."""
    parts = urlsplit(f"postgresql://{rest}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError("no host; use postgresql://user:password@host:5432/db")
    if not parts.path.strip("/"):
        raise ValueError("no database name; use postgresql://user:password@host:5432/db")
