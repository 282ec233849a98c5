"""Who imports whom among the platform's modules, and the import cycles.

    python scripts/import_graph.py            # modules, then packages, then cycles
    python scripts/import_graph.py --check    # exit 1 if modules import each other in a circle

Every import counts, at the top of a module or inside a function: an import deferred into a
function hides a cycle, it does not remove it. Migrations are left out (Django loads them,
nothing imports them).
"""

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "core", "messaging", "maintenance")
MODULES = ("celery_app",)


def modules() -> dict[str, Path]:
    found = {name: ROOT / f"{name}.py" for name in MODULES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The first-party modules that `name` imports (a package's submodule when named)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()

    def resolve(candidate: str) -> str:
        while candidate and candidate not in known:
            candidate = candidate.rpartition(".")[0]
        return candidate

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found = [resolve(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from package import module` imports that module; `from module import name`
            # imports the module.
            found = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else resolve(base)
                for alias in node.names
            ]
        else:
            continue
        targets.update(target for target in found if target and target != name)
    return targets


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(name, path, known) for name, path in sorted(found.items())}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in edges:
        if node not in index:
            visit(node)
    return result


def top(name: str) -> str:
    return name.split(".")[0]


def main() -> int:
    edges = graph()
    packages = defaultdict(set)
    for name, targets in edges.items():
        packages[top(name)].update(top(t) for t in targets if top(t) != top(name))
    found = cycles(edges) + cycles(packages)
    if "--check" not in sys.argv:
        print("## Modules\n")
        for name, targets in edges.items():
            print(f"{name} -> {', '.join(sorted(targets)) or '(none)'}")
        print("\n## Packages\n")
        for name, targets in sorted(packages.items()):
            print(f"{name} -> {', '.join(sorted(targets)) or '(none)'}")
        print("\n## Cycles\n")
    for component in found:
        print("cycle: " + " <-> ".join(component))
    if not found:
        print("no cycles")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
