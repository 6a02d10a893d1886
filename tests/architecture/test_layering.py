"""The import layering: what ships, what tests it, and no cycles between folders.

The simulator, the grid operators' stand-ins, the demo neighbourhood and the
throwaway servers (``dacs.testbed``) exist to exercise the shipped code; an
import the other way would drag them into every installation of the
aggregator, the add-on and the integration. Inside every package, its
sub-packages and modules form a directed graph without cycles, so each can be
read, tested and replaced from the bottom up.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src"
SHIPPED = ("aggregator", "broker", "connect", "devices", "home", "mqtt", "protocol")
SCAFFOLDING = ("testbed",)
# The aggregator's domain is pure: plain data in, plain data out.
DOMAIN_MAY_IMPORT = ("dacs.aggregator.domain", "dacs.protocol")

type Graph = Mapping[str, set[str]]


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


def child_graph(package: Path, root: Path = SOURCE) -> Graph:
    """Which direct children (sub-packages, modules) of ``package`` import which."""
    prefix = package.relative_to(root).parts
    depth = len(prefix)
    edges: defaultdict[str, set[str]] = defaultdict(set)
    for path in package.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        if len(parts) <= depth or parts[depth] == "__init__":
            continue
        for name in imported_modules(path, root):
            target = tuple(name.split("."))
            inside = target[:depth] == prefix and len(target) > depth
            if inside and target[depth] != parts[depth]:
                edges[parts[depth]].add(target[depth])
    return edges


def cycles(graph: Graph) -> list[list[str]]:
    """Each strongly connected group of more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(set(graph) | {n for targets in graph.values() for n in targets}):
        if node not in index:
            visit(node)
    return sorted(found)


def packages(root: Path = SOURCE) -> Iterable[Path]:
    """Every package under ``root/dacs``, the top one included."""
    for init in sorted((root / "dacs").rglob("__init__.py")):
        yield init.parent


@pytest.mark.parametrize("folder", SHIPPED)
def test_shipped_code_imports_no_scaffolding(folder: str) -> None:
    assert (SOURCE / "dacs" / folder).is_dir()
    assert scaffolding_imports(folder) == []


@pytest.mark.parametrize(
    "package", [p.relative_to(SOURCE).as_posix() for p in packages()]
)
def test_no_import_cycle_between_the_folders_of(package: str) -> None:
    graph = child_graph(SOURCE / package)
    assert cycles(graph) == [], {k: sorted(v) for k, v in graph.items()}


def test_the_domain_imports_no_adapter() -> None:
    found = [
        f"{path.relative_to(SOURCE)}: {name}"
        for path in sorted((SOURCE / "dacs" / "aggregator" / "domain").rglob("*.py"))
        for name in sorted(imported_modules(path))
        if not name.startswith(DOMAIN_MAY_IMPORT)
    ]
    assert found == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The parser resolves relative and absolute imports, so the rule can fail."""
    probe = tmp_path / "dacs" / "aggregator" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "from ..testbed.sim.hybrid import simulate_year\n"
        "import dacs.testbed.grid_peers\nimport os\n"
    )
    assert imported_modules(probe, tmp_path) == {
        "dacs.testbed.sim.hybrid",
        "dacs.testbed.grid_peers",
    }


def test_the_check_sees_a_cycle_between_folders(tmp_path: Path) -> None:
    """A cycle through three folders is found; a chain is not a cycle."""
    package = tmp_path / "dacs" / "aggregator"
    for folder, body in {
        "a": "from ..b import x\n",
        "b": "from dacs.aggregator.c.y import z\n",
        "c": "from ..a import w\n",
        "d": "from ..a import w\n",
    }.items():
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
        (package / folder / "m.py").write_text(body)
    graph = child_graph(package, tmp_path)
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}}) == []


MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300


def oversized(folder: Path) -> list[str]:
    """Modules over MAX_MODULE_LINES and classes over MAX_CLASS_LINES under ``folder``."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
            found.append(f"{path.name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    found.append(f"{path.name}: class {node.name} {size} lines")
    return found


def test_the_aggregator_has_no_god_module_or_class() -> None:
    assert oversized(SOURCE / "dacs" / "aggregator") == []


def test_the_size_check_sees_a_big_class(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_CLASS_LINES))
    (tmp_path / "big.py").write_text(f"class Big:\n{body}\n")
    assert oversized(tmp_path) == [f"big.py: class Big {MAX_CLASS_LINES + 1} lines"]
