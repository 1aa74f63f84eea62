"""README's settings table is the settings classes, written out (local.settings_doc)."""

from __future__ import annotations

import re

import local.settings_doc as doc
from core.config import setting, settings_classes


def test_the_readme_table_is_generated_from_the_classes() -> None:
    assert doc.main(["--check"]) == 0, "README.md is stale: run `python -m local.settings_doc`"


def test_the_check_fails_when_readme_and_classes_differ() -> None:
    readme = doc.README.read_text(encoding="utf-8")
    stale = readme.replace("| `BCRYPT_COST` | `12` |", "| `BCRYPT_COST` | `10` |")
    assert stale != readme and doc.updated(stale) == readme
    assert doc.updated(readme.replace("| `DB_NAME` |", "| `DB_NAMES` |")) == readme


def test_every_setting_is_in_the_table_once_and_nothing_else_is() -> None:
    readme = doc.README.read_text(encoding="utf-8")
    generated = readme[readme.index(doc.BEGIN) : readme.index(doc.END)]
    rest = readme.replace(generated, "")
    listed = re.findall(r"^\| `([A-Z0-9_]+)` \|", generated, flags=re.M)
    names = [spec.upper() for kind in doc.load_classes() for spec in kind.__dataclass_fields__]
    assert listed == names and len(set(names)) == len(names)
    # The hand-written table of the variables libraries and tools read names no setting.
    by_hand = re.findall(r"^\| `([A-Z0-9_<>]+)`", rest, flags=re.M)
    assert "AWS_ENDPOINT_URL" in by_hand and not set(by_hand) & set(names)


def test_a_field_shows_its_default_or_what_stands_for_it() -> None:
    import dataclasses

    assert doc._default(dataclasses.field(default=None)) == "(none)"
    assert doc._default(setting(6.0, doc="x")) == "`6`"
    assert doc._default(setting(("a", "b"), doc="x")) == "`a,b`"
    assert doc._default(setting(False, doc="x")) == "`false`"
    assert doc._default(setting(None, doc="x", shown="(generated)")) == "(generated)"


def test_every_class_is_found_from_the_sources() -> None:
    found = doc.load_classes()
    assert set(found) == set(settings_classes())
    assert {kind.__module__ for kind in found} >= {"core.config", "core.auth", "rooms.settings", "media.settings"}
