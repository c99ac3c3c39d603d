"""Imports between ifdsed's parts go one way. The parts are its sub-packages (ifdsed.models, ifdsed.io,
ifdsed.training, ...) and its top-level modules (ifdsed.config, ifdsed.paths, ifdsed.devices, ifdsed.errors), each
one node; an edge is an import found anywhere in a file (function-level imports too), read with ast. The rules:
- no cycle between the parts;
- the model code (ifdsed.models) imports only the standard library, torch, numpy, itself and the library's bottom
  layer, ifdsed.errors and ifdsed.io;
- the bottom layer imports nothing else of ifdsed (third-party packages are allowed)."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ifdsed"
BOTTOM = {"ifdsed.errors", "ifdsed.io"}
MODELS_MAY_IMPORT = set(sys.stdlib_module_names) | {"torch", "numpy"}   # outside ifdsed: top-level names


def module_name(path: Path, package: Path) -> str:
    """The dotted name of `path`, a file of the package folder `package` (a package's __init__.py: the package)."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str, package: Path) -> bool:
    """Whether the dotted name is a module or package of the package folder `package`."""
    base = package.parent.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(path: Path, package: Path) -> set[str]:
    """The dotted names of the modules `path` imports; `from m import x` gives m.x where that is a module, else m."""
    name = module_name(path, package)
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = here.split(".")[:len(here.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if is_module(full, package) else base)
    return found


def part(name: str, package: Path) -> str | None:
    """The node of a dotted module name: package.<first component> (package itself for its __init__), or None
    outside the package."""
    parts = name.split(".")
    if parts[0] != package.name:
        return None
    return ".".join(parts[:2])


def graph(package: Path) -> dict[str, dict[str, set[str]]]:
    """{part: {imported part: the files (relative to the package's parent) that import it}}, self-imports left out."""
    edges: dict[str, dict[str, set[str]]] = {}
    for path in sorted(package.rglob("*.py")):
        source = part(module_name(path, package), package)
        edges.setdefault(source, {})
        for imported in imports(path, package):
            target = part(imported, package)
            if target is not None and target != source:
                edges[source].setdefault(target, set()).add(path.relative_to(package.parent).as_posix())
    return edges


def find_cycle(edges: dict[str, set[str]] | dict[str, dict[str, set[str]]]) -> list[str] | None:
    """One cycle of the directed graph as [a, b, ..., a], or None; nodes and edges are visited in sorted order."""
    state: dict[str, str] = {}   # "open" while on the current path, "done" after
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def describe(cycle: list[str], edges: dict[str, dict[str, set[str]]]) -> str:
    """The cycle with, for each step, the files that make it."""
    steps = [f"{a} -> {b} ({', '.join(sorted(edges[a][b]))})" for a, b in zip(cycle, cycle[1:])]
    return " -> ".join(cycle) + ":\n  " + "\n  ".join(steps)


def rule_breaks(package: Path) -> list[str]:
    """`file: import` for every import that the model code or the bottom layer may not make."""
    found = []
    for path in sorted(package.rglob("*.py")):
        source = part(module_name(path, package), package)
        if source == "ifdsed.models":
            allowed, outside = {source} | BOTTOM, lambda name: name.split(".")[0] in MODELS_MAY_IMPORT
        elif source in BOTTOM:
            allowed, outside = BOTTOM, lambda name: True
        else:
            continue
        for imported in sorted(imports(path, package)):
            target = part(imported, package)
            if not (outside(imported) if target is None else target in allowed):
                found.append(f"{path.relative_to(package.parent).as_posix()}: {imported}")
    return found


# =================================================================================================== the project
def test_no_cycle_between_the_parts_of_ifdsed():
    edges = graph(PACKAGE)
    assert {"ifdsed.models", "ifdsed.io", "ifdsed.errors", "ifdsed.config", "ifdsed.training"} <= set(edges)
    cycle = find_cycle(edges)
    assert cycle is None, f"import cycle between the parts of ifdsed: {describe(cycle, edges)}"


def test_the_model_code_and_the_bottom_layer_import_only_what_they_may():
    breaks = rule_breaks(PACKAGE)
    assert not breaks, ("ifdsed.models may import only the standard library, torch, numpy, ifdsed.models, "
                        "ifdsed.errors and ifdsed.io; ifdsed.errors and ifdsed.io no other part of ifdsed:\n"
                        + "\n".join(breaks))
    edges = graph(PACKAGE)
    assert "ifdsed.errors" in edges["ifdsed.models"] and "ifdsed.models" in edges["ifdsed.training"]   # seen


# ============================================================================================ negative controls
def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root / "ifdsed"


def test_a_cycle_is_found_and_named():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "d": {"a", "c"}}) is None


def test_a_cycle_between_sub_packages_is_found_through_every_kind_of_import(tmp_path):
    """A synthetic package: config imports models (absolute, inside a function), models imports config back
    (relative); io and errors form no cycle."""
    package = write(tmp_path, {
        "ifdsed/__init__.py": "",
        "ifdsed/errors.py": "import sys\n",
        "ifdsed/config.py": "def f():\n    from ifdsed.models import config\n",
        "ifdsed/io/__init__.py": "",
        "ifdsed/io/atomic.py": "from ifdsed.errors import X\n",
        "ifdsed/models/__init__.py": "",
        "ifdsed/models/config.py": "from .. import config\nfrom ..io import atomic\n",
    })
    edges = graph(package)
    assert edges["ifdsed.io"] == {"ifdsed.errors": {"ifdsed/io/atomic.py"}}
    assert find_cycle(edges) == ["ifdsed.config", "ifdsed.models", "ifdsed.config"]
    assert "ifdsed/models/config.py" in describe(find_cycle(edges), edges)
    assert rule_breaks(package) == ["ifdsed/models/config.py: ifdsed.config"]


def test_the_rules_name_each_import_they_forbid(tmp_path):
    package = write(tmp_path, {
        "ifdsed/__init__.py": "",
        "ifdsed/paths.py": "",
        "ifdsed/errors.py": "from ifdsed import paths\n",
        "ifdsed/io/__init__.py": "import pandas\n",
        "ifdsed/models/__init__.py": "",
        "ifdsed/models/sed.py": "import math\nimport torch.nn\nimport numpy as np\nimport pandas\n"
                                "from ifdsed.io import atomic\nfrom ifdsed.errors import E\nfrom . import x\n",
    })
    assert rule_breaks(package) == ["ifdsed/errors.py: ifdsed.paths", "ifdsed/models/sed.py: pandas"]
