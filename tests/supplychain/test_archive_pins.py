"""A Dependabot pin bump changes a Lambda archive in that package's files only, and reverting it restores the
archive byte for byte: an archive is a function of its pins and code (functions/package.py really runs pip,
offline, from a local wheel directory)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from functions.package import build
from tests.functions.test_package import make_source_tree, make_wheel


def entries(archive: Path) -> dict[str, tuple]:
    """Entry name -> everything that makes its bytes in the zip (metadata, CRC, sizes, content)."""
    with zipfile.ZipFile(archive) as zf:
        return {
            info.filename: (info.date_time, info.external_attr, info.compress_type, info.CRC, info.compress_size,
                            zf.read(info))
            for info in zf.infolist()
        }


def test_a_pin_bump_changes_only_that_packages_entries_and_a_revert_restores_the_archive(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    for name, version in (("tinydep", "1.0"), ("tinydep", "2.0"), ("otherdep", "1.0")):
        make_wheel(wheels, name, version)
    options = ["--no-index", f"--find-links={wheels}"]
    source = make_source_tree(tmp_path / "repo", requirements="tinydep==1.0\notherdep==1.0\n")
    requirements = source / "functions" / "authorizer" / "requirements.txt"

    before = build("authorizer", source_root=source, out_dir=tmp_path / "before", pip_options=options)
    requirements.write_text("tinydep==2.0\notherdep==1.0\n")
    bumped = build("authorizer", source_root=source, out_dir=tmp_path / "bumped", pip_options=options)

    old, new = entries(before.path), entries(bumped.path)
    changed = sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))
    assert "tinydep-1.0.dist-info/METADATA" in changed and "tinydep-2.0.dist-info/METADATA" in changed
    # Besides the package's own files, only the pin file itself (the archive ships the function's directory).
    assert [name for name in changed if not name.startswith("tinydep-")] == ["functions/authorizer/requirements.txt"]
    # The function's code and the other dependency are the same bytes in both archives.
    assert old["functions/authorizer/app.py"] == new["functions/authorizer/app.py"]
    assert old["otherdep/__init__.py"] == new["otherdep/__init__.py"]

    requirements.write_text("tinydep==1.0\notherdep==1.0\n")
    reverted = build("authorizer", source_root=source, out_dir=tmp_path / "reverted", pip_options=options)
    assert reverted.path.read_bytes() == before.path.read_bytes()
