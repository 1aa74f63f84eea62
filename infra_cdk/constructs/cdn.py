"""CloudFront in front of the assets bucket's variants/ prefix: Origin Access Control, signed
URLs only (a key group), HTTPS only, access logs.

The bucket policy admits the distribution (by its ARN) to `variants/*` and nothing else, so
originals and post images are never reachable through CloudFront. Every request needs a
URL signed with the private key of one of the key group's public keys (docs/operations.md). The
app does not sign CloudFront URLs yet (core.storage.public_url builds plain URLs), so CDN_DOMAIN
is not given to the functions: they keep answering with short presigned S3 GETs.

Each public key is its own resource whose construct id is derived from a hash of its PEM:
CloudFront cannot change a public key's value in place (UpdatePublicKey changes only the
comment), so a new key must be a new resource, which the key group then switches to. During a
rotation the group holds the new key and the previous one (`cdnPreviousPublicKeyPem`).
"""

from __future__ import annotations

import hashlib

from aws_cdk import Annotations, CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.config import StageConfig, normalize_public_key_pem
from infra_cdk.nag import acknowledge

VARIANTS_PREFIX = "variants/"
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
        # the whole bucket; the one statement below admits it to variants/* only.
        reference = s3.Bucket.from_bucket_attributes(
            self, "Bucket", bucket_name=bucket.bucket_name, bucket_arn=bucket.bucket_arn
        )
        origin = origins.S3BucketOrigin.with_origin_access_control(reference)
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{config.prefix}: media variants (signed URLs)",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
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
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{VARIANTS_PREFIX}*")],
                conditions={"StringEquals": {"AWS:SourceArn": distribution_arn}},
            )
        )
        Annotations.of(self.distribution).acknowledge_warning(
            "@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
            "The bucket policy statement is added by this construct, scoped to variants/*.",
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
