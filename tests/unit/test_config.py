import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from ai_worker.settings import AiWorkerSettings
from assets.settings import AssetSettings
from core.ai_replies import AiRepliesSettings
from core.auth import AuthSettings
from core.cdn import CdnSettings
from core.config import CoreSettings, FeatureSettings, SettingsError, reset_settings, settings_classes

URL = "postgresql+pg8000://u@h/app"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    reset_settings()
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()


def test_reads_upper_case_environment_names() -> None:
    s = CoreSettings.from_env({"DATABASE_URL": URL, "STAGE": "dev", "CORS_ALLOWED_ORIGINS": "https://a, https://b"})
    assert s.stage == "dev"
    assert s.cors_allowed_origins == ("https://a", "https://b")
    assert s.is_cloud


def test_a_database_is_required_only_to_connect() -> None:
    settings = CoreSettings.from_env({})  # transcode has no database
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        settings.require_database()
    CoreSettings.from_env({"DB_HOST": "db.example"}).require_database()


def test_refuses_other_drivers() -> None:
    with pytest.raises(SettingsError, match="pg8000"):
        CoreSettings.from_env({"DATABASE_URL": "postgresql://u@h/app"})


def test_proxy_host_is_enough_in_the_cloud() -> None:
    s = CoreSettings.from_env({"DB_HOST": "proxy.example", "STAGE": "prod", "DB_IAM_AUTH": "true"})
    assert s.db_iam_auth and s.db_port == 5432 and s.db_pool_size == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("STAGE", "moon"), ("DB_POOL_RECYCLE_S", "1800"), ("DB_PORT", "x"), ("DB_POOL_SIZE", "0")],
)
def test_rejects_bad_values(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        CoreSettings.from_env({"DATABASE_URL": URL, name: value})


def test_every_bad_value_is_named_with_its_reason() -> None:
    with pytest.raises(SettingsError) as caught:
        CoreSettings.from_env({"DATABASE_URL": URL, "DB_PORT": "x", "DB_POOL_SIZE": "0", "DB_IAM_AUTH": "maybe"})
    message = str(caught.value)
    assert "DB_PORT: must be an integer" in message
    assert "DB_POOL_SIZE: must be >= 1" in message
    assert "DB_IAM_AUTH: must be true or false" in message


def test_the_first_read_validates_every_loaded_class_and_reports_every_bad_value(fresh: pytest.MonkeyPatch) -> None:
    """One model's promise kept by many: the function's first settings read fails with every problem
    of every class it has loaded, whichever class it asked for, and keeps failing until fixed."""
    fresh.setenv("BCRYPT_COST", "3")  # core.auth
    fresh.setenv("SHARE_CREATE_PER_MINUTE", "0")  # assets
    fresh.setenv("DB_PORT", "x")  # core
    for _ in range(2):
        with pytest.raises(SettingsError) as caught:
            CoreSettings.current()
        message = str(caught.value)
        assert message.startswith("invalid settings: ") and message.count("invalid settings") == 1
        assert "BCRYPT_COST: must be >= 4" in message
        assert "SHARE_CREATE_PER_MINUTE: must be >= 1" in message
        assert "DB_PORT: must be an integer" in message
    for name in ("BCRYPT_COST", "SHARE_CREATE_PER_MINUTE"):
        fresh.delenv(name)
    fresh.setenv("DB_PORT", "6543")
    assert AssetSettings.current().share_create_per_minute == 10
    assert CoreSettings.current().db_port == 6543


@pytest.mark.parametrize("name", ["SHARE_MAX_TTL_S", "SHARE_DEFAULT_TTL_S"])
def test_a_share_lifetime_past_what_a_request_may_ask_is_refused(fresh: pytest.MonkeyPatch, name: str) -> None:
    """30 days is ShareIn's cap: a longer configured lifetime would be a setting nothing honours."""
    fresh.setenv(name, str(30 * 24 * 3600 + 1))
    with pytest.raises(SettingsError, match=f"{name}: must be <= 2592000"):
        AssetSettings.current()


def test_each_class_is_read_once_per_container_until_reset(fresh: pytest.MonkeyPatch) -> None:
    fresh.setenv("SHARE_MAX_TTL_S", "120")
    first = AssetSettings.current()
    fresh.setenv("SHARE_MAX_TTL_S", "240")
    assert AssetSettings.current() is first and first.share_max_ttl_s == 120
    reset_settings()
    assert AssetSettings.current().share_max_ttl_s == 240


def test_python_values_are_checked_like_environment_strings() -> None:
    key = "a:" + "s" * 32
    loose: dict[str, Any] = {"db_port": "6543", "db_iam_auth": "off"}
    s = CoreSettings(database_url=URL, **loose)
    assert (s.db_port, s.db_iam_auth) == (6543, False)
    assert AuthSettings(jwt_signing_keys=key).jwt_signing_keys == (key,)  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="OPENAI_BASE_URL: must match"):
        AiRepliesSettings(openai_base_url="file:///etc/passwd")
    with pytest.raises(SettingsError, match="ROOMS_AI_PROVIDER: must be one of echo, bedrock, openai"):
        AiWorkerSettings(**{"rooms_ai_provider": "gpt"})


