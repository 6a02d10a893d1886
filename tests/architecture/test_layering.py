"""What ships must not depend on the scaffolding that tests and demonstrates it.

The simulator, the grid operators' stand-ins, the demo neighbourhood and the
throwaway servers exist to exercise the shipped code; an import the other way
would drag them into every installation of the aggregator, the add-on and the
integration.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src"
SHIPPED = ("aggregator", "broker", "connect", "devices", "home", "protocol")
SCAFFOLDING = ("sim", "grid_peers", "neighbourhood", "services", "commands")


def imported_modules(path: Path, root: Path = SOURCE) -> set[str]:
    """Absolute names of the ``dacs`` modules one file imports."""
    module = ".".join(path.relative_to(root).with_suffix("").parts)
    package = module.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                names.add(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                names.add(node.module)
    return {name for name in names if name == "dacs" or name.startswith("dacs.")}


def scaffolding_imports(folder: str) -> list[str]:
    """Each import of scaffolding from the shipped ``folder``, as 'file: module'."""
    found = []
    for path in sorted((SOURCE / "dacs" / folder).rglob("*.py")):
        for name in sorted(imported_modules(path)):
            top = name.split(".")[1] if "." in name else ""
            if top in SCAFFOLDING:
                found.append(f"{path.relative_to(SOURCE)}: {name}")
    return found


@pytest.mark.parametrize("folder", SHIPPED)
def test_shipped_code_imports_no_scaffolding(folder: str) -> None:
    assert scaffolding_imports(folder) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The parser resolves relative and absolute imports, so the rule can fail."""
    probe = tmp_path / "dacs" / "aggregator" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "from ..sim.hybrid import simulate_year\nimport dacs.grid_peers\nimport os\n"
    )
    assert imported_modules(probe, tmp_path) == {"dacs.sim.hybrid", "dacs.grid_peers"}
