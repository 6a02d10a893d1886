"""One version everywhere it is written."""

from __future__ import annotations

from pathlib import Path
import tomllib

import yaml

import dacs

ROOT = Path(__file__).parents[1]


def test_versions_agree() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert dacs.__version__ == project
    addon = yaml.safe_load((ROOT / "addon" / "config.yaml").read_text())["version"]
    assert addon == project
