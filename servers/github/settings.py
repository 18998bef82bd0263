"""Settings of the github server: the shared fields, its own (``AFU9_GITHUB_``), and GitHub's standard names."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator

from shared.settings import ServerSettings, port_field

__all__ = ["GitHubSettings"]


class GitHubSettings(ServerSettings):
    """Settings of the github server. Credentials: a token, or a GitHub App with an installation."""

    server: ClassVar[str] = "github"
    port: int = port_field(3001)

    token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GITHUB_TOKEN"),
        description="A personal access token (classic or fine-grained) the server acts with.",
    )
    app_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GITHUB_APP_ID"),
        description="A GitHub App's id, to act as its installation instead of with a token.",
    )
    app_private_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GITHUB_APP_PRIVATE_KEY"),
        description="The GitHub App's private key (PEM), or use GITHUB_APP_PRIVATE_KEY_FILE.",
    )
    app_private_key_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("GITHUB_APP_PRIVATE_KEY_FILE"),
        description="A file holding the GitHub App's private key (PEM).",
    )
    app_installation_id: int | None = Field(
        default=None,
        ge=1,
        validation_alias=AliasChoices("GITHUB_APP_INSTALLATION_ID"),
        description="The installation of the GitHub App to act as.",
    )
    api_url: str = Field(
        default="https://api.github.com",
        validation_alias=AliasChoices("GITHUB_API_URL"),
        description="GitHub's REST API: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server.",
    )
    max_concurrency: int = Field(
        default=8,
        ge=1,
        le=100,
        description="GitHub requests in flight at most per process (GitHub advises against many concurrent ones).",
    )
    timeout_seconds: float = Field(
        default=30.0,
        ge=0.1,
        le=600,
        description="Longest wait for one GitHub request, its retries and its whole answer included; past it the "
        "call fails saying whether anything may have changed.",
    )
    download_timeout_seconds: float = Field(
        default=120.0,
        ge=0.1,
        le=3600,
        description="Longest a download read as it arrives may take (a job's log, up to 64 MB), the whole body "
        "included.",
    )
    retry_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        le=120,
        description="Longest wait for one retry after a rate limit or a server error; a longer wait is left to "
        "the caller (the answer says when to retry).",
    )

    webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GITHUB_WEBHOOK_SECRET"),
        description="The secret of the GitHub webhook pointed at POST /webhooks/github; without it the route "
        "answers 503 and accepts nothing.",
    )
    webhook_previous_secrets: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("GITHUB_WEBHOOK_SECRET_PREVIOUS"),
        description="During a secret rotation, the secret(s) being replaced (comma-separated), still accepted.",
    )
    webhook_rules: Path | None = Field(
        default=None,
        description="A YAML or JSON file of webhook routing rules (README: Webhooks); unset: deliveries are "
        "recorded only.",
    )
    webhook_max_attempts: int = Field(
        default=5, ge=1, le=50, description="Attempts at a delivery's targets before it is dead-lettered."
    )
    webhook_retry_seconds: float = Field(
        default=10.0, ge=0, le=3600, description="Wait before the first retry of a failed delivery; doubles each time."
    )
    webhook_max_retry_seconds: float = Field(
        default=900.0, ge=0, le=86_400, description="Longest wait between two attempts at a delivery."
    )
    webhook_workers: int = Field(
        default=16, ge=1, le=64, description="Deliveries processed at once per process (HTTP only)."
    )
    webhook_target_timeout_seconds: float = Field(
        default=60.0, ge=1, le=900, description="Longest one target (a tool call) may take before it counts as failed."
    )

    @field_validator("api_url")
    @classmethod
    def _https(cls, value: str) -> str:
        value = value.rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("use https://api.github.com or https://HOST/api/v3")
        return value
