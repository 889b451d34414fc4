"""The stage's published documentation: API Gateway documentation parts and the snapshot the stage shows.

Built from the route table (components/openapi.py): every part is an ordinary resource with static properties,
so a preview shows the text and the policy pack sees it; nothing is created inside an ``apply``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.openapi import documentation_parts, documentation_version
from components.routes import Route


def publish_documentation(
    name: str,
    rest_api_id: pulumi.Input[str],
    routes: Sequence[Route],
    authorizer_name: str,
    opts: pulumi.ResourceOptions,
) -> aws.apigateway.DocumentationVersion:
    """One DocumentationPart per documented entity and a DocumentationVersion snapshot of them.

    ``opts`` must make the parts wait for the entities they describe (methods, models, authorizer). The
    version string changes with any part's text, so a changed text becomes a new snapshot for the stage.
    """
    specs = documentation_parts(routes, authorizer_name)
    parts = [
        aws.apigateway.DocumentationPart(
            f"{name}-doc-{spec.key}",
            rest_api_id=rest_api_id,
            location=aws.apigateway.DocumentationPartLocationArgs(**spec.location),
            properties=spec.properties_json,
            opts=opts,
        )
        for spec in specs
    ]
    version = documentation_version(specs)
    return aws.apigateway.DocumentationVersion(
        f"{name}-doc-version",
        rest_api_id=rest_api_id,
        version=version,
        description="Generated from components/routes.py (see openapi.json)",
        # A snapshot taken before every part exists would publish a partial text.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=parts)),
    )
