"""EFS access points (file system encryption is in data-encrypted-with-cmk)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy
from ._model import Resource
from ._values import UNKNOWN, is_set


@resource_policy(
    name="efs-access-point-confined",
    description="EFS access points must confine clients to a directory and enforce a POSIX user identity.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("EFS.3", "EFS.4", "CKV_AWS_329", "CKV_AWS_330"),
    remediation="Set `root_directory.path` to the application's directory (not '/') with `creation_info`, and "
    "`posix_user` (uid, gid) so every request runs as that user.",
    resource_types=(T.EFS_ACCESS_POINT,),
)
def efs_access_point_confined(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    path = r.get("rootDirectory.path")
    if path is not UNKNOWN and (not isinstance(path, str) or path.rstrip("/") == ""):
        yield (f"The EFS access point {r.label} exposes the file system root "
               f"(rootDirectory.path {path or 'absent: /'}).")
    if not is_set(r.get("posixUser")):
        yield f"The EFS access point {r.label} does not enforce a user identity (posixUser absent)."
