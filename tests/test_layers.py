"""The documented layering (DESIGN.md): each layer imports only those below it."""

import ast
from pathlib import Path

import segbench

#: bottom to top; modules outside this list (builtin, testing, ...) are not checked
LAYERS = ["errors", "io", "metrics", "api", "plugins", "suite", "run", "report", "cli"]
ROOT = Path(segbench.__file__).parent


def _segbench_imports(path: Path) -> set[str]:
    """Top-level segbench submodules that ``path`` imports (relative or absolute)."""
    package = path.relative_to(ROOT.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = (node.module or "").split(".")
            names = [parts[1]] if len(parts) > 1 else [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            parts_list = [a.name.split(".") for a in node.names]
            names = [p[1] for p in parts_list if len(p) > 1 and p[0] == "segbench"]
            parts = ["segbench"]
        else:
            continue
        if parts and parts[0] == "segbench":
            found.update(names)
    return found


def test_each_layer_imports_only_layers_below_it():
    problems = []
    for rank, layer in enumerate(LAYERS):
        target = ROOT / layer
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]
        for path in files:
            for name in _segbench_imports(path):
                if name in LAYERS and LAYERS.index(name) > rank:
                    problems.append(f"{path.relative_to(ROOT)} imports segbench.{name}")
    assert problems == []
