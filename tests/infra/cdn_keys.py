"""Test-only CloudFront public keys (tests/infra/fixtures/cdn-test-public-{a,b}.pem).

Staging and prod refuse to synthesize with the placeholder signing key (infra_cdk/constructs/cdn.py),
so the tests give them one of these, as an operator gives cdk.json a real key. Each is the public
half of an RSA 2048 key pair generated for the tests, whose private half was discarded at once:
nothing can be signed with them. The committed cdk.json keeps no key, so a real staging or prod
synth still fails until an operator sets one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEST_PUBLIC_KEY_PEM = (FIXTURES / "cdn-test-public-a.pem").read_text(encoding="utf-8")
SECOND_TEST_PUBLIC_KEY_PEM = (FIXTURES / "cdn-test-public-b.pem").read_text(encoding="utf-8")


def synth_settings(stage: str) -> dict[str, Any]:
    """Stage settings for an in-process synth of `stage`: the test key where the placeholder is refused."""
    from infra_cdk.constructs.cdn import PLACEHOLDER_KEY_STAGES

    return {} if stage in PLACEHOLDER_KEY_STAGES else {"cdnPublicKeyPem": TEST_PUBLIC_KEY_PEM}
