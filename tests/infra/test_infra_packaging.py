"""The RDS CA layer: fetched once per URL, and only an Amazon RDS CA bundle is accepted."""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest
from infra_synth import STANDIN_RDS_CA_URL

from infra_cdk import packaging

pytestmark = pytest.mark.infra


def test_the_bundle_lands_where_the_functions_look_for_it() -> None:
    layer = packaging.rds_ca_layer(STANDIN_RDS_CA_URL)
    bundle = layer / "rds-ca" / "global-bundle.pem"
    assert bundle.read_text(encoding="ascii").startswith("-----BEGIN CERTIFICATE-----")
    assert "/opt/" + bundle.relative_to(layer).as_posix() == packaging.RDS_CA_PATH_IN_LAMBDA
    assert packaging.rds_ca_layer(STANDIN_RDS_CA_URL) == layer  # cached per URL


def test_a_bundle_of_other_cas_is_refused() -> None:
    with pytest.raises(packaging.PackagingError, match="not an Amazon RDS CA"):
        packaging.rds_ca_layer(Path(certifi.where()).as_uri())


def test_something_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "bundle.pem"
    junk.write_text("<html>Access denied</html>", encoding="ascii")
    with pytest.raises(packaging.PackagingError, match="not a PEM certificate bundle"):
        packaging.rds_ca_layer(junk.as_uri())


def test_an_unreachable_bundle_says_how_to_vendor_it(tmp_path: Path) -> None:
    with pytest.raises(packaging.PackagingError, match="rdsCaBundleUrl to file:///"):
        packaging.rds_ca_layer((tmp_path / "missing.pem").as_uri())


def test_a_vendored_copy_replaced_in_place_is_read_again(tmp_path: Path) -> None:
    standin = Path(STANDIN_RDS_CA_URL.removeprefix("file://")).read_text(encoding="ascii")
    vendored = tmp_path / "global-bundle.pem"
    vendored.write_text(standin, encoding="ascii")
    first = packaging.rds_ca_layer(vendored.as_uri())
    vendored.write_text(standin + standin, encoding="ascii")  # a newer bundle, same path
    second = packaging.rds_ca_layer(vendored.as_uri())
    assert second != first
    assert (second / "rds-ca" / "global-bundle.pem").read_text(encoding="ascii").count("BEGIN CERTIFICATE") == 2
