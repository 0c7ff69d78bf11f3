"""The house rule, checked: capabilities are layered over the core, and nothing imports in a circle.

``lint-imports`` holds the layer contract written in pyproject.toml (the core never imports a
capability subpackage; cli over widgets over campaigns over receipts over sandbox). This test
runs it, and finds every import circle in the package with grimp (the graph library under
import-linter), lazy imports inside functions included: a circle means two modules that
cannot be understood, or changed, one without the other.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_layer_contract_holds() -> None:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    run = subprocess.run([command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "BROKEN" not in run.stdout


def test_no_module_of_the_package_imports_in_a_circle() -> None:
    graph = grimp.build_graph("cams_notebook", include_external_packages=False)
    circles = set()
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None and module != imported:
                circles.add(" -> ".join((module, *back)))
    # a package importing its own submodules (re-exports in __init__) is no circle of logic
    real = sorted(c for c in circles if not _only_package_reexports(c))
    assert real == [], "\n".join(real)


def _only_package_reexports(chain: str) -> bool:
    """A chain like ``pkg.sub -> pkg``, where a module imports its own package's ``__init__``."""
    parts = chain.split(" -> ")
    return any(b.startswith(a + ".") or a.startswith(b + ".")
               for a, b in zip(parts, parts[1:], strict=False))


def test_every_core_module_is_under_the_core_contract() -> None:
    """A module added at the top of the package is core: the contract must name it, or it could
    import a subpackage unchecked."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    core = next(c for c in config["contracts"] if c["type"] == "forbidden")["source_modules"]
    package = ROOT / "cams_notebook"
    top = {f"cams_notebook.{p.stem}" for p in package.glob("*.py")
           if p.stem not in ("__init__", "__main__", "testing")}
    top |= {f"cams_notebook.{p.parent.name}" for p in package.glob("*/__init__.py")
            if p.parent.name not in ("campaigns", "receipts", "sandbox", "widgets", "cli")}
    assert sorted(top - set(core)) == []
