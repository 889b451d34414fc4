"""functions/package.py: deterministic archives, caching, exclusions, pip failures - offline.

pip really runs (same command line as for Lambda, platform flags included) but resolves from a
local wheel directory with --no-index, so the tests need no network.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
import trustme

from functions import package
from functions.package import PackagingError, archive_path, build, collect_source, write_zip


def make_wheel(directory: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A minimal valid py3-none-any wheel, so pip can install it without any index."""
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record_lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(data)}")
    record_lines.append(f"{name}-{version}.dist-info/RECORD,,")
    files[f"{name}-{version}.dist-info/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def make_source_tree(root: Path, requirements: str = "tinydep==1.0\n") -> Path:
    """A repository-shaped tree with one function, its tests and some bytecode debris."""
    function = root / "functions" / "authorizer"
    for directory in (function / "tests", function / "__pycache__", function / "sub" / "__pycache__"):
        directory.mkdir(parents=True)
    (root / "functions" / "__init__.py").write_text('"""functions"""\n')
    (function / "__init__.py").write_text("")
    (function / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (function / "sub" / "helper.py").write_text("X = 1\n")
    (function / "requirements.txt").write_text(requirements)
    (function / "tests" / "test_app.py").write_text("def test(): pass\n")
    (function / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (function / "sub" / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (function / "stray.pyc").write_bytes(b"\x00bytecode")
    (function / ".env").write_text("SECRET=1\n")
    return root


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    directory = tmp_path / "wheels"
    make_wheel(directory)
    return directory


def offline(wheelhouse: Path) -> list[str]:
    return ["--no-index", f"--find-links={wheelhouse}"]


def names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


def test_build_is_byte_identical_across_runs_and_layout(tmp_path: Path, wheelhouse: Path) -> None:
    source = make_source_tree(tmp_path / "repo")
    first = build("authorizer", source_root=source, out_dir=tmp_path / "out1", pip_options=offline(wheelhouse))
    # Same inputs, other output dir, other pip scratch dir, and every source file touched.
    for path in (source / "functions").rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    second = build("authorizer", source_root=source, out_dir=tmp_path / "out2", pip_options=offline(wheelhouse))
    assert not first.cached and not second.cached
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    assert first.size == first.path.stat().st_size


def test_archive_layout_exclusions_dates_and_modes(tmp_path: Path, wheelhouse: Path) -> None:
    source = make_source_tree(tmp_path / "repo")
    result = build("authorizer", source_root=source, out_dir=tmp_path / "out", pip_options=offline(wheelhouse))
    entries = names(result.path)
    assert entries == sorted(entries)
    # The dependency at the root, the package path kept so `functions.authorizer.app.handler` imports.
    assert "tinydep/__init__.py" in entries
    assert {"functions/__init__.py", "functions/authorizer/__init__.py", "functions/authorizer/app.py"} <= set(entries)
    assert "functions/authorizer/sub/helper.py" in entries
    assert not [e for e in entries if "/tests/" in e or "__pycache__" in e or e.endswith(".pyc") or "/.env" in e]
    with zipfile.ZipFile(result.path) as archive:
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert stat.S_IMODE(info.external_attr >> 16) == 0o644
            assert stat.S_ISREG(info.external_attr >> 16)
        assert archive.read("functions/authorizer/app.py").startswith(b"def handler")
        assert archive.testzip() is None


def test_unchanged_inputs_reuse_the_archive_without_running_pip(tmp_path: Path, wheelhouse: Path) -> None:
    source = make_source_tree(tmp_path / "repo")
    out = tmp_path / "out"
    first = build("authorizer", source_root=source, out_dir=out, pip_options=offline(wheelhouse))
    # Without the wheel pip would fail, so a successful second build proves pip did not run.
    for wheel in wheelhouse.iterdir():
        wheel.unlink()
    again = build("authorizer", source_root=source, out_dir=out, pip_options=offline(wheelhouse))
    assert again.cached and again.sha256 == first.sha256
    # A source change invalidates the cache (and now pip must run, and fails without its wheel).
    (source / "functions" / "authorizer" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    with pytest.raises(PackagingError, match="pip install"):
        build("authorizer", source_root=source, out_dir=out, pip_options=offline(wheelhouse))


def test_changed_source_or_requirements_or_damaged_zip_rebuilds(tmp_path: Path, wheelhouse: Path) -> None:
    source = make_source_tree(tmp_path / "repo")
    out = tmp_path / "out"
    options = offline(wheelhouse)
    first = build("authorizer", source_root=source, out_dir=out, pip_options=options)
    (source / "functions" / "authorizer" / "new.py").write_text("Y = 2\n")
    second = build("authorizer", source_root=source, out_dir=out, pip_options=options)
    assert not second.cached and second.sha256 != first.sha256
    assert "functions/authorizer/new.py" in names(second.path)
    # A new pin is a new input, and the archive then carries the other version.
    make_wheel(wheelhouse, version="2.0")
    (source / "functions" / "authorizer" / "requirements.txt").write_text("tinydep==2.0\n")
    repinned = build("authorizer", source_root=source, out_dir=out, pip_options=options)
    assert not repinned.cached
    assert "tinydep-2.0.dist-info/METADATA" in names(repinned.path)
    assert "tinydep-1.0.dist-info/METADATA" not in names(repinned.path)
    # A file under an excluded directory is not an input: no rebuild.
    (source / "functions" / "authorizer" / "tests" / "test_more.py").write_text("")
    assert build("authorizer", source_root=source, out_dir=out, pip_options=options).cached
    # A damaged archive is never reused.
    repinned.path.write_bytes(b"truncated")
    third = build("authorizer", source_root=source, out_dir=out, pip_options=options)
    assert not third.cached and third.sha256 == repinned.sha256


def test_cli_reports_pip_failure_with_exit_code_and_reason(
    tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_source_tree(tmp_path / "repo", requirements="no-such-package-anywhere==9.9\n")
    argv = ["--out", str(tmp_path / "out"), "--function", "authorizer", "--no-index", "--find-links", str(wheelhouse)]
    assert package.main([*argv, "--source-root", str(source)]) == 1
    err = capsys.readouterr().err
    assert "error: authorizer: pip install -r" in err
    assert "no-such-package-anywhere" in err
    assert not (tmp_path / "out" / "authorizer.zip").exists()


def test_cli_builds_then_reports_cached(tmp_path: Path, wheelhouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = make_source_tree(tmp_path / "repo")
    argv = ["--out", str(tmp_path / "out"), "--function", "authorizer", "--no-index", "--find-links", str(wheelhouse)]
    argv += ["--source-root", str(source)]
    assert package.main(argv) == 0
    first = capsys.readouterr().out
    assert "built" in first and "--platform manylinux2014_x86_64" in first and "sha256 " in first
    assert package.main(argv) == 0
    assert "up to date (inputs unchanged)" in capsys.readouterr().out


def test_missing_function_source_is_a_clear_error(tmp_path: Path) -> None:
    source = make_source_tree(tmp_path / "repo")
    with pytest.raises(PackagingError, match="no source for function 'worker'"):
        collect_source(source, "worker")


def test_write_zip_is_deterministic_regardless_of_input_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("alpha")
    b.write_text("beta")
    write_zip({"z/b.txt": b, "a.txt": a}, tmp_path / "one.zip")
    os.utime(a, (0, 0))
    write_zip({"a.txt": a, "z/b.txt": b}, tmp_path / "two.zip")
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    assert names(tmp_path / "one.zip") == ["a.txt", "z/b.txt"]


def test_archive_path_needs_no_build() -> None:
    assert archive_path("api") == package.REPO_ROOT / "build" / "functions" / "api.zip"
    assert archive_path("reconcile") == archive_path("api")
    assert archive_path("worker", Path("/x")) == Path("/x/worker.zip")
    with pytest.raises(ValueError, match="unknown function 'billing'"):
        archive_path("billing")


def test_pip_command_targets_the_lambda_runtime(tmp_path: Path) -> None:
    command = package.pip_command(tmp_path / "r.txt", tmp_path / "t", ["--no-index"], "python3")
    joined = " ".join(command)
    for flag in (
        "--platform manylinux2014_x86_64",
        "--implementation cp",
        "--python-version 3.12",
        "--only-binary=:all:",
    ):
        assert flag in joined
    assert command[command.index("--target") + 1] == str(tmp_path / "t")
    assert "--no-compile" in command


# ---- the RDS CA bundle in the api archive ---------------------------------------------------------------------------
BUNDLE_PATH = "functions/api/rds-ca-bundle/global-bundle.pem"
BUNDLE_URL_PATH = "/global/global-bundle.pem"


def make_api_tree(root: Path) -> Path:
    make_source_tree(root)
    api = root / "functions" / "api"
    (api / "rds-ca-bundle").mkdir(parents=True)
    (api / "__init__.py").write_text("")
    (api / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (api / "requirements.txt").write_text("tinydep==1.0\n")
    (api / "rds-ca-bundle" / "README.md").write_text("the bundle is added at build time\n")
    return root


def ca_pem(*cas: trustme.CA) -> bytes:
    """A bundle of CA certificates, like the RDS global bundle (several roots in one file)."""
    return b"".join(ca.cert_pem.bytes() for ca in cas)


@pytest.fixture(scope="module")
def bundle_pem() -> bytes:
    return ca_pem(trustme.CA(), trustme.CA())


@pytest.fixture
def bundle_file(tmp_path: Path, bundle_pem: bytes) -> Path:
    path = tmp_path / "global-bundle.pem"
    path.write_bytes(bundle_pem)
    return path


def test_bundle_constants_are_the_ones_the_function_uses() -> None:
    from functions.api.config import RDS_CA_BUNDLE_PACKAGE_PATH, RDS_CA_BUNDLE_URL

    assert package.CA_BUNDLE_ARCHIVES == {"api": RDS_CA_BUNDLE_PACKAGE_PATH}
    assert BUNDLE_PATH == RDS_CA_BUNDLE_PACKAGE_PATH
    assert RDS_CA_BUNDLE_URL.startswith("https://")


def test_given_bundle_is_in_the_api_archive_at_the_package_path(
    tmp_path: Path, wheelhouse: Path, bundle_file: Path, bundle_pem: bytes
) -> None:
    source = make_api_tree(tmp_path / "repo")
    # A stale or planted file at that path in the tree never reaches the archive: only the validated bundle does.
    (source / BUNDLE_PATH).write_text("stale\n")
    result = build("api", source_root=source, out_dir=tmp_path / "out", pip_options=offline(wheelhouse),
                   rds_ca_bundle=bundle_file)
    with zipfile.ZipFile(result.path) as archive:
        assert archive.read(BUNDLE_PATH) == bundle_pem
        info = archive.getinfo(BUNDLE_PATH)
        assert info.date_time == (1980, 1, 1, 0, 0, 0) and stat.S_IMODE(info.external_attr >> 16) == 0o644
        assert "functions/api/app.py" in archive.namelist()
    # What db.build_ssl_context loads at run time: the bundle is a usable trust store.
    ssl.create_default_context(cadata=bundle_pem.decode())


def test_other_archives_get_no_bundle_and_need_none(tmp_path: Path, wheelhouse: Path) -> None:
    source = make_api_tree(tmp_path / "repo")
    result = build("authorizer", source_root=source, out_dir=tmp_path / "out", pip_options=offline(wheelhouse))
    assert not [n for n in names(result.path) if n.endswith(".pem")]


def test_api_archive_is_deterministic_and_cached_on_the_bundle_hash(
    tmp_path: Path, wheelhouse: Path, bundle_file: Path
) -> None:
    source = make_api_tree(tmp_path / "repo")
    options = offline(wheelhouse)
    first = build("api", source_root=source, out_dir=tmp_path / "a", pip_options=options, rds_ca_bundle=bundle_file)
    other_dir = build("api", source_root=source, out_dir=tmp_path / "b", pip_options=options, rds_ca_bundle=bundle_file)
    assert first.path.read_bytes() == other_dir.path.read_bytes()
    again = build("api", source_root=source, out_dir=tmp_path / "a", pip_options=options, rds_ca_bundle=bundle_file)
    assert again.cached
    # A new bundle (AWS added a CA) is a new input: rebuilt, and the archive carries it.
    rotated = tmp_path / "rotated.pem"
    rotated.write_bytes(ca_pem(trustme.CA()))
    changed = build("api", source_root=source, out_dir=tmp_path / "a", pip_options=options, rds_ca_bundle=rotated)
    assert not changed.cached and changed.sha256 != first.sha256
    with zipfile.ZipFile(changed.path) as archive:
        assert archive.read(BUNDLE_PATH) == rotated.read_bytes()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<html>Access denied</html>", "holds no PEM certificates"),
        (b"", "holds no PEM certificates"),
        (b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n", "holds no PEM certificates"),
        ("leaf", "not a CA"),
    ],
)
def test_a_bundle_that_is_not_pem_ca_certificates_is_refused(
    tmp_path: Path, wheelhouse: Path, content: bytes | str, expected: str
) -> None:
    if content == "leaf":
        ca = trustme.CA()
        content = ca.cert_pem.bytes() + ca.issue_cert("db.example.internal").cert_chain_pems[0].bytes()
    assert isinstance(content, bytes)
    bad = tmp_path / "bad.pem"
    bad.write_bytes(content)
    source = make_api_tree(tmp_path / "repo")
    with pytest.raises(PackagingError, match=expected) as caught:
        build("api", source_root=source, out_dir=tmp_path / "out", pip_options=offline(wheelhouse), rds_ca_bundle=bad)
    assert "--rds-ca-bundle" in str(caught.value)
    assert not (tmp_path / "out" / "api.zip").exists()


def test_cli_takes_the_bundle_option_and_reports_a_bad_one(
    tmp_path: Path, wheelhouse: Path, bundle_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_api_tree(tmp_path / "repo")
    argv = ["--out", str(tmp_path / "out"), "--function", "api", "--no-index", "--find-links", str(wheelhouse),
            "--source-root", str(source)]
    assert package.main([*argv, "--rds-ca-bundle", str(bundle_file)]) == 0
    assert BUNDLE_PATH in names(tmp_path / "out" / "api.zip")
    capsys.readouterr()
    assert package.main([*argv, "--rds-ca-bundle", str(tmp_path / "missing.pem")]) == 1
    err = capsys.readouterr().err
    assert "error: api: --rds-ca-bundle" in err and "missing.pem" in err


# ---- downloading it (from a local HTTPS server with a test CA; never the real URL) ----------------------------------
def test_downloaded_bundle_is_in_the_archive(
    tmp_path: Path, wheelhouse: Path, https_server: Any, ca_bundle: str, bundle_pem: bytes
) -> None:
    https_server.default(BUNDLE_URL_PATH, https_server.reply(200, bundle_pem))
    source = make_api_tree(tmp_path / "repo")
    result = build("api", source_root=source, out_dir=tmp_path / "out", pip_options=offline(wheelhouse),
                   rds_ca_bundle_url=https_server.url(BUNDLE_URL_PATH), download_cafile=ca_bundle)
    with zipfile.ZipFile(result.path) as archive:
        assert archive.read(BUNDLE_PATH) == bundle_pem
    assert [r.method for r in https_server.requests_to(BUNDLE_URL_PATH)] == ["GET"]


def test_download_refuses_a_server_the_trust_store_does_not_vouch_for(
    tmp_path: Path, https_server: Any, bundle_pem: bytes
) -> None:
    https_server.default(BUNDLE_URL_PATH, https_server.reply(200, bundle_pem))
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    with pytest.raises(PackagingError, match="CERTIFICATE_VERIFY_FAILED"):
        package.download_ca_bundle(https_server.url(BUNDLE_URL_PATH), cafile=str(stranger))


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"status": 404, "body": "not found"}, "HTTP 404"),
        ({"status": 200, "body": "<html>maintenance</html>"}, "holds no PEM certificates"),
        ({"status": 200, "body": b"x" * (package.CA_BUNDLE_MAX_BYTES + 1)}, "larger than"),
        ({"status": 302, "headers": {"Location": "http://127.0.0.1:9/bundle.pem"}}, "non-https"),
    ],
)
def test_a_failed_download_fails_the_build_and_says_how_to_build_offline(
    https_server: Any, ca_bundle: str, reply: dict[str, Any], expected: str
) -> None:
    https_server.default(BUNDLE_URL_PATH, https_server.reply(**reply))
    with pytest.raises(PackagingError, match=expected) as caught:
        package.obtain_ca_bundle(None, https_server.url(BUNDLE_URL_PATH), cafile=ca_bundle)
    if expected != "holds no PEM certificates":
        assert "pass it with --rds-ca-bundle FILE" in str(caught.value)


def test_download_is_bounded_in_time(https_server: Any, ca_bundle: str, bundle_pem: bytes) -> None:
    https_server.default(BUNDLE_URL_PATH, https_server.reply(200, bundle_pem, delay=1.0))
    with pytest.raises(PackagingError, match="timed out"):
        package.download_ca_bundle(https_server.url(BUNDLE_URL_PATH), cafile=ca_bundle, timeout=0.2)


def test_download_url_must_be_https() -> None:
    with pytest.raises(PackagingError, match="must be https"):
        package.download_ca_bundle("http://127.0.0.1:9/global-bundle.pem")
