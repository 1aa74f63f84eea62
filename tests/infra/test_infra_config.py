"""Stage settings and packaging, without synthesizing the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra_cdk import packaging
from infra_cdk.config import stage_config, validate_stage

pytestmark = pytest.mark.infra


def test_stage_must_be_known() -> None:
    assert validate_stage("staging") == "staging"
    for bad in ("", "Dev", "test", None):
        with pytest.raises(ValueError, match="stage must be one of"):
            validate_stage(bad)


def test_context_overrides_are_checked() -> None:
    config = stage_config("dev", {"maxAcu": 2, "corsAllowedOrigins": ["https://a.example", "http://localhost:5173"]})
    assert config.max_acu == 2
    assert config.cors_allowed_origins == ("https://a.example", "http://localhost:5173")
    with pytest.raises(ValueError, match="unknown key 'maxAcus'"):
        stage_config("dev", {"maxAcus": 2})
    with pytest.raises(ValueError, match="corsAllowedOrigins"):
        stage_config("dev", {"corsAllowedOrigins": ["http://evil.example"]})
    with pytest.raises(ValueError, match="minAcu"):
        stage_config("dev", {"minAcu": 8, "maxAcu": 4})
    assert stage_config("prod").protect_data is True


def _foreign_bytecode(root: Path) -> list[Path]:
    """Bytecode an asset may ship is the runtime interpreter's only (none without one)."""
    compiler = packaging.runtime_interpreter()
    return [p for p in root.rglob("*.pyc") if compiler is None or not p.name.endswith(f".{compiler.cache_tag}.pyc")]


def test_deps_layer_is_arm64_cp312_without_the_runtime_sdk() -> None:
    site = packaging.deps_layer() / "python"
    assert (site / "pydantic_core").is_dir()
    assert list((site / "pydantic_core").glob("*cpython-312-aarch64-linux-gnu.so"))
    for provided in ("boto3", "botocore", "s3transfer", "bin"):
        assert not (site / provided).exists()
    assert not _foreign_bytecode(site)
    assert packaging.deps_layer() == packaging.deps_layer()  # cached: same build reused


def test_core_layer_and_function_assets_hold_only_their_package() -> None:
    core = packaging.core_layer()
    assert (core / "python" / "core" / "routes.py").is_file()
    code = packaging.function_code("ops")
    assert sorted(p.name for p in code.iterdir()) == ["ops"]
    assert (code / "ops" / "handler.py").is_file()
    assert not _foreign_bytecode(code)


def test_a_missing_function_package_fails_clearly() -> None:
    with pytest.raises(packaging.PackagingError, match="functions/nope/"):
        packaging.function_code("nope")


def test_tree_hash_follows_content(tmp_path: Path) -> None:
    root = tmp_path
    (root / "a.py").write_text("x = 1\n")
    first = packaging.tree_hash(root)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    assert packaging.tree_hash(root) == first
    (root / "a.py").write_text("x = 2\n")
    assert packaging.tree_hash(root) != first


def test_an_auth_route_is_never_published_without_the_authorizer() -> None:
    from infra_synth import api_stack_for

    from core.routes import FunctionSpec, Route

    with pytest.raises(ValueError, match="refusing to publish it unauthenticated"):
        api_stack_for((FunctionSpec("ops", "api", "health"),), (Route("GET", "/api/v1/secret", "ops", auth=True),))
