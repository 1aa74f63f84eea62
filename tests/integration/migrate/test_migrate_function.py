from core.migrations import head
from migrate.handler import handler


def test_migrate_function_applies_head(db: str) -> None:
    assert handler({}, None) == {"revision": head()}
