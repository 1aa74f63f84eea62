"""Settings from the environment, validated once per container.

Plain pydantic (not pydantic-settings) keeps cold import small; every field
reads the upper-case environment variable of its name.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Stage = Literal["local", "dev", "staging", "prod"]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: Stage = "local"
    # Local or explicit database: a SQLAlchemy URL (postgresql+pg8000://...).
    database_url: str | None = None
    # Cloud database: RDS Proxy endpoint, IAM auth token as the password.
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "app"
    db_user: str = "app"
    db_iam_auth: bool = False
    db_password: str | None = Field(default=None, repr=False)
    # PEM bundle of the RDS CA, for connecting to Aurora without RDS Proxy (the proxy's ACM
    # certificate needs only the system trust store).
    db_ca_bundle: str | None = None
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    # Longest wait for any one answer once connected (queries, migrations).
    db_socket_timeout_s: float = Field(default=60.0, gt=0)
    db_pool_recycle_s: int = Field(default=900, gt=0, lt=1800)
    # One connection per Lambda container; the in-process local gateway may use more.
    db_pool_size: int = Field(default=1, ge=1, le=50)
    assets_bucket: str | None = None
    media_queue_url: str | None = None
    # CloudFront domain serving public variants/post images; unset: short presigned GETs.
    cdn_domain: str | None = None
    presigned_get_ttl_s: int = Field(default=300, ge=1, le=3600)
    upload_url_ttl_s: int = Field(default=900, ge=60, le=3600)
    post_image_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # Assets (media storage).
    asset_max_bytes: int = Field(default=5 * 1024**3, ge=1)
    multipart_threshold_bytes: int = Field(default=100 * 1024 * 1024, ge=5 * 1024 * 1024)
    multipart_part_bytes: int = Field(default=64 * 1024 * 1024, ge=5 * 1024 * 1024, le=5 * 1024**3)
    download_url_ttl_s: int = Field(default=120, ge=1, le=120)
    share_max_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)
    share_create_per_minute: int = Field(default=10, ge=1)
    share_access_per_minute_per_ip: int = Field(default=60, ge=1)
    cors_allowed_origins: tuple[str, ...] = ("http://localhost:3000", "http://127.0.0.1:3000")
    hsts_max_age_s: int = 63072000
    # Auth. Keys are "kid:secret" pairs, the first one signs; in the cloud they
    # come from the Secrets Manager secret JWT_SECRET_ARN instead.
    jwt_signing_keys: tuple[str, ...] = ()
    jwt_secret_arn: str | None = None
    jwt_issuer: str = "social-serverless"
    jwt_audience: str = "social-serverless-api"
    access_token_ttl_s: int = Field(default=900, ge=60, le=3600)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=3600)
    bcrypt_cost: int = Field(default=12, ge=4, le=16)
    login_window_s: int = Field(default=900, ge=1)
    login_max_failures_per_email: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=20, ge=1)
    retry_after_s: int = Field(default=5, ge=1)
    # --- Rooms: team chat with AI replies (functions/rooms) ---
    # Provider of rooms that name none: "echo" (repeats the last human message; the
    # default when STAGE=local), "bedrock" (the cloud default) or "openai" (any
    # OpenAI-compatible endpoint at OPENAI_BASE_URL).
    rooms_ai_provider: Literal["echo", "bedrock", "openai"] | None = None
    rooms_bedrock_model: str = Field(default="amazon.nova-lite-v1:0", min_length=1, max_length=200)
    rooms_openai_model: str = Field(default="gpt-4o-mini", min_length=1, max_length=200)
    # Comma-separated models a room may choose with PATCH; empty: any. CDK sets the ones IAM allows.
    rooms_ai_models: str = ""
    # The whole provider call, connect included. The rooms Lambda has 10 s for everything.
    rooms_ai_timeout_s: float = Field(default=6.0, gt=0, le=25)
    # Context budget (estimated tokens: ~4 characters each) and the reply's own limit.
    rooms_ai_context_tokens: int = Field(default=8000, ge=256)
    rooms_ai_max_output_tokens: int = Field(default=1024, ge=16, le=8192)
    rooms_invitation_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    # OpenAI-compatible endpoint: base URL (up to /v1) and key, or in the cloud the
    # Secrets Manager secret holding the key (a plain string or {"api_key": "..."}).
    openai_base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    openai_api_key: str | None = Field(default=None, repr=False)
    openai_api_key_secret_arn: str | None = None
    # --- end of rooms settings ---
    # --- Media processing (functions/media) ---
    # Malware scanner: auto = clamd (CLAMD_ADDRESS or a default socket), else clamscan on
    # PATH, else GuardDuty's object tag in the cloud, else the local EICAR-only scanner.
    media_scanner: Literal["auto", "clamd", "clamscan", "guardduty", "eicar"] = "auto"
    # clamd: a unix socket path (/run/clamav/clamd.ctl, optionally "unix:"-prefixed) or host:port.
    clamd_address: str | None = None
    media_scan_timeout_s: float = Field(default=60.0, gt=0, le=600)
    # MediaConvert (videos -> HLS). No endpoint: locally, videos are ready with the original only.
    mediaconvert_endpoint: str | None = Field(default=None, pattern=r"^https://[^\s]+$")
    mediaconvert_role_arn: str | None = None
    mediaconvert_queue_arn: str | None = None
    media_thumb_px: int = Field(default=256, ge=16, le=1024)
    media_preview_px: int = Field(default=1280, ge=256, le=4096)
    # Decompression-bomb guard (pixels) and the largest image decoded in memory (bytes).
    media_max_image_pixels: int = Field(default=60_000_000, ge=1_000_000, le=250_000_000)
    media_max_image_bytes: int = Field(default=100 * 1024 * 1024, ge=1024 * 1024)
    # A claim ('processing') older than this with no job in flight was lost to a crash: take it again.
    media_claim_lease_s: int = Field(default=300, ge=60, le=3600)
    # --- end of media settings ---

    @field_validator("cors_allowed_origins", "jwt_signing_keys", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @model_validator(mode="after")
    def _database_is_reachable(self) -> Settings:
        if not self.database_url and not self.db_host:
            raise ValueError("set DATABASE_URL, or DB_HOST for the RDS Proxy")
        if self.database_url and not self.database_url.startswith("postgresql+pg8000://"):
            raise ValueError("DATABASE_URL must use the postgresql+pg8000:// driver")
        for pair in self.jwt_signing_keys:
            kid, _, secret = pair.partition(":")
            if not kid or len(secret) < 32:
                raise ValueError("JWT_SIGNING_KEYS entries are kid:secret with a secret of 32+ characters")
        return self

    @property
    def is_cloud(self) -> bool:
        return self.stage != "local"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        return cls.model_validate(raw)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The container's settings; a bad environment fails the first request loudly."""
    return Settings.from_env()
