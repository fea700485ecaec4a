"""The layers import downwards only: `sigecve` (the Ray-free core) < `ml` < `actors` <
`serve_deployments` < `composition` (the composition root). Every import counts, those
inside functions too: they are how a core reaches up unseen."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("sigecve", "ml", "actors", "serve_deployments", "composition")


def imported_packages(path: Path) -> set[str]:
    """The top-level names every import statement in the file names."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def upward_imports(layer: str) -> list[str]:
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    return sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / layer).rglob("*.py")
        for name in imported_packages(path) & above
    )


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_a_layer_imports_nothing_above_it(layer):
    assert upward_imports(layer) == []


def test_the_core_is_ray_free():
    assert [
        str(path.relative_to(ROOT))
        for path in (ROOT / "sigecve").rglob("*.py")
        if "ray" in imported_packages(path)
    ] == []


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from actors.directory import HostDirectory\n")
    assert imported_packages(module) == {"actors"}
