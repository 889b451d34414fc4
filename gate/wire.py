"""Constants of the engine's wire format for property values (the SDK's `pulumi.runtime.rpc`)."""

from pulumi.runtime import rpc

UNKNOWN = rpc.UNKNOWN  # the engine's sentinel for "not known during preview"
SIG_KEY = "4dabf18193072939515e22adb298388d"  # the key marking a special value (secret, output, resource...)
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a wire signature, not a credential
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
