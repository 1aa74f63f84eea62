"""Settings from the environment, validated once per container.

A frozen stdlib dataclass, not pydantic: the authorizer reads these settings and has a
cold-start budget of 0.25x the reference app, and importing pydantic plus building this model
cost it ~85 ms of ~115 (docs/decisions.md). Limits are declared next to each field, every
field reads the upper-case environment variable of its name, and every bad value is reported.
"""

import operator
import os
import types
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Literal, Union, get_args, get_origin

Stage = Literal["local", "dev", "staging", "prod"]

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
# Defaults the OpenAPI document declares as maxima (a stage may set others).
DEFAULT_POST_IMAGE_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_ASSET_MAX_BYTES = 5 * 1024**3
_BOUNDS = {"ge": (operator.ge, ">="), "gt": (operator.gt, ">"), "le": (operator.le, "<="), "lt": (operator.lt, "<")}


class SettingsError(ValueError):
    """The environment does not make a valid configuration; raised before any request is served."""


def setting(default: Any, *, secret: bool = False, **limits: Any) -> Any:
    """A field with its limits (ge/gt/le/lt for numbers, min_length/max_length/pattern for strings).

    A secret stays out of repr(), so settings can be logged.
    """
    return field(default=default, repr=not secret, metadata=limits)


@dataclass(frozen=True, kw_only=True)
class Settings:
    stage: Stage = "local"
    # Local or explicit database: a SQLAlchemy URL (postgresql+pg8000://...).
    database_url: str | None = setting(None, secret=True)  # may hold a password
    # Cloud database: RDS Proxy endpoint, IAM auth token as the password.
    db_host: str | None = None
    db_port: int = 5432
    db_name: str = "app"
    # The application's role (migration 0009_app_role); only `migrate` is given the owner (CDK: DB_USER=app).
    db_user: str = "app_rw"
    db_iam_auth: bool = False
    db_password: str | None = setting(None, secret=True)
    # PEM bundle of the RDS CA, for connecting to Aurora without RDS Proxy (the proxy's ACM
    # certificate needs only the system trust store).
    db_ca_bundle: str | None = None
    db_connect_timeout_s: float = setting(5.0, gt=0)
    # Longest wait for any one answer once connected (queries, migrations).
    db_socket_timeout_s: float = setting(60.0, gt=0)
    db_pool_recycle_s: int = setting(900, gt=0, lt=1800)
    # One connection per Lambda container; the in-process local gateway may use more.
    db_pool_size: int = setting(1, ge=1, le=50)
    assets_bucket: str | None = None
    media_queue_url: str | None = None
    # CloudFront domain serving variants/ (signed URLs of the key group, core.cdn); unset: short
    # presigned S3 GETs. With it: the public key's id (Key-Pair-Id) and its private key, as PEM in
    # CDN_PRIVATE_KEY (local, tests) or in the Secrets Manager secret CDN_PRIVATE_KEY_SECRET_ARN
    # (the cloud; read once per container).
    cdn_domain: str | None = setting(None, pattern=r"^[a-z0-9.-]+$")
    cdn_key_pair_id: str | None = setting(None, pattern=r"^[A-Z0-9]{1,64}$")
    # Or the key group's keys as "<id>:<sha256 hex of the public key's DER>" (CDK sets these): the id
    # signed with is the one whose key matches the private key, so a rotation needs no lockstep.
    cdn_key_pair_ids: tuple[str, ...] = ()
    cdn_private_key: str | None = setting(None, secret=True)
    cdn_private_key_secret_arn: str | None = setting(None, pattern=r"^arn:aws[a-z-]*:secretsmanager:\S+$")
    # Lifetime of a CloudFront-signed URL: its expiry is rounded up to a multiple of this, so the
    # same variant gets the same URL (and a browser cache hit) for at least this long, at most twice.
    cdn_url_ttl_s: int = setting(300, ge=60, le=3600)
    # An HLS playlist's segment URLs live the video's duration plus 15 minutes, at most this long
    # (a player fetches a VOD media playlist once, then its segments as it plays).
    playback_max_ttl_s: int = setting(6 * 3600, ge=300, le=12 * 3600)
    presigned_get_ttl_s: int = setting(300, ge=1, le=3600)
    upload_url_ttl_s: int = setting(900, ge=60, le=3600)
    post_image_max_bytes: int = setting(DEFAULT_POST_IMAGE_MAX_BYTES, ge=1)
    # Assets (media storage).
    asset_max_bytes: int = setting(DEFAULT_ASSET_MAX_BYTES, ge=1)
    multipart_threshold_bytes: int = setting(100 * 1024 * 1024, ge=5 * 1024 * 1024)
    multipart_part_bytes: int = setting(64 * 1024 * 1024, ge=5 * 1024 * 1024, le=5 * 1024**3)
    download_url_ttl_s: int = setting(120, ge=1, le=120)
    share_max_ttl_s: int = setting(30 * 24 * 3600, ge=60)
    share_default_ttl_s: int = setting(7 * 24 * 3600, ge=60)  # a share without expires_in_seconds (capped by max)
    share_create_per_minute: int = setting(10, ge=1)
    share_access_per_minute_per_ip: int = setting(60, ge=1)
    # Shared spaces (issue 20): a new space's byte quota unless its creator names one (None: no
    # quota), and how many members one space may have.
    space_default_quota_bytes: int | None = setting(None, ge=0)
    space_member_limit: int = setting(100, ge=2, le=10_000)
    cors_allowed_origins: tuple[str, ...] = ("http://localhost:3000", "http://127.0.0.1:3000")
    hsts_max_age_s: int = 63072000
    # Auth. Keys are "kid:secret" pairs, the first one signs; in the cloud they
    # come from the Secrets Manager secret JWT_SECRET_ARN instead.
    jwt_signing_keys: tuple[str, ...] = setting((), secret=True)
    jwt_secret_arn: str | None = None
    jwt_issuer: str = "social-serverless"
    jwt_audience: str = "social-serverless-api"
    access_token_ttl_s: int = setting(900, ge=60, le=3600)
    refresh_token_ttl_s: int = setting(30 * 24 * 3600, ge=3600)
    # Absolute lifetime of a sign-in from its login, across refresh-token rotations; no token outlives it.
    session_max_age_s: int = setting(30 * 24 * 3600, ge=3600)
    bcrypt_cost: int = setting(12, ge=4, le=16)
    login_window_s: int = setting(900, ge=1)
    login_max_failures_per_email: int = setting(5, ge=1)
    login_max_failures_per_ip: int = setting(20, ge=1)
    retry_after_s: int = setting(5, ge=1)
    # --- Rooms: team chat with AI replies (functions/rooms) ---
    # Provider of rooms that name none: "echo" (repeats the last human message; the
    # default when STAGE=local), "bedrock" (the cloud default) or "openai" (any
    # OpenAI-compatible endpoint at OPENAI_BASE_URL).
    rooms_ai_provider: Literal["echo", "bedrock", "openai"] | None = None
    rooms_bedrock_model: str = setting("amazon.nova-lite-v1:0", min_length=1, max_length=200)
    rooms_openai_model: str = setting("gpt-4o-mini", min_length=1, max_length=200)
    # Comma-separated models a room may choose with PATCH; empty: any. CDK sets the ones IAM allows.
    rooms_ai_models: str = ""
    # The whole provider call, connect included. The rooms Lambda has 10 s for everything.
    rooms_ai_timeout_s: float = setting(6.0, gt=0, le=25)
    # Context budget (estimated tokens: ~4 characters each) and the reply's own limit.
    rooms_ai_context_tokens: int = setting(8000, ge=256)
    rooms_ai_max_output_tokens: int = setting(1024, ge=16, le=8192)
    rooms_invitation_ttl_s: int = setting(7 * 24 * 3600, ge=60)
    # OpenAI-compatible endpoint: base URL (up to /v1) and key, or in the cloud the
    # Secrets Manager secret holding the key (a plain string or {"api_key": "..."}).
    openai_base_url: str | None = setting(None, pattern=r"^https?://[^\s]+$")
    openai_api_key: str | None = setting(None, secret=True)
    openai_api_key_secret_arn: str | None = None
    # --- end of rooms settings ---
    # --- Media processing (functions/media) ---
    # Malware scanner: auto = clamd (CLAMD_ADDRESS or a default socket), else clamscan on
    # PATH, else GuardDuty's object tag in the cloud, else the local EICAR-only scanner.
    media_scanner: Literal["auto", "clamd", "clamscan", "guardduty", "eicar"] = "auto"
    # clamd: a unix socket path (/run/clamav/clamd.ctl, optionally "unix:"-prefixed) or host:port.
    clamd_address: str | None = None
    media_scan_timeout_s: float = setting(60.0, gt=0, le=600)
    # MediaConvert (videos -> HLS). No endpoint: locally, videos are ready with the original only.
    mediaconvert_endpoint: str | None = setting(None, pattern=r"^https://[^\s]+$")
    mediaconvert_role_arn: str | None = None
    mediaconvert_queue_arn: str | None = None
    media_thumb_px: int = setting(256, ge=16, le=1024)
    media_preview_px: int = setting(1280, ge=256, le=4096)
    # Decompression-bomb guard (pixels) and the largest image decoded in memory (bytes).
    media_max_image_pixels: int = setting(60_000_000, ge=1_000_000, le=250_000_000)
    media_max_image_bytes: int = setting(100 * 1024 * 1024, ge=1024 * 1024)
    # A claim ('processing') older than this with no job in flight was lost to a crash: take it again.
    media_claim_lease_s: int = setting(300, ge=60, le=3600)
    # --- end of media settings ---
    # --- Realtime (functions/realtime): the WebSocket API ---
    # What a ticket tells the client to connect to (`url?ticket=...`); CDK sets the stage's wss:// URL.
    realtime_ws_url: str = setting("ws://127.0.0.1:3000/ws", pattern=r"^wss?://[^\s?#]+$")
    # The API Gateway Management API (`@connections`) of that API; CDK sets the stage's callback URL.
    realtime_management_url: str = setting("http://127.0.0.1:3000/ws", pattern=r"^https?://[^\s?#]+$")
    # --- end of realtime settings ---
    # --- Feature flags (core.flags): Powertools FeatureFlags, the document of docs/operations.md ---
    # Locally: a JSON file, read again whenever it changes (`make dev` uses local/feature_flags.json).
    feature_flags_file: str | None = None
    # In the cloud: the stage's AWS AppConfig application, environment and configuration profile
    # (CDK sets them where the function can reach AppConfig). Neither: every flag at its baseline.
    appconfig_application: str | None = None
    appconfig_environment: str | None = None
    appconfig_profile: str | None = None
    # How long a fetched document is used before AppConfig is asked again (per container).
    feature_flags_max_age_s: int = setting(60, ge=1, le=3600)
    # --- end of feature flags ---

    def __post_init__(self) -> None:
        problems: list[str] = []
        for spec in fields(self):
            try:
                value = _convert(spec.type, getattr(self, spec.name))
                _check_limits(value, spec.metadata)
            except ValueError as exc:
                problems.append(f"{spec.name.upper()}: {exc}")
                continue
            object.__setattr__(self, spec.name, value)
        if not problems:
            problems = self._consistency_problems()
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))

    def _consistency_problems(self) -> list[str]:
        problems = []
        if self.database_url and not self.database_url.startswith("postgresql+pg8000://"):
            problems.append("DATABASE_URL must use the postgresql+pg8000:// driver")
        key_id = self.cdn_key_pair_id or self.cdn_key_pair_ids
        if self.cdn_domain and not (key_id and (self.cdn_private_key or self.cdn_private_key_secret_arn)):
            problems.append(
                "CDN_DOMAIN needs CDN_KEY_PAIR_ID (or CDN_KEY_PAIR_IDS) "
                "and CDN_PRIVATE_KEY or CDN_PRIVATE_KEY_SECRET_ARN"
            )
        for pair in self.jwt_signing_keys:
            kid, _, secret = pair.partition(":")
            if not kid or len(secret) < 32:
                problems.append("JWT_SIGNING_KEYS entries are kid:secret with a secret of 32+ characters")
        return problems

    def require_database(self) -> None:
        """Called before connecting: a function without a database (transcode) needs neither."""
        if not self.database_url and not self.db_host:
            raise SettingsError("invalid settings: set DATABASE_URL, or DB_HOST for the database endpoint")

    @property
    def is_cloud(self) -> bool:
        return self.stage != "local"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {spec.name: env[spec.name.upper()] for spec in fields(cls) if spec.name.upper() in env}
        return cls(**raw)


