"""The release path: build the artefacts, and keep one version everywhere.

A release of DACS-HW is a GitHub release whose tag is ``v<version>`` and to
which the wheel and sdist built here are attached. The integration's
``manifest.json`` and the add-on's ``Dockerfile`` both install the wheel from
that release by URL, so nothing has to be published on PyPI
(docs/release.md explains the choice).

    python scripts/release.py dist [--out-dir dist] [--find-links DIR]
    python scripts/release.py version 0.2.0 [--date 2026-12-24]
    python scripts/release.py check
    python scripts/release.py wheelhouse
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
import importlib.metadata
import importlib.util
import json
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import tomllib

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "dacs-hw"
RELEASES_URL = "https://github.com/dacs-hw/dacs-hw/releases/download"
VERSION_PATTERN = re.compile(r"\d+\.\d+\.\d+")

PYPROJECT = Path("pyproject.toml")
LIBRARY_INIT = Path("src/dacs/__init__.py")
MANIFEST = Path("custom_components/dacs_hw/manifest.json")
ADDON_CONFIG = Path("addon/config.yaml")
DOCKERFILE = Path("addon/Dockerfile")
CHANGELOG = Path("CHANGELOG.md")
ADDON_CHANGELOG = Path("addon/CHANGELOG.md")

_INIT_VERSION = re.compile(r'^__version__ = "([^"]*)"$', re.MULTILINE)
_PYPROJECT_VERSION = re.compile(r'^version = "([^"]*)"$', re.MULTILINE)
_ADDON_VERSION = re.compile(r'^version: "([^"]*)"$', re.MULTILINE)
_DOCKER_VERSION = re.compile(r"^ARG DACS_HW_VERSION=(\S*)$", re.MULTILINE)
_RELEASED_SECTION = re.compile(
    r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", re.MULTILINE
)
_ADDON_SECTION = re.compile(r"^## (\d+\.\d+\.\d+)$", re.MULTILINE)
_UNRELEASED = "## [Unreleased]"


# Build requirements of pyproject.toml, for an offline build from the wheelhouse.
BUILD_REQUIREMENTS = ("setuptools>=75", "wheel")


class ReleaseError(Exception):
    """The release cannot be built or the version cannot be set."""


def wheel_name(version: str) -> str:
    """File name of the release's wheel (pure Python, any platform)."""
    return f"dacs_hw-{version}-py3-none-any.whl"


def wheel_url(version: str, releases_url: str = RELEASES_URL) -> str:
    """Where a release publishes its wheel: an asset of the tag ``v<version>``."""
    return f"{releases_url}/v{version}/{wheel_name(version)}"


def integration_requirement(version: str, releases_url: str = RELEASES_URL) -> str:
    """The manifest's requirement: the release's wheel, named by a fragment.

    Home Assistant reads the fragment as ``dacs-hw==<version>``, so it sees
    an installed wheel as satisfied and runs no installer (and needs no
    network) at the next start; a bare ``dacs-hw @ URL`` would be installed
    again at every start.
    """
    return f"{wheel_url(version, releases_url)}#{PACKAGE}=={version}"


