"""CloudFront in front of the assets bucket's variants/ prefix: Origin Access Control, signed
URLs only (a key group), HTTPS only, access logs, cached at the edge.

The bucket policy admits the distribution (by its ARN) to `variants/*` and nothing else, so
originals and post images are never reachable through CloudFront. Every request needs a
URL signed with the private key of one of the key group's public keys (docs/operations.md);
core.cdn signs them where the stage stores that private key in Secrets Manager
(`cdnPrivateKeySecretArn`, see `signing`), else the functions answer with presigned S3 GETs.
The cache key is the path plus `versionId` (image variant URLs are pinned to a version, which
is forwarded to S3): the signing parameters (Expires, Policy, Signature, Key-Pair-Id,
Hash-Algorithm) are neither in it nor forwarded, so every signed URL of an object shares one
cached copy. Variants are written with `Cache-Control: public, max-age=31536000, immutable`.

Each public key is its own resource whose construct id is derived from a hash of its PEM:
CloudFront cannot change a public key's value in place (UpdatePublicKey changes only the
comment), so a new key must be a new resource, which the key group then switches to. During a
rotation the group holds the new key and the previous one (`cdnPreviousPublicKeyPem`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aws_cdk import Annotations, CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from core.keys import VARIANTS_PREFIX, objects_under
from infra_cdk.config import StageConfig, normalize_public_key_pem
from infra_cdk.nag import acknowledge

# The one query parameter CloudFront forwards and keys its cache on: image variant URLs pin a version.
FORWARDED_QUERY = ("versionId",)
# HLS segments (MediaConvert sets no Cache-Control) stay a day by default; variants say a year.
DEFAULT_TTL = Duration.days(1)
MAX_TTL = Duration.days(365)
CDN_LOG_RETENTION_DAYS = 90
# The stages that may synthesize with the placeholder key (with a warning); the others fail.
PLACEHOLDER_KEY_STAGES = frozenset({"dev"})
# The public half of a key pair whose private half was discarded when it was generated: until
# an operator sets stages.<stage>.cdnPublicKeyPem in cdk.json (docs/operations.md), no URL can
# be signed and the distribution serves nothing. A placeholder, to be replaced; only dev may
# deploy it (PLACEHOLDER_KEY_STAGES).
PLACEHOLDER_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyC7n/J6aqEVZlGG3C9A1
ZwSjxAtCldE6pMruKZKuTeI1KFQ+aqAUSgp7edlaOut7agFzb1uPswQUTvOJHNMZ
HIBcyJ+moOKtGp4ikYZSBIslhLiwFYcCtFY/9bqWKYRbLWVkJFt0tSDNYX7nmBxQ
5uYQJxLCh76wUbfzOsnJ7BWFu6DK4kP3NwBstYCg9VyCkvDu0TldNGTPGtxyovR+
wSDyDPiqhDT3rwlxFk+71nn40J+iqsHhF4jRLHckqJ7tgW/FO6NDob36cOzgoQIb
BNvaJ1FIcoD1uhnd/OaB6CyaENQUkF/fEzS2FhdUHjZfni0pTfY6OX5N9wVbgw37
OwIDAQAB
-----END PUBLIC KEY-----
"""


