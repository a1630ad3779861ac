"""One exception tree: every StationLinkError subclass lives in errors.py and is drawn there.

Every module of ``stationlink`` and ``stationlink_sim`` is imported, then every subclass of
:class:`~stationlink.errors.StationLinkError` is checked: defined in ``stationlink.errors``
(except the explicit list below, each with its reason) and named in the tree drawn in that
module's docstring.
"""

from __future__ import annotations

import importlib
import pkgutil

import stationlink
import stationlink.errors as errors
import stationlink_sim

#: Defined outside errors.py for now, each with why; the list must stay exact.
OUTSIDE: dict[str, str] = {}


def every_error_class() -> set[type[errors.StationLinkError]]:
    for package in (stationlink, stationlink_sim):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    seen: set[type[errors.StationLinkError]] = set()
    todo: list[type[errors.StationLinkError]] = [errors.StationLinkError]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo.extend(cls.__subclasses__())
    return seen


def test_every_error_class_is_defined_in_errors_py_but_the_listed_ones() -> None:
    outside = {f"{c.__module__}.{c.__qualname__}" for c in every_error_class()
               if c.__module__ != "stationlink.errors"}
    assert outside == set(OUTSIDE)


def test_every_error_class_is_in_the_drawn_tree() -> None:
    tree = errors.__doc__ or ""
    drawn = {line.split("── ")[1].split()[0] for line in tree.splitlines() if "── " in line}
    drawn.add("StationLinkError")
    assert {c.__name__ for c in every_error_class()} - drawn == set()
    assert all(name in drawn for name in errors.__all__ if name.endswith("Error"))