def _match(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found[1] if found else None


def project_version(root: Path = ROOT) -> str:
    """The version in pyproject.toml, which every other place follows."""
    project = tomllib.loads((root / PYPROJECT).read_text("utf-8"))["project"]
    version = project["version"]
    if not isinstance(version, str):
        raise ReleaseError(f"{PYPROJECT}: the version is not a string")
    return version


def read_versions(root: Path = ROOT) -> dict[str, str | None]:
    """Every place a version is written, and the version written there."""
    manifest = json.loads((root / MANIFEST).read_text("utf-8"))
    requirements = manifest.get("requirements", [])
    requirement_version = None
    if len(requirements) == 1:
        url, _, fragment = requirements[0].partition("#")
        name, _, pinned = fragment.partition("==")
        if name == PACKAGE and url == wheel_url(pinned):
            requirement_version = pinned
    released = _RELEASED_SECTION.findall((root / CHANGELOG).read_text("utf-8"))
    addon_sections = _ADDON_SECTION.findall((root / ADDON_CHANGELOG).read_text("utf-8"))
    return {
        str(PYPROJECT): project_version(root),
        str(LIBRARY_INIT): _match(_INIT_VERSION, (root / LIBRARY_INIT).read_text()),
        f"{MANIFEST} version": manifest.get("version"),
        f"{MANIFEST} requirements": requirement_version,
        str(ADDON_CONFIG): str(
            yaml.safe_load((root / ADDON_CONFIG).read_text("utf-8"))["version"]
        ),
        str(DOCKERFILE): _match(_DOCKER_VERSION, (root / DOCKERFILE).read_text()),
        str(ADDON_CHANGELOG): addon_sections[0] if addon_sections else None,
        # Before the first release there is no released section yet.
        f"{CHANGELOG} (newest release)": released[0] if released else None,
    }


def version_mismatches(root: Path = ROOT) -> list[str]:
    """Where the version differs from pyproject.toml's, one line each."""
    versions = read_versions(root)
    expected = versions[str(PYPROJECT)]
    problems = []
    for place, found in versions.items():
        if found is None and place.startswith(str(CHANGELOG)):
            continue
        if found != expected:
            problems.append(f"{place}: {found!r}, pyproject.toml says {expected!r}")
    return problems


def _substitute(text: str, pattern: re.Pattern[str], version: str, name: Path) -> str:
    found = pattern.search(text)
    if found is None:
        raise ReleaseError(f"{name}: no version found to replace")
    start, end = found.span(1)
    return text[:start] + version + text[end:]


def _release_changelog(text: str, version: str, day: date) -> str:
    """Turn the Unreleased section into the release's and open a new one."""
    if _UNRELEASED not in text:
        raise ReleaseError(f"{CHANGELOG}: no '{_UNRELEASED}' section")
    if version in _RELEASED_SECTION.findall(text):
        raise ReleaseError(f"{CHANGELOG}: {version} is already released")
    released = f"{_UNRELEASED}\n\n## [{version}] - {day.isoformat()}"
    return text.replace(_UNRELEASED, released, 1)


def _add_addon_section(text: str, version: str) -> str:
    if version in _ADDON_SECTION.findall(text):
        return text
    entry = (
        f"## {version}\n\n- Runs DACS-HW {version}; what changed is in the "
        "project's CHANGELOG.md.\n\n"
    )
    found = _ADDON_SECTION.search(text)
    position = found.start() if found else len(text)
    return text[:position] + entry + text[position:]


def _manifest_with(text: str, version: str) -> str:
    manifest = json.loads(text)
    manifest["requirements"] = [integration_requirement(version)]
    manifest["version"] = version
    return json.dumps(manifest, indent=2) + "\n"


def set_version(version: str, day: date, root: Path = ROOT) -> None:
    """Write ``version`` everywhere and release the CHANGELOG's Unreleased part.

    Every file is rewritten only once all of them could be: a refusal
    leaves the checkout as it was.
    """
    if not VERSION_PATTERN.fullmatch(version):
        raise ReleaseError(f"{version!r} is not a version like 1.2.3")
    old = {
        relative: (root / relative).read_text("utf-8")
        for relative in (
            PYPROJECT,
            LIBRARY_INIT,
            ADDON_CONFIG,
            DOCKERFILE,
            MANIFEST,
            CHANGELOG,
            ADDON_CHANGELOG,
        )
    }
    new = {
        PYPROJECT: _substitute(old[PYPROJECT], _PYPROJECT_VERSION, version, PYPROJECT),
        LIBRARY_INIT: _substitute(
            old[LIBRARY_INIT], _INIT_VERSION, version, LIBRARY_INIT
        ),
        ADDON_CONFIG: _substitute(
            old[ADDON_CONFIG], _ADDON_VERSION, version, ADDON_CONFIG
        ),
        DOCKERFILE: _substitute(old[DOCKERFILE], _DOCKER_VERSION, version, DOCKERFILE),
        MANIFEST: _manifest_with(old[MANIFEST], version),
        CHANGELOG: _release_changelog(old[CHANGELOG], version, day),
        ADDON_CHANGELOG: _add_addon_section(old[ADDON_CHANGELOG], version),
    }
    for relative, text in new.items():
        (root / relative).write_text(text, "utf-8")


def build(out_dir: Path, find_links: Path | None = None) -> tuple[Path, Path]:
    """Build the wheel and the sdist of this checkout into ``out_dir``.

    uv (which Home Assistant depends on, so it is in .venv) builds in an
    isolated environment; with ``find_links`` its build requirements come
    from that directory and no index is asked.
    """
    version = project_version()
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "uv",
        "build",
        "--quiet",
        "--python",
        sys.executable,
        "--no-python-downloads",
        "--out-dir",
        str(out_dir),
        str(ROOT),
    ]
    if find_links is not None:
        command[4:4] = ["--no-index", "--find-links", str(find_links)]
    # setuptools writes build/ and *.egg-info next to the sources.
    subprocess.run(command, check=True, cwd=ROOT)  # noqa: S603
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    wheel, sdist = out_dir / wheel_name(version), out_dir / f"dacs_hw-{version}.tar.gz"
    for artefact in (wheel, sdist):
        if not artefact.is_file():
            raise ReleaseError(f"the build did not write {artefact}")
    return wheel, sdist


