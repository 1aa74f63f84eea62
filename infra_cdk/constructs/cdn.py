"""CloudFront in front of the assets bucket's variants/ prefix: Origin Access Control, signed
URLs only (a key group), HTTPS only, access logs.

The bucket policy admits the distribution (by its ARN) to `variants/*` and nothing else, so
originals and post images are never reachable through CloudFront. Every request needs a
URL signed with the private key of the key group's public key (docs/operations.md). The app
does not sign CloudFront URLs yet (core.storage.public_url builds plain URLs), so CDN_DOMAIN is
not given to the functions: they keep answering with short presigned S3 GETs.
"""

from __future__ import annotations

from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk.config import StageConfig
from infra_cdk.nag import acknowledge

VARIANTS_PREFIX = "variants/"
CDN_LOG_RETENTION_DAYS = 90
# The public half of a key pair whose private half was discarded when it was generated: until
# an operator sets stages.<stage>.cdnPublicKeyPem in cdk.json (docs/operations.md), no URL can
# be signed and the distribution serves nothing. A placeholder, to be replaced.
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

        public_key = cloudfront.PublicKey(
            self,
            "SigningKey",
            encoded_key=config.cdn_public_key_pem or PLACEHOLDER_PUBLIC_KEY,
            comment=f"{config.prefix}: verifies signed URLs of private media",
        )
        self.key_group = cloudfront.KeyGroup(self, "KeyGroup", items=[public_key])

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
