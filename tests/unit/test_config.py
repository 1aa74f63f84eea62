import pytest
from pydantic import ValidationError

from core.config import Settings


def test_reads_upper_case_environment_names() -> None:
    s = Settings.from_env(
        {"DATABASE_URL": "postgresql+pg8000://u@h/app", "STAGE": "dev", "CORS_ALLOWED_ORIGINS": "https://a, https://b"}
    )
    assert s.stage == "dev"
    assert s.cors_allowed_origins == ("https://a", "https://b")
    assert s.is_cloud


def test_needs_a_database() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings.from_env({})


def test_refuses_other_drivers() -> None:
    with pytest.raises(ValidationError, match="pg8000"):
        Settings.from_env({"DATABASE_URL": "postgresql://u@h/app"})


def test_proxy_host_is_enough_in_the_cloud() -> None:
    s = Settings.from_env({"DB_HOST": "proxy.example", "STAGE": "prod", "DB_IAM_AUTH": "true"})
    assert s.db_iam_auth and s.db_port == 5432 and s.db_pool_size == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("STAGE", "moon"), ("DB_POOL_RECYCLE_S", "1800"), ("DB_PORT", "x"), ("DB_POOL_SIZE", "0")],
)
def test_rejects_bad_values(name: str, value: str) -> None:
    with pytest.raises(ValidationError):
        Settings.from_env({"DATABASE_URL": "postgresql+pg8000://u@h/app", name: value})