def home_assistant_version() -> str:
    """The Home Assistant of this virtual environment."""
    return importlib.metadata.version("homeassistant")


def wheelhouse_dir(root: Path = ROOT) -> Path:
    """Wheels for a clean Home Assistant and for this library's dependencies."""
    return root / ".tools" / f"ha-wheelhouse-{home_assistant_version()}"


def _components_dir() -> Path:
    spec = importlib.util.find_spec("homeassistant.components")
    if spec is None or spec.submodule_search_locations is None:
        raise ReleaseError("Home Assistant is not installed in this environment")
    return Path(next(iter(spec.submodule_search_locations)))


def home_assistant_constraints() -> Path:
    """The constraints Home Assistant applies when it installs requirements."""
    return _components_dir().parent / "package_constraints.txt"


def home_assistant_runtime_requirements() -> list[str]:
    """What Home Assistant installs for itself at its first start.

    Every installation of Home Assistant has these: the frontend (without it
    Home Assistant starts in recovery mode, which loads no custom
    integration) and the multi-factor auth modules' packages (without them
    the core does not start).
    """
    from homeassistant.auth.mfa_modules import notify, totp  # noqa: PLC0415

    manifest = _components_dir() / "frontend" / "manifest.json"
    frontend = json.loads(manifest.read_text("utf-8"))["requirements"]
    return sorted({*frontend, *totp.REQUIREMENTS, *notify.REQUIREMENTS})


def library_dependencies(root: Path = ROOT) -> list[str]:
    """What the wheel requires (pyproject.toml's [project] dependencies)."""
    project = tomllib.loads((root / PYPROJECT).read_text("utf-8"))["project"]
    return list(project["dependencies"])


def build_wheelhouse(target: Path | None = None) -> Path:
    """Download (and build) every wheel the clean-venv install test needs, once.

    Home Assistant and what it installs for itself, this library's dependencies
    as Home Assistant's own constraints pin them, and the build backend;
    never the library itself, which the test builds from the checkout.
    """
    target = target or wheelhouse_dir()
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    requirements = [
        f"homeassistant=={home_assistant_version()}",
        *home_assistant_runtime_requirements(),
        *library_dependencies(),
        *BUILD_REQUIREMENTS,
    ]
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--disable-pip-version-check",
        "--wheel-dir",
        str(partial),
        "--constraint",
        str(home_assistant_constraints()),
        *requirements,
    ]
    subprocess.run(command, check=True)  # noqa: S603
    if any(partial.glob("dacs_hw-*")):
        raise ReleaseError("the wheelhouse must not hold dacs-hw itself")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``dist``, ``version`` or ``check``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dist = commands.add_parser("dist", help="build the wheel and sdist")
    dist.add_argument("--out-dir", type=Path, default=ROOT / "dist")
    dist.add_argument("--find-links", type=Path, default=None)
    bump = commands.add_parser("version", help="set the version everywhere")
    bump.add_argument("version")
    bump.add_argument("--date", type=date.fromisoformat, default=None)
    commands.add_parser("check", help="list places whose version differs")
    commands.add_parser(
        "wheelhouse", help="fetch the wheels of the clean-venv install test"
    )
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "dist":
            if problems := version_mismatches():
                print("versions differ:", *problems, sep="\n  ", file=sys.stderr)
                return 1
            for artefact in build(arguments.out_dir, arguments.find_links):
                print(artefact)
        elif arguments.command == "version":
            day = arguments.date or datetime.now(UTC).date()
            set_version(arguments.version, day)
            print(f"Version {arguments.version} written; see docs/release.md.")
        elif arguments.command == "wheelhouse":
            print(build_wheelhouse())
        elif problems := version_mismatches():
            print("\n".join(problems))
            return 1
    except (ReleaseError, subprocess.CalledProcessError) as error:
        print(f"release: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
