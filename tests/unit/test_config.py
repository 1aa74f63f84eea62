from typing import Any

import pytest

from core.config import Settings, SettingsError


def test_reads_upper_case_environment_names() -> None:
    s = Settings.from_env(
        {"DATABASE_URL": "postgresql+pg8000://u@h/app", "STAGE": "dev", "CORS_ALLOWED_ORIGINS": "https://a, https://b"}
    )
    assert s.stage == "dev"
    assert s.cors_allowed_origins == ("https://a", "https://b")
    assert s.is_cloud


def test_a_database_is_required_only_to_connect() -> None:
    settings = Settings.from_env({"MEDIA_QUEUE_URL": "https://sqs.example/q"})  # transcode has no database
    assert settings.media_queue_url == "https://sqs.example/q"
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        settings.require_database()
    Settings.from_env({"DB_HOST": "db.example"}).require_database()


def test_refuses_other_drivers() -> None:
    with pytest.raises(SettingsError, match="pg8000"):
        Settings.from_env({"DATABASE_URL": "postgresql://u@h/app"})


def test_proxy_host_is_enough_in_the_cloud() -> None:
    s = Settings.from_env({"DB_HOST": "proxy.example", "STAGE": "prod", "DB_IAM_AUTH": "true"})
    assert s.db_iam_auth and s.db_port == 5432 and s.db_pool_size == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("STAGE", "moon"), ("DB_POOL_RECYCLE_S", "1800"), ("DB_PORT", "x"), ("DB_POOL_SIZE", "0")],
)
def test_rejects_bad_values(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({"DATABASE_URL": "postgresql+pg8000://u@h/app", name: value})


def test_every_bad_value_is_named_with_its_reason() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {"DATABASE_URL": "postgresql+pg8000://u@h/app", "DB_PORT": "x", "BCRYPT_COST": "3", "DB_IAM_AUTH": "maybe"}
        )
    message = str(caught.value)
    assert "DB_PORT: must be an integer" in message
    assert "BCRYPT_COST: must be >= 4" in message
    assert "DB_IAM_AUTH: must be true or false" in message


def test_python_values_are_checked_like_environment_strings() -> None:
    key = "a:" + "s" * 32
    loose: dict[str, Any] = {"db_port": "6543", "db_iam_auth": "off", "jwt_signing_keys": key}
    s = Settings(database_url="postgresql+pg8000://u@h/app", **loose)
    assert (s.db_port, s.db_iam_auth, s.jwt_signing_keys) == (6543, False, (key,))
    with pytest.raises(SettingsError, match="OPENAI_BASE_URL: must match"):
        Settings(database_url="postgresql+pg8000://u@h/app", openai_base_url="file:///etc/passwd")
    with pytest.raises(SettingsError, match="ROOMS_AI_PROVIDER: must be one of echo, bedrock, openai"):
        Settings(database_url="postgresql+pg8000://u@h/app", **{"rooms_ai_provider": "gpt"})  # type: ignore[arg-type]


def test_secrets_stay_out_of_repr() -> None:
    s = Settings(
        database_url="postgresql+pg8000://u:url-password@h/app",
        db_password="hunter2",
        openai_api_key="sk-secret",
        jwt_signing_keys=("k1:" + "signing-secret-" * 3,),
    )
    assert all(secret not in repr(s) for secret in ("hunter2", "sk-secret", "url-password", "signing-secret"))


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [("DB_PORT", "5432.0", 5432), ("DB_PORT", " 6543 ", 6543), ("DB_CONNECT_TIMEOUT_S", "2", 2.0)],
)
def test_numbers_read_as_pydantic_read_them(name: str, value: str, expected: float) -> None:
    s = Settings.from_env({"DATABASE_URL": "postgresql+pg8000://u@h/app", name: value})
    assert getattr(s, name.lower()) == expected and type(getattr(s, name.lower())) is type(expected)


@pytest.mark.parametrize(
    ("name", "value"),
    [("DB_PORT", "5432.5"), ("DB_PORT", "\u0663"), ("DB_CONNECT_TIMEOUT_S", "\uff11"), ("DB_PORT", "nan")],
)
def test_non_ascii_digits_and_fractions_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(
            {"DATABASE_URL": "postgresql+pg8000://u@h/app", name: value.encode().decode("unicode_escape")}
        )


def test_a_pattern_must_match_the_whole_value() -> None:
    with pytest.raises(SettingsError, match="OPENAI_BASE_URL"):
        Settings.from_env({"DATABASE_URL": "postgresql+pg8000://u@h/app", "OPENAI_BASE_URL": "https://x.example/v1\n"})
