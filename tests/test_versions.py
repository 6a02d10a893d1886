"""One version everywhere it is written, and `make version` moves them together."""

from __future__ import annotations

from datetime import date
from pathlib import Path
import shutil

import pytest

import dacs
from scripts import release

ROOT = Path(__file__).parents[1]
VERSIONED = (
    release.PYPROJECT,
    release.LIBRARY_INIT,
    release.MANIFEST,
    release.ADDON_CONFIG,
    release.DOCKERFILE,
    release.CHANGELOG,
    release.ADDON_CHANGELOG,
)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of every file that carries the version."""
    for relative in VERSIONED:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    return tmp_path


def test_versions_agree() -> None:
    assert release.version_mismatches() == []
    assert dacs.__version__ == release.project_version()
    versions = release.read_versions()
    # Every place was found, except the CHANGELOG before a first release.
    missing = [place for place, found in versions.items() if found is None]
    assert missing in ([], [f"{release.CHANGELOG} (newest release)"])


@pytest.mark.parametrize(
    ("relative", "old", "new", "place"),
    [
        (release.ADDON_CONFIG, 'version: "0', 'version: "9', "addon/config.yaml"),
        (release.DOCKERFILE, "VERSION=0", "VERSION=9", "addon/Dockerfile"),
        (release.MANIFEST, "#dacs-hw==0", "#dacs-hw==9", "requirements"),
        (release.MANIFEST, '"version": "0', '"version": "9', "manifest.json version"),
        (release.LIBRARY_INIT, '__version__ = "0', '__version__ = "9', "__init__"),
        (release.ADDON_CHANGELOG, "## 0", "## 9", "addon/CHANGELOG.md"),
    ],
)
def test_a_place_that_disagrees_is_named(
    checkout: Path, relative: Path, old: str, new: str, place: str
) -> None:
    path = checkout / relative
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    problems = release.version_mismatches(checkout)
    assert len(problems) == 1, problems
    assert place in problems[0]


def test_a_requirement_off_the_release_is_refused(checkout: Path) -> None:
    manifest = checkout / release.MANIFEST
    text = manifest.read_text("utf-8")
    manifest.write_text(text.replace("github.com/dacs-hw", "example.com/x"), "utf-8")
    assert any("requirements" in p for p in release.version_mismatches(checkout))


def test_version_moves_every_place_and_releases_the_changelog(checkout: Path) -> None:
    unreleased = (checkout / release.CHANGELOG).read_text("utf-8")
    first_bullet = unreleased.split("### Added\n", 1)[1].splitlines()[0]

    release.set_version("0.2.0", date(2026, 12, 24), root=checkout)

    assert release.version_mismatches(checkout) == []
    assert set(release.read_versions(checkout).values()) == {"0.2.0"}
    changelog = (checkout / release.CHANGELOG).read_text("utf-8")
    # A new, empty Unreleased section; the old one's entries are now 0.2.0's.
    head = changelog.split("## [Unreleased]\n\n## [0.2.0] - 2026-12-24\n\n", 1)
    assert len(head) == 2
    assert head[1].startswith("### Added\n" + first_bullet)
    addon = (checkout / release.ADDON_CHANGELOG).read_text("utf-8")
    assert addon.index("## 0.2.0") < addon.index("## 0.1.0")
    manifest = (checkout / release.MANIFEST).read_text("utf-8")
    assert release.wheel_url("0.2.0") in manifest
    assert release.wheel_url("0.1.0") not in manifest

    # A released version cannot be released again.
    with pytest.raises(release.ReleaseError, match="already released"):
        release.set_version("0.2.0", date(2026, 12, 25), root=checkout)
    # The released section must match: a version moved back is reported.
    pyproject = checkout / release.PYPROJECT
    pyproject.write_text(
        pyproject.read_text("utf-8").replace('version = "0.2.0"', 'version = "0.2.1"')
    )
    problems = release.version_mismatches(checkout)
    assert any("CHANGELOG.md (newest release)" in p for p in problems)


@pytest.mark.parametrize("version", ["0.2", "v0.2.0", "0.2.0rc1", ""])
def test_version_refuses_what_is_not_x_y_z(checkout: Path, version: str) -> None:
    before = {r: (checkout / r).read_text("utf-8") for r in VERSIONED}
    with pytest.raises(release.ReleaseError, match="not a version"):
        release.set_version(version, date(2026, 12, 24), root=checkout)
    assert {r: (checkout / r).read_text("utf-8") for r in VERSIONED} == before