def test_cross_field_checks_stay_with_their_class() -> None:
    with pytest.raises(SettingsError, match="JWT_SIGNING_KEYS entries are kid:secret"):
        AuthSettings(jwt_signing_keys=("k1:short",))
    with pytest.raises(SettingsError, match="CDN_DOMAIN needs"):
        CdnSettings(cdn_domain="d1.cloudfront.net")


def test_secrets_stay_out_of_repr() -> None:
    shown = [
        repr(CoreSettings(database_url="postgresql+pg8000://u:url-password@h/app", db_password="hunter2")),
        repr(AiWorkerSettings(openai_api_key="sk-secret")),
        repr(AuthSettings(jwt_signing_keys=("k1:" + "signing-secret-" * 3,))),
        repr(CdnSettings(cdn_private_key="cdn-signing-key-body")),
    ]
    for secret in ("hunter2", "sk-secret", "url-password", "signing-secret", "cdn-signing-key-body"):
        assert all(secret not in text for text in shown), secret


def test_every_variable_has_one_owner_and_a_meaning() -> None:
    import local.settings_doc

    classes = local.settings_doc.load_classes()
    assert set(classes) == set(settings_classes()) and CoreSettings in classes and FeatureSettings not in classes
    owners: dict[str, str] = {}
    for kind in classes:
        for name, spec in kind.__dataclass_fields__.items():
            assert name not in owners, f"{name.upper()} is declared by {owners[name]} and {kind.__qualname__}"
            owners[name] = kind.__qualname__
            assert spec.metadata.get("doc"), f"{name.upper()} has no doc"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [("DB_PORT", "5432.0", 5432), ("DB_PORT", " 6543 ", 6543), ("DB_CONNECT_TIMEOUT_S", "2", 2.0)],
)
def test_numbers_read_as_pydantic_read_them(name: str, value: str, expected: float) -> None:
    s = CoreSettings.from_env({"DATABASE_URL": URL, name: value})
    assert getattr(s, name.lower()) == expected and type(getattr(s, name.lower())) is type(expected)


@pytest.mark.parametrize(
    ("name", "value"),
    [("DB_PORT", "5432.5"), ("DB_PORT", "\u0663"), ("DB_CONNECT_TIMEOUT_S", "\uff11"), ("DB_PORT", "nan")],
)
def test_non_ascii_digits_and_fractions_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        CoreSettings.from_env({"DATABASE_URL": URL, name: value.encode().decode("unicode_escape")})


def test_a_pattern_must_match_the_whole_value() -> None:
    with pytest.raises(SettingsError, match="OPENAI_BASE_URL"):
        AiRepliesSettings.from_env({"OPENAI_BASE_URL": "https://x.example/v1\n"})


def _first_read(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A fresh container of the function `module`: import its handler, then read the core settings."""
    code = f"import {module}; from core.config import CoreSettings; CoreSettings.current()"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CDN_", "ROOMS_", "SHARE_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DATABASE_URL": URL, "PYTHONPATH": os.pathsep.join(sys.path), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_function_fails_on_a_bad_value_of_any_settings_its_code_loads() -> None:
    """The posts function signs variant URLs (core.cdn) only for posts with an image: a bad CDN
    configuration still fails its first settings read, whatever the request."""
    failed = _first_read("posts.handler", CDN_DOMAIN="d1.cloudfront.net")
    assert failed.returncode != 0 and "SettingsError" in failed.stderr and "CDN_DOMAIN needs" in failed.stderr
    assert _first_read("posts.handler").returncode == 0


def test_a_function_reads_only_the_settings_its_code_owns() -> None:
    """The authorizer has no AI worker settings: a bad one is the ai_worker's problem, not its own."""
    assert _first_read("authorizer.handler", ROOMS_AI_TIMEOUT_S="-1").returncode == 0
    failed = _first_read("ai_worker.handler", ROOMS_AI_TIMEOUT_S="-1")
    assert failed.returncode != 0 and "ROOMS_AI_TIMEOUT_S: must be > 0" in failed.stderr
