"""One settings object, read from the environment and ``.env``.

Every field is documented in ``.env.example``; a test keeps the two in step.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from uuid import UUID

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

HttpClient = Literal["aiohttp", "httpcore"]
"""The transport under the runner's httpx client (``runner.execute.http.send.make_transport``)."""

DEFAULT_MAX_SUITE_BYTES = 50 * 1024 * 1024
"""Largest suite (or data) file read, unless ``RUNNER_MAX_SUITE_BYTES`` says otherwise."""


class Settings(BaseSettings):
    """Runtime configuration. Environment variables win over ``.env``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_DATABASE_URL", "SUPABASE_DB_URL"),
        description="Postgres or Supabase connection string; unset means the embedded server.",
    )
    data_dir: Path = Field(
        default=Path(".runner"),
        validation_alias=AliasChoices("RUNNER_DATA_DIR"),
        description="Where the embedded server keeps its data, logs and lock.",
    )
    embedded_port: int = Field(
        default=54329,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("RUNNER_EMBEDDED_PORT"),
        description="TCP port of the embedded PostgreSQL on 127.0.0.1.",
    )
    database_role: Literal["service_role", "authenticated"] = Field(
        default="service_role",
        validation_alias=AliasChoices("RUNNER_DATABASE_ROLE"),
        description="Role the runner acts as on the direct Postgres path.",
    )
    user_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_USER_ID"),
        description="With RUNNER_DATABASE_ROLE=authenticated: the auth.users id acted as.",
    )
    user_email: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_USER_EMAIL"),
        description="With RUNNER_DATABASE_ROLE=authenticated: that user's email (JWT claim).",
    )
    db_outage_s: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        validation_alias=AliasChoices("RUNNER_DB_OUTAGE_S"),
        description="Seconds a batch is retried while the database is unreachable; then spilled.",
    )
    concurrency: int = Field(
        default=8,
        ge=1,
        le=1024,
        validation_alias=AliasChoices("RUNNER_CONCURRENCY"),
        description="Default number of tests in flight at once.",
    )
    http_client: HttpClient = Field(
        default="aiohttp",
        validation_alias=AliasChoices("RUNNER_HTTP_CLIENT"),
        description="Transport under the runner's httpx client: aiohttp (faster) or httpcore.",
    )
    max_suite_bytes: int = Field(
        default=DEFAULT_MAX_SUITE_BYTES,
        ge=1,
        validation_alias=AliasChoices("RUNNER_MAX_SUITE_BYTES"),
        description="Largest suite file (or data file) run-suite reads, in bytes.",
    )
    body_limit: int = Field(
        default=8192,
        ge=0,
        validation_alias=AliasChoices("RUNNER_BODY_LIMIT"),
        description="Bytes of request/response body kept in stored snapshots.",
    )
    context_ttl_hours: float = Field(
        default=24.0,
        gt=0,
        validation_alias=AliasChoices("RUNNER_CONTEXT_TTL_HOURS"),
        description="Hours an execution context lives before cleanup removes it.",
    )
    stale_run_s: float = Field(
        default=60.0,
        gt=0,
        validation_alias=AliasChoices("RUNNER_STALE_RUN_S"),
        description="Seconds without a heartbeat after which a running run is marked "
        "interrupted (runner lost).",
    )
    organization: str = Field(
        default="local",
        min_length=1,
        validation_alias=AliasChoices("RUNNER_ORGANIZATION"),
        description="Organisation (slug, or display name) that service-role runs belong to; "
        "by slug the service role records only into organisations it created.",
    )
    organization_id: UUID | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_ORGANIZATION_ID"),
        description="Id of the organisation runs belong to; wins over RUNNER_ORGANIZATION. "
        "How the service role records into an organisation a user created.",
    )

    @field_validator("organization_id", mode="before")
    @classmethod
    def _blank_id_is_none(cls, value: object) -> object:
        # ``RUNNER_ORGANIZATION_ID=`` as copied from .env.example means "not set"
        return None if isinstance(value, str) and not value.strip() else value

    project: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_PROJECT"),
        description="Project runs are recorded under; unset means one per suite name.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_SECRET_KEY"),
        description="Base64 AES-256 key for secrets at rest (see runner.secrets.crypto).",
    )
    secret_key_old: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_SECRET_KEY_OLD"),
        description="The previous key, read by `secrets rotate` when --old-key is not given.",
    )

    secret_name_pattern: str = Field(
        default=r"token|secret|passw(?:or)?d|api[_-]?key|authori[sz]ation|cookie|session",
        min_length=1,
        validation_alias=AliasChoices("RUNNER_SECRET_NAME_PATTERN"),
        description="Regex (case-insensitive) of capture names that are secret by default.",
    )
    log_level: Literal["", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="",
        validation_alias=AliasChoices("RUNNER_LOG_LEVEL"),
        description="Log records at this level and above go to stderr; unset: warnings only.",
    )

    @field_validator("secret_name_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import re

        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regex: {exc}") from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    store: Literal["postgres", "supabase"] = Field(
        default="postgres",
        validation_alias=AliasChoices("RUNNER_STORE"),
        description="Where runs are recorded: postgres (direct/embedded) or supabase (URL + key).",
    )
    supabase_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SUPABASE_URL"),
        description="Supabase project URL (or `serve`'s), for RUNNER_STORE=supabase and `watch`.",
    )
    supabase_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SUPABASE_KEY", "SUPABASE_SERVICE_ROLE_KEY"),
        description="Supabase API key: service_role records as the system; anon needs a user.",
    )
    supabase_email: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_SUPABASE_EMAIL"),
        description="Sign in as this user on the Supabase path (RLS applies).",
    )
    supabase_password: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_SUPABASE_PASSWORD"),
        description="Password of RUNNER_SUPABASE_EMAIL.",
    )
    serve_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        validation_alias=AliasChoices("RUNNER_SERVE_HOST"),
        description="Interface `python -m runner serve` listens on.",
    )
    serve_port: int = Field(
        default=54321,
        ge=0,
        le=65535,
        validation_alias=AliasChoices("RUNNER_SERVE_PORT"),
        description="Port of `python -m runner serve` (the local Supabase surface).",
    )
    web_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_WEB_DIR"),
        description="Folder of the web UI `serve` serves at /; unset: the checkout's web/.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_JWT_SECRET"),
        description="HS256 secret of `serve`'s JWTs; unset: generated once, kept in the data dir.",
    )

    webhook_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_WEBHOOK_URL"),
        description="Webhook URL(s) notified after a run, comma-separated; unset: none.",
    )
    webhook_events: str = Field(
        default="run_failed,flaky_test_detected,performance_degradation",
        validation_alias=AliasChoices("RUNNER_WEBHOOK_EVENTS"),
        description="Events that are sent, comma-separated (see docs/reports.md).",
    )
    webhook_template: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_WEBHOOK_TEMPLATE"),
        description="A jinja2 file rendering the payload; unset: the documented JSON payload.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_WEBHOOK_SECRET"),
        description="Signs each delivery (HMAC-SHA256 header) when set.",
    )
    webhook_timeout: float = Field(
        default=5.0,
        gt=0,
        le=120,
        validation_alias=AliasChoices("RUNNER_WEBHOOK_TIMEOUT"),
        description="Seconds per delivery attempt.",
    )
    webhook_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        validation_alias=AliasChoices("RUNNER_WEBHOOK_RETRIES"),
        description="Extra attempts after a failed delivery (connection error, 429, 5xx).",
    )

    @field_validator("webhook_template", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # ``RUNNER_WEBHOOK_TEMPLATE=`` as copied from .env.example means "not set"
        return None if isinstance(value, str) and not value.strip() else value

    archive_dir: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_ARCHIVE_DIR"),
        description="Where `retention` writes archives; unset means <data dir>/archive.",
    )
    archive_bucket: str | None = Field(
        default=None,
        validation_alias=AliasChoices("RUNNER_ARCHIVE_BUCKET"),
        description="Supabase Storage bucket for retention archives (SUPABASE_URL + service key).",
    )
    retention_chunk_size: int = Field(
        default=5000,
        ge=1,
        le=1_000_000,
        validation_alias=AliasChoices("RUNNER_RETENTION_CHUNK_SIZE"),
        description="Rows per retention chunk (one transaction each).",
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def uses_embedded(self) -> bool:
        """True when no connection string is configured."""
        return self.database_url is None or not self.database_url.get_secret_value().strip()

    @property
    def organization_ref(self) -> str:
        """What the store addresses its organisation by: the id when set, else the name.

        ``public.start_suite_run`` (0033) reads a uuid as an id and anything else as a slug.
        """
        return str(self.organization_id) if self.organization_id else self.organization

    @property
    def webhook_urls(self) -> tuple[str, ...]:
        """The configured webhook URLs (``RUNNER_WEBHOOK_URL`` split on commas)."""
        if self.webhook_url is None:
            return ()
        parts = self.webhook_url.get_secret_value().replace("\n", ",").split(",")
        return tuple(part.strip() for part in parts if part.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