class Cdn(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        removal = RemovalPolicy.RETAIN if config.protect_data else RemovalPolicy.DESTROY

        # CloudFront standard logs are written with ACLs: this bucket alone enables them (owner preferred).
        self.logs = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=[s3.LifecycleRule(id="ExpireCdnLogs", expiration=Duration.days(CDN_LOG_RETENTION_DAYS))],
            removal_policy=removal,
            auto_delete_objects=not config.protect_data,
        )
        acknowledge(
            self.logs,
            "AwsSolutions-S1",
            "This bucket receives the distribution's standard logs; logging it too would only log the log deliveries.",
        )

        # Nothing of a key's properties depends on its role (current or previous), so moving a key
        # from one role to the other during a rotation leaves its resource untouched.
        keys = signing_keys(config)
        self.public_keys = [
            cloudfront.PublicKey(
                self,
                signing_key_id(pem),
                encoded_key=pem,
                comment=f"{config.prefix}: verifies signed URLs of private media",
            )
            for _, pem in keys
        ]
        if keys[0][1] == PLACEHOLDER_PUBLIC_KEY:
            Annotations.of(self).add_warning_v2(
                "social:cdn-placeholder-key",
                f"stages.{config.stage}.cdnPublicKeyPem is unset: the key group holds the placeholder public key, "
                "so no CloudFront URL can be signed (docs/operations.md 'CloudFront signing key').",
            )
        self.key_group = cloudfront.KeyGroup(self, "KeyGroup", items=self.public_keys)

        # The origin on a reference to the bucket, so that CDK does not grant the distribution
        # the whole bucket; the one statement below admits it to variants/* (core.keys) only.
        reference = s3.Bucket.from_bucket_attributes(
            self, "Bucket", bucket_name=bucket.bucket_name, bucket_arn=bucket.bucket_arn
        )
        origin = origins.S3BucketOrigin.with_origin_access_control(reference)
        self.cache_policy = cloudfront.CachePolicy(
            self,
            "VariantsCache",
            comment=f"{config.prefix}: variants by path and versionId; signatures are not in the key",
            default_ttl=DEFAULT_TTL,
            min_ttl=Duration.seconds(0),
            max_ttl=MAX_TTL,
            query_string_behavior=cloudfront.CacheQueryStringBehavior.allow_list(*FORWARDED_QUERY),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        # Players fetch HLS segments with XHR/fetch from the app's origins: CORS answered at the edge.
        self.response_headers = cloudfront.ResponseHeadersPolicy(
            self,
            "VariantsCors",
            comment=f"{config.prefix}: CORS for the stage's browser origins (HLS players)",
            cors_behavior=cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_credentials=False,
                access_control_allow_headers=["Range"],
                access_control_allow_methods=["GET", "HEAD"],
                access_control_allow_origins=list(config.cors_allowed_origins),
                access_control_max_age=Duration.seconds(600),
                origin_override=True,
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.prefix}: media variants (signed URLs)",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=self.cache_policy,
                response_headers_policy=self.response_headers,
                trusted_key_groups=[self.key_group],
                compress=True,
            ),
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=self.logs,
            log_file_prefix="cdn/",
        )
        distribution_arn = stack.format_arn(
            service="cloudfront",
            region="",
            resource="distribution",
            resource_name=self.distribution.distribution_id,
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudFrontReadsVariants",
                principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                # GetObjectVersion: a `versionId` in the URL (forwarded by the cache policy).
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects(objects_under(VARIANTS_PREFIX))],
                conditions={"StringEquals": {"AWS:SourceArn": distribution_arn}},
            )
        )
        Annotations.of(self.distribution).acknowledge_warning(
            "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
            f"The bucket policy statement is added by this construct, scoped to {objects_under(VARIANTS_PREFIX)}.",
        )
        for rule, reason in {
            "AwsSolutions-CFR1": "Media is served only on signed URLs the API issues to authorized users; "
            "there is no country restriction in the product requirements.",
            "AwsSolutions-CFR2": "Every request must carry a valid CloudFront signature (key group); a web ACL for "
            "CloudFront lives in us-east-1 and adds cost without filtering anything the signature does not.",
            "AwsSolutions-CFR4": "The distribution uses the default *.cloudfront.net certificate, whose minimum "
            "protocol CloudFront fixes; a custom domain with an ACM certificate would allow TLSv1.2_2021.",
        }.items():
            acknowledge(self.distribution, rule, reason)
        CfnOutput(stack, "CdnDomainName", value=self.distribution.distribution_domain_name)
        # A signed URL names its key by this id (Key-Pair-Id): current key first, then the previous one.
        CfnOutput(
            stack,
            "CdnPublicKeyIds",
            value=Fn.join(",", [key.public_key_id for key in self.public_keys]),
            description="CloudFront public key ids of the key group: the current key, then the previous one (if any)",
        )
        self.signing = (
            CdnSigning(
                domain=self.distribution.distribution_domain_name,
                # every key of the group, so whichever private key the secret holds during a rotation signs
                key_pair_ids=Fn.join(
                    ",",
                    [
                        Fn.join(":", [key.public_key_id, public_key_fingerprint(pem)])
                        for key, (_, pem) in zip(self.public_keys, keys, strict=True)
                    ],
                ),
                private_key_secret_arn=config.cdn_private_key_secret_arn,
            )
            if config.cdn_private_key_secret_arn
            else None
        )
        if self.signing is None and config.stage not in PLACEHOLDER_KEY_STAGES:
            Annotations.of(self).add_warning_v2(
                "social:cdn-unsigned",
                f"stages.{config.stage}.cdnPrivateKeySecretArn is unset: the functions cannot sign CloudFront URLs "
                "and answer with presigned S3 URLs (docs/operations.md 'CloudFront signing key').",
            )


@dataclass(frozen=True)
class CdnSigning:
    """What the functions that hand out variant URLs need to sign them for this distribution."""

    domain: str
    key_pair_ids: str  # CDN_KEY_PAIR_IDS: "<public key id>:<sha256 of its DER>,..." (core.cdn)
    private_key_secret_arn: str

    def environment(self) -> dict[str, str]:
        return {
            "CDN_DOMAIN": self.domain,
            "CDN_KEY_PAIR_IDS": self.key_pair_ids,
            "CDN_PRIVATE_KEY_SECRET_ARN": self.private_key_secret_arn,
        }


def public_key_fingerprint(pem: str) -> str:
    """As core.cdn.fingerprint: SHA-256 hex of the key's DER."""
    import base64

    body = "".join(line for line in normalize_public_key_pem(pem).splitlines() if "-----" not in line)
    return hashlib.sha256(base64.b64decode(body)).hexdigest()


def signing_key_id(pem: str) -> str:
    """The construct id of a public key: a new key is a new resource (CloudFront cannot change a
    key's value in place), an unchanged key keeps its resource whatever its role."""
    return "SigningKey" + hashlib.sha256(normalize_public_key_pem(pem).encode()).hexdigest()[:16]


def signing_keys(config: StageConfig) -> list[tuple[str, str]]:
    """(role, normalized PEM) of the key group's keys: the current key, then the previous one
    during a rotation. Staging and prod refuse the placeholder; dev falls back to it."""
    current = normalize_public_key_pem(config.cdn_public_key_pem or PLACEHOLDER_PUBLIC_KEY)
    if current == normalize_public_key_pem(PLACEHOLDER_PUBLIC_KEY) and config.stage not in PLACEHOLDER_KEY_STAGES:
        raise ValueError(
            f"stages.{config.stage}.cdnPublicKeyPem: {config.stage} would deploy CloudFront with the placeholder "
            "public key, whose private half was discarded (no URL could ever be signed). Generate a key pair "
            "and set the public key in cdk.json, see docs/operations.md 'CloudFront signing key'."
        )
    keys = [("current", current)]
    if config.cdn_previous_public_key_pem:
        keys.append(("previous", normalize_public_key_pem(config.cdn_previous_public_key_pem)))
    return keys
