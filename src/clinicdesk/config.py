"""Settings: one object, read from ``CLINICDESK_*`` environment variables and ``.env``.

Every setting is documented in ``.env.example``; keep the two in step.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

import platformdirs
from limits import parse
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

MIB = 1024 * 1024


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/clinicdesk`` on Linux)."""
    return Path(platformdirs.user_data_dir("clinicdesk", appauthor=False))


WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (names, not a bind)


def normalize_database_url(url: str) -> str:
    """Map the URLs people write to the async drivers ClinicDesk uses.

    ``postgresql://`` and ``postgres://`` use asyncpg; ``sqlite://`` uses aiosqlite.
    Anything else is refused with a message that says what is accepted.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"database URL {url!r} has no scheme; use sqlite:/// or postgresql://")
    base = scheme.split("+", 1)[0].lower()
    if base in {"postgresql", "postgres"}:
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(
        f"unsupported database {scheme!r}: ClinicDesk runs on SQLite (sqlite:///path) "
        "or PostgreSQL (postgresql://user:password@host/db)"
    )


class Settings(BaseSettings):
    """Runtime configuration. Field names map to ``CLINICDESK_<NAME>`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="CLINICDESK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # An empty value in .env (as in .env.example) means "use the default".
        env_ignore_empty=True,
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    # PostgreSQL: the role that owns the tables, for `clinicdesk db upgrade`. The server
    # itself connects with CLINICDESK_DATABASE_URL as a role that does not own them, so
    # row-level security and the insert-only audit trail hold. Default: the same URL.
    database_owner_url: str | None = None

    # Secrets: generated into <data_dir>/secrets on first start unless given here.
    secret_key: SecretStr | None = None
    field_encryption_key: SecretStr | None = None
    # Earlier field keys, comma-separated, still needed to read values not yet
    # re-encrypted by `clinicdesk keys rotate` (with generated keys: a file beside the key).
    field_encryption_previous_keys: SecretStr | None = None
    # Encrypts backup archives (`clinicdesk backup`): 32 random bytes, url-safe base64.
    # Default: generated into <data_dir>/secrets/backup_key on the first backup. Never the
    # field encryption key; keep a copy apart from the data directory and from that key.
    backup_key: SecretStr | None = None

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    # Proxies whose X-Forwarded-Proto/For headers are trusted (comma-separated, or "*").
    forwarded_allow_ips: str = "127.0.0.1"

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    max_request_body_bytes: int = Field(default=25 * MIB, ge=1024)
    # A request's headers, then its body, must arrive within these (else 408): a client
    # trickling bytes must not hold a connection open.
    request_header_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    request_body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Connections per process; default: sized from the worker count (``pool_size``).
    db_pool_size: int | None = Field(default=None, ge=1, le=200)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)

    # The address people use to reach ClinicDesk; links in e-mails are built from it and
    # never from a request's Host header. Default: http://<host>:<port>.
    public_url: str | None = None

    session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=24 * 30)
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=7, ge=1, le=90)
    # How long a clinician's emergency ("break-glass") access to a restricted record lasts.
    break_glass_minutes: int = Field(default=60, ge=5, le=24 * 60)

    # Shared rate-limit counters for several processes (redis://host:6379/0).
    redis_url: str | None = None
    # Request limits per signed-in session or API token ("N/second|minute|hour|day"),
    # by class: every page and API call, patient search and the audit list, exports
    # (CSV), and requests that send e-mail (invitations, password resets, verification).
    rate_limit_general: str = "600/minute"
    rate_limit_search: str = "120/minute"
    rate_limit_export: str = "20/minute"
    rate_limit_mail: str = "20/hour"
    # Each client address may make this many times a session's limit (a clinic's staff
    # often share one address); callers who are not signed in are counted by address.
    rate_limit_address_factor: int = Field(default=4, ge=1, le=1000)
    # Outgoing mail: smtp://user:password@host:587?starttls=true or smtps://...; without
    # it, messages are written to <data_dir>/mail as .eml files.
    smtp_url: SecretStr | None = None
    mail_from: str = "ClinicDesk <clinicdesk@localhost.localdomain>"

    # Password of the demo users created by `clinicdesk demo` (generated when unset).
    demo_password: SecretStr | None = None

    # When set, /metrics requires "Authorization: Bearer <token>".
    metrics_token: SecretStr | None = None
    # Where the npm packages (htmx, Pico CSS, Swagger UI) are installed; found on its own
    # in a source checkout after `npm ci`.
    assets_dir: Path | None = None

    # Uploaded patient documents (PDFs, images): a private directory on this server, or
    # an S3-compatible bucket when several servers must see the same files.
    documents_storage: Literal["local", "s3"] = "local"
    # Local storage only. Default: <data_dir>/documents; keep it out of any served folder.
    documents_dir: Path | None = None
    # Largest document accepted. It travels inside a request body, so it cannot exceed
    # max_request_body_bytes.
    upload_max_bytes: int = Field(default=20 * MIB, ge=1024)
    s3_bucket: str | None = None
    # For S3-compatible services (MinIO, Ceph, Garage...); default: AWS itself.
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    # Both or neither; without them boto3 uses its usual sources (AWS_* variables,
    # ~/.aws, the instance role).
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    # Folder-like prefix for the object keys, so the bucket can be shared ("clinicdesk/").
    s3_prefix: str = ""

    # Durable jobs (mail and other work after commit). `serve` runs them in process unless
    # this is false (then run `clinicdesk worker` processes).
    jobs_in_process: bool = True
    # Jobs each runner process works on at once.
    jobs_concurrency: int = Field(default=1, ge=1, le=32)
    # How often an idle runner looks for due jobs (a commit in the same process wakes it).
    jobs_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # A running job's lease: a worker that dies leaves its job to be taken again after it.
    jobs_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Retries: exponential backoff from this delay up to the cap, with jitter.
    jobs_retry_base_seconds: float = Field(default=10.0, gt=0)
    jobs_retry_max_seconds: float = Field(default=3600.0, gt=0)
    # On stop, how long a running job may take to finish before it goes back to the queue.
    jobs_shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    # Finished jobs are deleted after these many days (dead ones stay longer, for retries).
    jobs_keep_succeeded_days: int = Field(default=7, ge=0)
    jobs_keep_dead_days: int = Field(default=90, ge=0)

    # Card payments through a payment gateway: off unless set ("stripe"). The secret API
    # key and the webhook endpoint's signing secret come from the provider's dashboard;
    # the API address is the provider's own unless a test points it at a fake server.
    card_gateway: Literal["off", "stripe"] = "off"
    card_gateway_secret_key: SecretStr | None = None
    card_gateway_webhook_secret: SecretStr | None = None
    card_gateway_api_url: str = "https://api.stripe.com"

    # Text messages (SMS and WhatsApp) to patients: written to <data_dir>/messages unless
    # a provider is set ("twilio"). Twilio's account SID and auth token come from its
    # console; the auth token also verifies its webhooks (delivery receipts, replies),
    # which it calls at <base_url>/api/v1/notifications/twilio/... . ``text_from`` is the
    # sending number (E.164) or a Messaging Service SID (MG...); ``whatsapp_from`` the
    # number enabled for WhatsApp, if any.
    text_provider: Literal["file", "twilio"] = "file"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    text_from: str | None = None
    whatsapp_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"

    @field_validator("data_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("database_url", "database_owner_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        return normalize_database_url(value) if value else None

    @field_validator(
        "rate_limit_general", "rate_limit_search", "rate_limit_export", "rate_limit_mail"
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate limit: write it as '600/minute' or '20/hour'"
            ) from None
        return value

    @field_validator("documents_dir")
    @classmethod
    def _expand_documents_dir(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @model_validator(mode="after")
    def _check_documents(self) -> Settings:
        if self.upload_max_bytes > self.max_request_body_bytes:
            raise ValueError(
                f"upload_max_bytes ({self.upload_max_bytes}) must not exceed "
                f"max_request_body_bytes ({self.max_request_body_bytes}): an upload arrives "
                "inside a request body, so a larger one would be refused before it is read. "
                "Raise CLINICDESK_MAX_REQUEST_BODY_BYTES or lower CLINICDESK_UPLOAD_MAX_BYTES."
            )
        if self.documents_storage == "s3" and not self.s3_bucket:
            raise ValueError(
                "documents_storage is 's3' but no bucket is set: set CLINICDESK_S3_BUCKET "
                "(or use CLINICDESK_DOCUMENTS_STORAGE=local)"
            )
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError(
                "set both CLINICDESK_S3_ACCESS_KEY_ID and CLINICDESK_S3_SECRET_ACCESS_KEY, "
                "or neither (boto3 then finds credentials on its own)"
            )
        return self

    @model_validator(mode="after")
    def _check_card_gateway(self) -> Settings:
        if self.card_gateway != "off" and not (
            self.card_gateway_secret_key and self.card_gateway_webhook_secret
        ):
            raise ValueError(
                f"card_gateway is {self.card_gateway!r}: set CLINICDESK_CARD_GATEWAY_SECRET_KEY "
                "and CLINICDESK_CARD_GATEWAY_WEBHOOK_SECRET (or CLINICDESK_CARD_GATEWAY=off)"
            )
        return self

    @model_validator(mode="after")
    def _check_text_provider(self) -> Settings:
        if self.text_provider == "twilio" and not (
            self.twilio_account_sid and self.twilio_auth_token and self.text_from
        ):
            raise ValueError(
                "text_provider is 'twilio': set CLINICDESK_TWILIO_ACCOUNT_SID, "
                "CLINICDESK_TWILIO_AUTH_TOKEN and CLINICDESK_TEXT_FROM "
                "(or CLINICDESK_TEXT_PROVIDER=file)"
            )
        return self

    @property
    def resolved_documents_dir(self) -> Path:
        """Where local storage keeps documents: the setting, or ``<data_dir>/documents``."""
        return self.documents_dir or self.data_dir / "documents"

    @property
    def pool_size(self) -> int:
        """Connections each process keeps. PostgreSQL does best with about two busy
        connections per core in all; more only queue inside the server while holding
        memory and locks, so the processes share that (at least 4 each, for the jobs and
        the live relay beside the requests). SQLite: readers run in parallel, writers
        take turns in the process anyway."""
        if self.db_pool_size is not None:
            return self.db_pool_size
        if self.database_kind == "sqlite":
            return 10
        return max(4, -(-2 * (os.cpu_count() or 2) // self.workers) + 2)

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL in force: the setting, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'clinicdesk.db'}"

    @property
    def migration_database_url(self) -> str:
        return self.database_owner_url or self.resolved_database_url

    @property
    def application_role(self) -> str | None:
        """The role to grant table privileges to after migrating, when the server connects
        as a different role than the owner (PostgreSQL only)."""
        if self.database_kind != "postgresql" or not self.database_owner_url:
            return None
        app_user = make_url(self.resolved_database_url).username
        owner = make_url(self.database_owner_url).username
        return app_user if app_user and app_user != owner else None

    @property
    def base_url(self) -> str:
        """The public address, without a trailing slash: ``public_url``, else the address
        served (a wildcard listening address is no place to send anyone: this machine's
        loopback stands in for it)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        if ":" in host:  # an IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def database_kind(self) -> Literal["sqlite", "postgresql"]:
        return "postgresql" if self.resolved_database_url.startswith("postgresql") else "sqlite"