def _convert(kind: Any, value: Any) -> Any:
    """An environment string (or a Python value) as the field's declared type."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner,) = (arg for arg in get_args(kind) if arg is not type(None))
        return _convert(inner, value)
    if origin is Literal:
        if value not in get_args(kind):
            raise ValueError("must be one of " + ", ".join(map(str, get_args(kind))))
        return value
    if origin is tuple:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, (tuple, list)) and all(isinstance(part, str) for part in value):
            return tuple(value)
        raise ValueError("must be a comma-separated list")
    if kind is bool:
        return _as_bool(value)
    if kind is int or kind is float:
        return _as_number(kind, value)
    if kind is str and isinstance(value, str):
        return value
    raise ValueError(f"must be {getattr(kind, '__name__', kind)}")


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError("must be true or false")


def _as_number(kind: type, value: Any) -> int | float:
    """As pydantic did: ASCII digits only, and an int may be written as a whole float (5432.0)."""
    problem = ValueError(f"must be {'an integer' if kind is int else 'a number'}")
    if isinstance(value, bool):
        raise problem
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii():
            raise problem
        try:
            value = float(text) if kind is float or not text.lstrip("+-").isdigit() else int(text)
        except ValueError:
            raise problem from None
    if isinstance(value, float) and kind is int:
        if not value.is_integer():
            raise problem
        return int(value)
    if isinstance(value, (int, float)):
        return kind(value)
    raise problem


def _check_limits(value: Any, limits: Any) -> None:
    if value is None or not limits:
        return
    for name, (compare, symbol) in _BOUNDS.items():
        if name in limits and not compare(value, limits[name]):
            raise ValueError(f"must be {symbol} {limits[name]}")
    if "min_length" in limits and len(value) < limits["min_length"]:
        raise ValueError(f"must be at least {limits['min_length']} characters")
    if "max_length" in limits and len(value) > limits["max_length"]:
        raise ValueError(f"must be at most {limits['max_length']} characters")
    if "pattern" in limits:
        import re

        if not re.fullmatch(limits["pattern"], value):
            raise ValueError(f"must match {limits['pattern']}")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The container's settings; a bad environment fails the first request loudly."""
    return Settings.from_env()
