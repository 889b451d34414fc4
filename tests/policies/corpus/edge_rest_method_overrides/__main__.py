"""PR: the inventory API (component, routes from a table) with per-method settings overriding the stage's."""

import pulumi
import pulumi_aws as aws
from inventory.api import InventoryApi, InventoryApiArgs, Route  # type: ignore[import-not-found]

config = pulumi.Config()
routes = [Route("GET", "items"), Route("POST", "items"), Route("GET", "health")]
api = InventoryApi("inventory", InventoryApiArgs(
    routes=routes,
    function_arn=config.require("functionArn"),
    authorizer_arn=config.require("authorizerFunctionArn"),
    web_acl_arn=config.require("webAclArn"),
    log_group_arn=config.require("logGroupArn"),
    region=aws.get_region().region,
))
pulumi.export("stage_arn", api.stage.arn)
