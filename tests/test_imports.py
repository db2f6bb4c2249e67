"""The import graph: no cycles between fxsnn's modules, and docs/architecture.md lists it exactly.

Every import counts, at module level or inside a function (an import deferred into a function to dodge a
cycle is still a cycle). hdl/, sim/ and boards/ are the packages fxsnn.hdl, fxsnn.sim and fxsnn.boards.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "fxsnn": ROOT / "fxsnn",
    "fxsnn.hdl": ROOT / "hdl",
    "fxsnn.sim": ROOT / "sim",
    "fxsnn.boards": ROOT / "boards",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the fxsnn modules it imports (``from x import y`` counts as x.y when that is a module)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rsplit(".", 1)[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # ``from x import y``: the module x.y if there is one, else x (y is one of x's names)
                found = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                    for alias in node.names
                ]
            else:
                continue
            for target in found:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between the units docs/architecture.md lists: fxsnn's top-level modules and subpackages."""

    def unit(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) >= 2 else module

    edges: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if module == "fxsnn":
            continue  # the package's public API re-exports
        edges.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    return edges


def test_no_import_cycle():
    cycle = _cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_architecture_lists_the_imports_exactly():
    """docs/architecture.md's adjacency list is the real graph between packages and top-level modules."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("<!-- imports -->", 2)[1]
    documented: dict[str, set[str]] = {}
    for line in block.splitlines():
        match = re.match(r"^(fxsnn[\w.]*)\s+-->\s+(.*)$", line.strip())
        if match:
            targets = match.group(2).strip()
            documented[match.group(1)] = (
                set() if targets == "(nothing)" else {t.strip() for t in targets.split(",")}
            )
    actual = {unit: targets - {"fxsnn.errors"} for unit, targets in _package_edges(import_graph()).items()}
    missing = sorted(set(actual) - set(documented))
    assert not missing, f"docs/architecture.md does not list {missing}"
    for unit, targets in sorted(actual.items()):
        assert documented[unit] == targets, (
            f"docs/architecture.md: {unit} --> {', '.join(sorted(documented[unit])) or '(nothing)'}; "
            f"the code: {', '.join(sorted(targets)) or '(nothing)'}"
        )
    extra = sorted(set(documented) - set(actual))
    assert not extra, f"docs/architecture.md lists modules that do not exist: {extra}"
