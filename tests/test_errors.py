"""The exception tree drawn in monitor/errors.py is the one the code has."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import monitor
from monitor import errors

# The tree's lines: indentation (in steps of five characters) and the class name.
_LINE = re.compile(r"^    (?P<indent>(?: [│ ]   )*)(?: [├└]── )?(?P<name>[A-Z][A-Za-z]+)\b")


def drawn_tree() -> dict[str, str | None]:
    """class name → its parent's name, as the docstring draws them."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        match = _LINE.match(line)
        if not match or not line.strip().startswith(("MonitorError", "├", "└", "│")):
            continue
        depth = len(match["indent"]) // 5 + (0 if line.strip() == "MonitorError" else 1)
        del stack[depth:]
        parents[match["name"]] = stack[-1] if stack else None
        stack.append(match["name"])
    return parents


def public_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined (not imported) in a monitor module, without the private
    ones (a leading underscore) and the ones private to their module by convention."""
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(monitor.__path__, "monitor."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__ == module.__name__ and not name.startswith("_")):
                found[name] = value
    return found


def test_the_drawn_tree_is_the_class_tree():
    drawn = drawn_tree()
    assert drawn["MonitorError"] is None and len(drawn) > 10
    classes = public_exceptions()
    for name, parent in drawn.items():
        if parent is not None:
            assert classes[name].__mro__[1].__name__ == parent, name


def test_every_public_exception_is_in_the_tree():
    """A new exception gets a place under a package's base and a line in the drawing; the
    fast parser's Unsupported is its own control flow and never leaves fastfeed.py."""
    internal = {"Unsupported"}
    assert set(public_exceptions()) - internal == set(drawn_tree())
