"""What HACS, the Supervisor and pip are given agrees with what a release publishes.

The image cannot be built here (no container registry), so the Dockerfile's
install step is run as a shell script with ``apk`` and ``pip3`` recorded
instead of run. The manifest, translations, brand and the add-on's
config.yaml have their own checks in tests/ha/test_translations.py and
tests/connect/test_addon.py.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import subprocess
import tomllib

from awesomeversion import AwesomeVersion
from homeassistant.const import __version__ as home_assistant_version
import pytest
import yaml

from scripts import release

REPOSITORY = Path(__file__).resolve().parents[2]
# The keys HACS reads from hacs.json (hacs.xyz, "General" publishing docs).
HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
    "render_readme",
}


def test_license_is_apache_2() -> None:
    """HACS refuses a repository without a licence; pyproject names Apache-2.0."""
    text = (REPOSITORY / "LICENSE").read_text("utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 170  # the full text, not a notice
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"


def test_hacs_json() -> None:
    hacs = json.loads((REPOSITORY / "hacs.json").read_text("utf-8"))
    assert set(hacs) <= HACS_KEYS, set(hacs) - HACS_KEYS
    assert hacs["name"]
    # The integration is installed from custom_components/<domain>, not a zip.
    assert hacs["content_in_root"] is False
    assert "zip_release" not in hacs
    (integration,) = (REPOSITORY / "custom_components").iterdir()
    assert (integration / "manifest.json").is_file()
    # The oldest Home Assistant it claims to run on reads brand/ from the
    # integration (2026.3) and is not newer than the one tested here.
    minimum = AwesomeVersion(hacs["homeassistant"])
    assert (
        AwesomeVersion("2026.3.0") <= minimum <= AwesomeVersion(home_assistant_version)
    )


def test_readme_says_how_to_install() -> None:
    """HACS renders README.md (render_readme); it points at the real path."""
    readme = (REPOSITORY / "README.md").read_text("utf-8")
    assert "docs/installer-guide.md" in readme


def _install_step() -> str:
    """The shell of the Dockerfile's RUN that installs DACS-HW."""
    dockerfile = (REPOSITORY / "addon" / "Dockerfile").read_text("utf-8")
    run = next(
        block
        for block in re.split(r"\n(?=[A-Z]+ )", dockerfile)
        if block.startswith("RUN") and "pip3 install" in block
    )
    shell = run.removeprefix("RUN").replace("\\\n", " ")
    return re.sub(r"--mount=\S+", "", shell).strip()


def _arguments() -> dict[str, str]:
    dockerfile = (REPOSITORY / "addon" / "Dockerfile").read_text("utf-8")
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.MULTILINE))


def _run_install_step(context: Path) -> list[list[str]]:
    """Run the install step with apk and pip3 recorded; return their calls."""
    calls = context / "calls"
    stubs = (
        f'apk() {{ printf "apk %s\\n" "$*" >> {calls}; }}\n'
        f'pip3() {{ for a in "$@"; do printf \'%s\\t\' "$a"; done >> {calls};'
        f" echo >> {calls}; }}\n"
    )
    script = _install_step().replace("/tmp/build-context", str(context))
    subprocess.run(
        ["sh", "-euc", stubs + script],
        check=True,
        env={"PATH": "/usr/bin:/bin", **_arguments()},
    )
    lines = calls.read_text().splitlines()
    assert lines[0] == "apk add --no-cache mosquitto"
    return [line.split("\t")[:-1] for line in lines[1:]]


def test_dockerfile_installs_the_release_wheel(tmp_path: Path) -> None:
    version = release.project_version()
    assert _arguments()["DACS_HW_VERSION"] == version
    (pip,) = _run_install_step(tmp_path)
    assert pip[0] == "install"
    # The same wheel the integration's manifest names, from the same release.
    assert pip[-1] == f"dacs-hw @ {release.wheel_url(version)}"
    manifest = json.loads(
        (REPOSITORY / "custom_components" / "dacs_hw" / "manifest.json").read_text()
    )
    assert manifest["requirements"][0].startswith(release.wheel_url(version) + "#")


def test_dockerfile_prefers_a_local_wheel_of_its_version(tmp_path: Path) -> None:
    version = release.project_version()
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / release.wheel_name("0.0.1")).touch()  # another version: ignored
    (pip,) = _run_install_step(tmp_path)
    assert pip[-1] == f"dacs-hw @ {release.wheel_url(version)}"
    (wheels / release.wheel_name(version)).touch()
    (tmp_path / "calls").unlink()
    (pip,) = _run_install_step(tmp_path)
    assert pip[-1] == f"dacs-hw @ file://{wheels / release.wheel_name(version)}"


@pytest.mark.parametrize("version", ["0.1.0", "1.22.333"], ids=["now", "more digits"])
def test_release_urls(version: str) -> None:
    """The wheel's name is the one setuptools gives a pure-Python wheel."""
    url = release.wheel_url(version)
    assert url == (
        "https://github.com/dacs-hw/dacs-hw/releases/download/"
        f"v{version}/dacs_hw-{version}-py3-none-any.whl"
    )
    assert release.integration_requirement(version) == f"{url}#dacs-hw=={version}"


@pytest.mark.parametrize(
    ("guide", "placeholder"),
    [("installer-guide.md", "<version>"), ("installer-guide.nl.md", "<versie>")],
)
def test_installer_guides_describe_this_release_path(
    guide: str, placeholder: str
) -> None:
    """Both guides name the repository, the release's wheel and the add-on's options."""
    text = (REPOSITORY / "docs" / guide).read_text("utf-8")
    repository = yaml.safe_load((REPOSITORY / "repository.yaml").read_text())["url"]
    installing = next(
        section
        for section in text.split("\n## ")
        if section.startswith(("Installing\n", "Installeren\n"))
    )
    assert f"`{repository}`" in installing
    assert release.wheel_name(placeholder) in installing
    assert "(release.md)" in installing
    assert (REPOSITORY / "docs" / "release.md").is_file()
    addon = yaml.safe_load((REPOSITORY / "addon" / "config.yaml").read_text())
    for option in ("aggregator_url", "enrollment_code"):
        assert option in addon["options"]
        assert f"`{option}`" in installing
