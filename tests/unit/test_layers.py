"""The layering of docs/design.md: every core module imports only modules below
it, and the in-tree plugins import only segbench's public surface.

Imports are read from the source (``ast``), at any depth: a lazy import inside a
function counts as much as one at the top of the file.
"""

import ast
from pathlib import Path

import pytest

import segbench

ROOT = Path(segbench.__file__).parent
REPO = ROOT.parent

#: Every core module or package, bottom to top; each imports only those before
#: it, so there are no cycles. ``segbench`` is the package itself
#: (``segbench/__init__.py``: the plugin-facing names and ``__version__``). A new
#: module must be placed here (the first test fails naming it).
LAYERS = [
    "errors",       # SegbenchError, InputError, message helpers
    "results",      # the results contract: file and column names, metric keys
    "difficulty",   # image features, numpy/scipy only
    "io",           # images, label images, dataset folders, atomic writes
    "metrics",      # matching and scores, numpy/scipy only
    "api",          # Segmenter, Generator, Dataset, Sample
    "plugins",      # hook specs, plugin manager, entry-point loading
    "kit",          # helpers for plugin authors
    "segbench",     # the package's own names
    "builtin",      # the built-in plugins (procedural, otsu-watershed, dsb2018-sample)
    "suite",        # YAML schema, validation, matrix expansion
    "run",          # suite -> jobs -> executors -> result store
    "testing",      # test segmenters and check_segmenter (which builds models as the runner does)
    "realism",      # how far generated images are from real ones
    "paired",       # paired resampling of a dataset's images
    "leaderboard",  # ranked, pooled scores per dataset
    "agreement",    # does one dataset rank variants as a reference does
    "report",       # reading a results folder; tables, plots, the HTML report
    "cli",          # the segbench command
    "__main__",     # python -m segbench
]

#: What a plugin package (plugins/*/segbench_*/) may import from segbench, and why:
PLUGIN_SURFACE = {
    "segbench": "the plugin-facing types, hookimpl and normalize (docs/plugins.md)",
    "segbench.kit": "the helpers written for plugin authors",
    "segbench.errors": "the errors a plugin raises so the runner reports one line",
    "segbench.io": "reading and writing images and dataset folders (docs/data.md)",
}
# segbench.testing is for a plugin's tests (plugins/*/tests), which are not checked
# here: they may drive the runner and score predictions as an end user would.

#: the libraries the core never imports (docs/design.md): plugins bring them.
HEAVY = ("torch", "tensorflow", "cellpose", "stardist")
#: where the core may import one of them anyway: file -> library, and why
HEAVY_ALLOWED = {
    "kit.py": "torch",  # torch_device(), called only by plugins that already use torch
}


def _imports(path: Path, package: tuple[str, ...]) -> list[str]:
    """Every module ``path`` imports, as absolute dotted names (``import a.b``:
    ``a.b``; ``from a import b``: the module ``a.b`` if there is one, else ``a``),
    ``package`` being the package ``path`` lives in (for relative imports)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found += [_module(f"{module}.{alias.name}") for alias in node.names]
    return found


def _module(dotted: str) -> str:
    """``dotted`` without trailing names that are not segbench modules
    (``segbench.errors.InputError`` -> ``segbench.errors``); other libraries'
    names are left as they are."""
    parts = dotted.split(".")
    if parts[0] != "segbench":
        return dotted
    while len(parts) > 1:
        here = ROOT.joinpath(*parts[1:])
        if here.is_dir() or here.with_suffix(".py").is_file():
            break
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str | None:
    """The LAYERS entry a segbench module belongs to; None outside segbench."""
    parts = module.split(".")
    if parts[0] != "segbench":
        return None
    return parts[1] if len(parts) > 1 else "segbench"


def _core_files() -> list[tuple[str, Path, tuple[str, ...]]]:
    """(layer, file, package) of every core module."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        first = path.relative_to(ROOT).parts[0]
        unit = "segbench" if first == "__init__.py" else first.removesuffix(".py")
        out.append((unit, path, path.relative_to(REPO).parts[:-1]))
    return out


def test_every_core_module_has_a_layer():
    units = {unit for unit, _, _ in _core_files()}
    assert sorted(units - set(LAYERS)) == []
    assert sorted(set(LAYERS) - units) == []  # no stale entry


def test_each_core_module_imports_only_layers_below_it():
    problems = []
    for unit, path, package in _core_files():
        for module in _imports(path, package):
            target = _unit(module)
            if target not in (None, unit) and LAYERS.index(target) > LAYERS.index(unit):
                problems.append(f"{path.relative_to(REPO)} imports {module} ({target} is above {unit})")
    assert problems == []


def test_the_core_never_imports_the_deep_learning_libraries():
    problems = []
    for _, path, package in _core_files():
        for module in _imports(path, package):
            library = module.split(".")[0]
            if library in HEAVY and HEAVY_ALLOWED.get(str(path.relative_to(ROOT))) != library:
                problems.append(f"{path.relative_to(REPO)} imports {module}")
    assert problems == []


def _plugin_files() -> list[tuple[Path, tuple[str, ...]]]:
    """(file, package) of every module of the in-tree plugin packages."""
    return [
        (path, path.relative_to(folder.parent).parts[:-1])
        for folder in sorted((REPO / "plugins").glob("*/segbench_*"))
        if folder.is_dir()
        for path in sorted(folder.rglob("*.py"))
    ]


def test_plugins_import_only_the_public_surface():
    files = _plugin_files()
    assert files, "no in-tree plugin found under plugins/*/segbench_*"
    found = set()
    for path, package in files:
        for module in _imports(path, package):
            if _unit(module) is not None and module not in PLUGIN_SURFACE:
                found.add(f"{path.relative_to(REPO)}: {module}")
    assert sorted(found) == [], "import these from " + ", ".join(PLUGIN_SURFACE)


@pytest.mark.parametrize(
    "source, package, expected",
    [
        ("from ..leaderboard import build_leaderboards", ("segbench", "report"), ["segbench.leaderboard"]),
        ("from . import render", ("segbench", "report"), ["segbench.report.render"]),
        ("from .. import __version__", ("segbench", "report"), ["segbench"]),
        ("import segbench.io.images as images", ("segbench_gan",), ["segbench.io.images"]),
        ("from segbench import kit", ("segbench_gan",), ["segbench.kit"]),
        ("from segbench.errors import InputError, did_you_mean", ("segbench_gan",), ["segbench.errors"] * 2),
        ("from segbench.io.datasets import open_dataset", ("segbench_gan",), ["segbench.io.datasets"]),
        ("from .snapshots import atomic_save", ("segbench_gan", "stylegan3"), ["segbench_gan.stylegan3.snapshots.atomic_save"]),
        ("def f():\n    import torch", ("segbench",), ["torch"]),
    ],
)
def test_imports_are_resolved_as_python_does(tmp_path, source, package, expected):
    path = tmp_path / "module.py"
    path.write_text(source)
    assert _imports(path, package) == expected
