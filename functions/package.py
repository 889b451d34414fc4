"""Build the Lambda deployment archives, reproducibly.

    python -m functions.package [--out build/functions] [--function NAME ...] [--force]
                                [--no-index] [--find-links DIR] [--rds-ca-bundle FILE]

For each function (authorizer, api, worker; reconcile ships in the api archive) the zip holds
the function's pinned dependencies at its root, installed for the Lambda runtime (CPython 3.12,
manylinux2014 x86_64, wheels only), plus ``functions/__init__.py`` and ``functions/<name>/``
without tests or bytecode. Entries are sorted, dated 1980-01-01 and given mode 0644, so the same
inputs always give byte-identical archives (no spurious diff in ``pulumi preview``).

A build is skipped when a digest of its inputs (requirements, sources, pip options) matches the
one recorded next to the zip and the zip is intact; ``--force`` rebuilds anyway (e.g. after a
yanked release, which the digest cannot see).

The api archive also carries the RDS CA bundle (the trust anchor of its database connections) at
``functions.api.config.RDS_CA_BUNDLE_PACKAGE_PATH``: taken from ``--rds-ca-bundle FILE`` or else
downloaded from ``RDS_CA_BUNDLE_URL`` over verified HTTPS (bounded time and size). Either way it must
parse as PEM CA certificates, or the build fails; its hash is part of the build's inputs.

The Pulumi program only calls ``archive_path(name)``: it never builds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from functions.api.config import RDS_CA_BUNDLE_PACKAGE_PATH, RDS_CA_BUNDLE_URL

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "build" / "functions"
FUNCTIONS = ("authorizer", "api", "worker")
# Functions that ship inside another function's archive (same code, another handler).
SHARED_ARCHIVES = {"reconcile": "api"}

# The Lambda runtime the archives target (python3.12 on x86_64).
PIP_PLATFORM_ARGS = (
    "--platform", "manylinux2014_x86_64",
    "--implementation", "cp",
    "--python-version", "3.12",
    "--only-binary=:all:",
)  # fmt: skip
PIP_TIMEOUT_SECONDS = 900

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
ZIP_FILE_MODE = 0o644
# Bump when the archive layout changes, so older cached builds are not reused.
LAYOUT_VERSION = "1"
SOURCE_EXCLUDED_DIRS = frozenset({"__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


# Archives that ship a CA bundle, and where inside the archive it goes.
CA_BUNDLE_ARCHIVES = {"api": RDS_CA_BUNDLE_PACKAGE_PATH}
CA_BUNDLE_TIMEOUT_SECONDS = 30
# The RDS global bundle is ~170 kB; anything far larger is not it.
CA_BUNDLE_MAX_BYTES = 1 << 20


class PackagingError(Exception):
    """A build step failed; the message says which and why."""


def validate_ca_bundle(data: bytes, origin: str) -> bytes:
    """``data`` unchanged if it is a PEM bundle of CA certificates; PackagingError naming ``origin`` otherwise."""
    # Imported here: the Pulumi program imports this module for archive_path() and its requirements.txt does
    # not carry cryptography (the dev environment that builds archives does).
    from cryptography import x509  # noqa: PLC0415 - see above
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise PackagingError(f"RDS CA bundle from {origin} holds no PEM certificates ({exc})") from None
    for certificate in certificates:
        try:
            is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            # A server (leaf) certificate is not a trust anchor: trusting it would pin one host, not RDS's CAs.
            subject = certificate.subject.rfc4514_string()
            raise PackagingError(f"RDS CA bundle from {origin} contains a certificate that is not a CA: {subject}")
    return data


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to https URLs (urllib would follow one to plain http)."""

    def redirect_request(self, req: Any, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str) -> Any:
        if urllib.parse.urlsplit(newurl).scheme != "https":
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-https URL refused: {newurl}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download_ca_bundle(
    url: str = RDS_CA_BUNDLE_URL,
    *,
    cafile: str | None = None,
    timeout: float = CA_BUNDLE_TIMEOUT_SECONDS,
    max_bytes: int = CA_BUNDLE_MAX_BYTES,
) -> bytes:
    """GET ``url`` over https with certificate and host name verification (the system trust store, or only
    ``cafile`` when given - tests), within ``timeout`` seconds per socket operation and ``max_bytes``."""
    if urllib.parse.urlsplit(url).scheme != "https":
        raise PackagingError(f"RDS CA bundle URL must be https, got {url!r}")
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _HttpsOnlyRedirects())
    # S310: the scheme is checked above and redirects are held to https by _HttpsOnlyRedirects.
    request = urllib.request.Request(url, headers={"Accept": "*/*"})  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as response:
            if response.status != 200:
                raise PackagingError(f"downloading the RDS CA bundle from {url}: HTTP {response.status}")
            data = _read_capped(response, max_bytes, time.monotonic() + timeout, url)
    except urllib.error.HTTPError as exc:
        raise PackagingError(f"downloading the RDS CA bundle from {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:  # TLS verification, DNS, refused connections, timeouts
        reason = getattr(exc, "reason", None) or exc
        raise PackagingError(f"downloading the RDS CA bundle from {url} failed: {reason}") from None
    return data


def _read_capped(response: IO[bytes], max_bytes: int, deadline: float, url: str) -> bytes:
    """The body, refused once it exceeds ``max_bytes`` or takes past ``deadline`` in total (the socket timeout
    alone would let a server drip bytes forever)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = response.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise PackagingError(f"downloading the RDS CA bundle from {url}: larger than {max_bytes} bytes, refused")
        if time.monotonic() > deadline:
            raise PackagingError(f"downloading the RDS CA bundle from {url}: took too long, gave up")
        chunks.append(chunk)


def obtain_ca_bundle(bundle_file: Path | None, url: str = RDS_CA_BUNDLE_URL, cafile: str | None = None) -> bytes:
    """The validated bundle: from ``bundle_file`` when given (no network), else downloaded from ``url``."""
    if bundle_file is not None:
        try:
            data = bundle_file.read_bytes()
        except OSError as exc:
            raise PackagingError(f"--rds-ca-bundle {bundle_file}: {exc.strerror or exc}") from None
        if len(data) > CA_BUNDLE_MAX_BYTES:
            raise PackagingError(f"--rds-ca-bundle {bundle_file}: larger than {CA_BUNDLE_MAX_BYTES} bytes, refused")
        return validate_ca_bundle(data, f"--rds-ca-bundle {bundle_file}")
    try:
        data = download_ca_bundle(url, cafile=cafile)
    except PackagingError as exc:
        raise PackagingError(
            f"{exc}. If this machine cannot reach it, download {RDS_CA_BUNDLE_URL} elsewhere and pass it"
            " with --rds-ca-bundle FILE"
        ) from None
    return validate_ca_bundle(data, url)


@dataclass(frozen=True)
class BuildResult:
    name: str
    path: Path
    sha256: str
    size: int
    cached: bool
    seconds: float


def archive_path(name: str, out_dir: Path | None = None) -> Path:
    """Where the archive of function ``name`` is (or will be) written; builds nothing."""
    package = SHARED_ARCHIVES.get(name, name)
    if package not in FUNCTIONS:
        known = ", ".join([*FUNCTIONS, *SHARED_ARCHIVES])
        raise ValueError(f"unknown function {name!r}; known: {known}")
    return (out_dir or DEFAULT_OUT) / f"{package}.zip"


def collect_source(source_root: Path, name: str) -> dict[str, Path]:
    """``functions/__init__.py`` and ``functions/<name>/**`` as arcname -> file, minus tests, bytecode
    and hidden files. Untracked files are included on purpose (e.g. a CA bundle fetched at build time)."""
    package_init = source_root / "functions" / "__init__.py"
    package_dir = source_root / "functions" / name
    if not package_init.is_file():
        raise PackagingError(f"{package_init} is missing: the archive must contain the functions package")
    if not package_dir.is_dir():
        raise PackagingError(f"{package_dir} is missing: no source for function {name!r}")
    entries = {"functions/__init__.py": package_init}
    # Hidden files (.env, .gitignore, editor state) are never part of a function's code.
    entries.update(collect_tree(package_dir, f"functions/{name}/", SOURCE_EXCLUDED_DIRS, skip_hidden=True))
    return entries


def collect_tree(
    root: Path, prefix: str = "", excluded_dirs: frozenset[str] = frozenset(), skip_hidden: bool = False
) -> dict[str, Path]:
    """Regular files under ``root`` as ``prefix + relative path`` -> file; bytecode always skipped."""
    entries: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in excluded_dirs or part == "__pycache__" for part in relative.parts):
            continue
        if skip_hidden and any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_symlink():
            raise PackagingError(f"{path} is a symbolic link; archives hold regular files only")
        if path.is_file() and not path.name.endswith(EXCLUDED_SUFFIXES):
            entries[prefix + relative.as_posix()] = path
    return entries


def write_zip(entries: Mapping[str, Path], destination: Path) -> None:
    """A deterministic zip: sorted entries, fixed date and mode, written atomically."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for arcname in sorted(entries):
            info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so that external_attr carries the mode
            info.external_attr = (stat.S_IFREG | ZIP_FILE_MODE) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[arcname].read_bytes(), compresslevel=9)
    partial.replace(destination)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def requirement_files(requirements: Path) -> list[Path]:
    """The requirements file and the files it includes with -r/-c, recursively (bounded)."""
    found: list[Path] = []
    pending = [requirements]
    while pending and len(found) < 50:
        current = pending.pop()
        if current in found:
            continue
        if not current.is_file():
            raise PackagingError(f"requirements file {current} is missing")
        found.append(current)
        for line in current.read_text().splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) == 2 and words[0] in {"-r", "--requirement", "-c", "--constraint"}:
                pending.append((current.parent / words[1]).resolve())
    return found


def input_digest(sources: Mapping[str, Path], requirements: Path, pip_options: Sequence[str]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([LAYOUT_VERSION, PIP_PLATFORM_ARGS, list(pip_options)]).encode())
    for path in requirement_files(requirements):
        digest.update(b"\0requirements\0" + path.read_bytes())
    for arcname in sorted(sources):
        digest.update(f"\0{arcname}\0".encode() + hashlib.sha256(sources[arcname].read_bytes()).digest())
    return digest.hexdigest()


def pip_command(requirements: Path, target: Path, pip_options: Sequence[str], python: str) -> list[str]:
    return [
        python, "-m", "pip", "install",
        "--disable-pip-version-check", "--no-input", "--no-compile", "--quiet",
        *PIP_PLATFORM_ARGS,
        "--target", str(target),
        *pip_options,
        "-r", str(requirements),
    ]  # fmt: skip


def install_dependencies(requirements: Path, target: Path, pip_options: Sequence[str], python: str) -> None:
    command = pip_command(requirements, target, pip_options, python)
    print(f"  $ {shlex.join(command)}", flush=True)
    try:
        result = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise PackagingError(f"pip install -r {requirements} took longer than {PIP_TIMEOUT_SECONDS} s") from None
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()
        details = "\n".join(f"    {line}" for line in output[-20:])
        raise PackagingError(f"pip install -r {requirements} failed with exit code {result.returncode}:\n{details}")


def collect_dependencies(target: Path) -> dict[str, Path]:
    # Console scripts (bin/) are useless on Lambda and their shebang names this machine's Python.
    return {arcname: path for arcname, path in collect_tree(target).items() if not arcname.startswith("bin/")}


def build(
    name: str,
    *,
    source_root: Path = REPO_ROOT,
    out_dir: Path = DEFAULT_OUT,
    pip_options: Sequence[str] = (),
    force: bool = False,
    python: str = sys.executable,
    rds_ca_bundle: Path | None = None,
    rds_ca_bundle_url: str = RDS_CA_BUNDLE_URL,
    download_cafile: str | None = None,
) -> BuildResult:
    """Build (or reuse) the archive of function ``name``; raises PackagingError on failure.

    ``rds_ca_bundle``: the CA bundle file for archives that need one (else it is downloaded from
    ``rds_ca_bundle_url``; ``download_cafile`` replaces the system trust store for that download - tests only).
    """
    started = time.monotonic()
    requirements = source_root / "functions" / name / "requirements.txt"
    sources = collect_source(source_root, name)
    with tempfile.TemporaryDirectory(prefix=f"package-{name}-") as scratch:
        bundle_arcname = CA_BUNDLE_ARCHIVES.get(name)
        if bundle_arcname is not None:
            # Replaces any file at that path in the tree: only a validated bundle from the option or the
            # download goes in. Its bytes are an input like any source file, so a new bundle means a new build.
            bundle = Path(scratch) / "ca-bundle.pem"
            bundle.write_bytes(obtain_ca_bundle(rds_ca_bundle, rds_ca_bundle_url, download_cafile))
            sources[bundle_arcname] = bundle
        return _build(name, sources, requirements, Path(scratch), started,
                      out_dir=out_dir, pip_options=pip_options, force=force, python=python)


def _build(
    name: str,
    sources: dict[str, Path],
    requirements: Path,
    scratch: Path,
    started: float,
    *,
    out_dir: Path,
    pip_options: Sequence[str],
    force: bool,
    python: str,
) -> BuildResult:
    """The cache check and the build proper; ``scratch`` (pip's target) is owned and removed by build()."""
    digest = input_digest(sources, requirements, pip_options)
    destination = out_dir / f"{name}.zip"
    stamp = out_dir / f"{name}.zip.inputs.json"
    if not force and destination.is_file() and stamp.is_file():
        recorded = json.loads(stamp.read_text())
        actual = file_sha256(destination)
        if recorded == {"inputs": digest, "sha256": actual}:
            return BuildResult(name, destination, actual, destination.stat().st_size, True, time.monotonic() - started)
    target = scratch / "deps"
    install_dependencies(requirements, target, pip_options, python)
    dependencies = collect_dependencies(target)
    clashes = sorted(a for a in dependencies if a.split("/", 1)[0] == "functions")
    if clashes:
        raise PackagingError(f"a dependency installs files under functions/ ({clashes[0]}), clashing with ours")
    write_zip({**dependencies, **sources}, destination)
    sha256 = file_sha256(destination)
    stamp.write_text(json.dumps({"inputs": digest, "sha256": sha256}, indent=2) + "\n")
    return BuildResult(name, destination, sha256, destination.stat().st_size, False, time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m functions.package", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: build/functions)")
    parser.add_argument(
        "--function", action="append", choices=FUNCTIONS, dest="functions", help="build only this one (repeatable)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    parser.add_argument("--no-index", action="store_true", help="pass --no-index to pip (offline builds)")
    parser.add_argument("--find-links", action="append", default=[], metavar="DIR", help="pass --find-links to pip")
    parser.add_argument(
        "--rds-ca-bundle",
        type=Path,
        metavar="FILE",
        help=f"RDS CA bundle (PEM) to put in the api archive instead of downloading {RDS_CA_BUNDLE_URL}",
    )
    parser.add_argument("--source-root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    pip_options = [*(["--no-index"] if args.no_index else []), *(f"--find-links={d}" for d in args.find_links)]
    failures = 0
    for name in args.functions or FUNCTIONS:
        print(f"{name}:", flush=True)
        try:
            result = build(
                name,
                source_root=args.source_root,
                out_dir=args.out,
                pip_options=pip_options,
                force=args.force,
                rds_ca_bundle=args.rds_ca_bundle,
            )
        except PackagingError as error:
            print(f"error: {name}: {error}", file=sys.stderr, flush=True)
            failures += 1
            continue
        action = "up to date (inputs unchanged), kept" if result.cached else "built"
        print(f"  {action} {result.path} in {result.seconds:.1f} s")
        print(f"  sha256 {result.sha256}  size {result.size:,} bytes")
    if failures:
        print(f"error: {failures} archive(s) failed to build", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
