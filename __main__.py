"""Wiring only: settings -> components -> exports. Everything else lives in components/."""

import pulumi
import pulumi_aws as aws

from components.platform import PlatformArgs, SecureApiPlatform
from components.settings import load_settings, pulumi_config_reader

settings = load_settings(pulumi_config_reader(), pulumi.get_stack())

# One explicit provider: its default tags land on every taggable resource, and its region is the validated one.
provider = aws.Provider("aws", region=settings.region, default_tags={"tags": settings.tags})

platform = SecureApiPlatform(
    "platform",
    # None until `pulumi config set --secret oauthClientSecret ...`: the secret is then created without a value.
    PlatformArgs(settings, oauth_client_secret=pulumi.Config().get_secret("oauthClientSecret")),
    opts=pulumi.ResourceOptions(providers={"aws": provider}),
)

for key, value in platform.outputs.items():
    pulumi.export(key, value)
