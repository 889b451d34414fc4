import pytest

from components._naming import kms_alias, physical_name, trail_name, waf_log_group_name


def test_short_names_are_kept_readable() -> None:
    assert physical_name("sap-dev", "trail") == "sap-dev-trail"
    assert trail_name("sap-prod") == "sap-prod-trail"
    assert kms_alias("sap-dev", "data") == "alias/sap-dev-data"


def test_waf_log_group_has_the_prefix_aws_requires() -> None:
    assert waf_log_group_name("sap-dev").startswith("aws-waf-logs-")


def test_long_names_are_cut_with_a_stable_distinguishing_hash() -> None:
    a = physical_name("sap-" + "x" * 80, "alpha", 32)
    b = physical_name("sap-" + "x" * 80, "beta", 32)
    assert len(a) <= 32 and len(b) <= 32
    assert a != b
    assert a == physical_name("sap-" + "x" * 80, "alpha", 32)


def test_characters_aws_rejects_are_replaced() -> None:
    assert physical_name("sap dev", "a_b") == "sap-dev-a-b"


def test_too_small_limit_is_an_error() -> None:
    with pytest.raises(ValueError, match="max_len"):
        physical_name("a", "b", 8)
