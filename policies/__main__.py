"""Entry point the Pulumi CLI runs: ``python -u -m pulumi.policy <engine> <pack-dir>`` (CWD = pack dir).

``pulumi.policy`` executes this file with ``runpy.run_path``, i.e. not as part of a package, so
the pack folder is registered as the ``policies`` package here; the policy modules then import
each other relatively, exactly as they do when tests import ``policies.<module>``.
"""

import importlib.util
import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack


def _load_package() -> None:
    if "policies" in sys.modules:
        return
    pack_dir = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(
        "policies", pack_dir / "__init__.py", submodule_search_locations=[str(pack_dir)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the policy package from {pack_dir}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["policies"] = module
    spec.loader.exec_module(module)
    # runpy put the pack folder first on sys.path; its module names (s3, iam, logs ...) must not
    # shadow other top-level modules, and the package no longer needs it.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != pack_dir]


_load_package()

from policies import _iam_data  # noqa: E402 - needs the package registered first
from policies._serve import install  # noqa: E402
from policies.registry import PACK_NAME, build_policies  # noqa: E402

# The IAM action database loads while the engine runs the program (the first IAM policy waits for it).
_iam_data.preload()
install()  # one property conversion per request, shared by all policies (see policies/_serve.py)

PolicyPack(
    name=PACK_NAME,
    policies=build_policies(),
    enforcement_level=EnforcementLevel.ADVISORY,
    description="Secure API platform guardrails: FSBP, CIS AWS v3 and cdk-nag controls plus platform guarantees.",
)
