"""Each package's public API is its `__all__`, and the other rooms use nothing else.

As httpx's test_exported_members does for httpx: the names a package exports are exactly its
public members. monitor.store imports its API eagerly; ingest, matching and deliver list
theirs in `__init__.pyi` and import each name when first used (lazy_loader), so for them
every listed name must resolve to something defined in the package."""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import pytest

MONITOR = Path(__file__).resolve().parent.parent / "monitor"
PACKAGES = ("ingest", "deliver", "matching", "store")
LAZY = ("ingest", "deliver", "matching")


def test_the_store_exports_exactly_its_public_members():
    store = importlib.import_module("monitor.store")
    public = {name for name, value in vars(store).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)
              and name != "annotations"}
    assert sorted(store.__all__) == sorted(public)


@pytest.mark.parametrize("name", LAZY)
def test_a_lazy_package_exports_what_its_stub_lists_and_each_name_resolves(name: str):
    package = importlib.import_module(f"monitor.{name}")
    stub = ast.parse((MONITOR / name / "__init__.pyi").read_text(encoding="utf-8"))
    listed = [alias.name for node in stub.body if isinstance(node, ast.ImportFrom)
              for alias in node.names]
    assert len(listed) == len(set(listed)), "a name listed twice"
    assert package.__all__ == sorted(listed)
    assert dir(package) == package.__all__
    for member in package.__all__:
        value = getattr(package, member)
        assert not isinstance(value, types.ModuleType), member
        defined_in = getattr(value, "__module__", None)
        if defined_in is not None and isinstance(value, type | types.FunctionType):
            assert defined_in.startswith(f"monitor.{name}."), (member, defined_in)
    with pytest.raises(AttributeError):
        package.no_such_member  # noqa: B018


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
    return found


def test_rooms_use_each_others_packages_only_through_their_public_api():
    """Outside a package, `from monitor.matching import Engine` is fine; reaching into
    `monitor.matching.engine`, or importing a name the package does not export, is not."""
    exports = {name: set(importlib.import_module(f"monitor.{name}").__all__)
               for name in PACKAGES}
    problems = []
    for path in sorted(MONITOR.rglob("*.py")):
        room = path.relative_to(MONITOR).parts[0]
        for module, names, line in _imports(path):
            parts = module.split(".")
            if parts[0] != "monitor" or len(parts) < 2 or parts[1] not in PACKAGES:
                continue
            if parts[1] == room:
                continue
            where = f"{path.relative_to(MONITOR.parent)}:{line}"
            if len(parts) > 2:
                problems.append(f"{where} imports {module}")
            problems += [f"{where} imports {name} from {module}, which does not export it"
                         for name in names if name not in exports[parts[1]]]
    assert problems == []
