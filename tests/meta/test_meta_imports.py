"""No import circles among stationlink's and stationlink_sim's modules (static, from the AST).

Every ``import`` / ``from ... import`` statement counts, those under ``if TYPE_CHECKING:``
and inside functions included: a circle that only type checking closes is still two modules
that cannot be understood (or moved) one without the other. An edge goes to the module
imported (``from pkg import sub`` to ``pkg.sub`` when that is a module, else to ``pkg``);
the implicit import of a parent package is not an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import stationlink
import stationlink_sim

ROOTS = (Path(stationlink.__file__).parent, Path(stationlink_sim.__file__).parent)

#: Circles known and not fixed yet; each must be named by an xfail(strict=True) test below.
KNOWN: set[frozenset[str]] = set()


def module_files(roots: Iterable[Path]) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    found: dict[str, tuple[Path, bool]] = {}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root.parent).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            found[".".join(parts)] = (path, is_pkg)
    return found


def import_graph(roots: Iterable[Path]) -> dict[str, set[str]]:
    mods = module_files(roots)
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg) in mods.items():
        package = name if is_pkg else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in mods)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in mods:
                        edges.add(sub)
                    elif target in mods:
                        edges.add(target)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.add(member)
                    if member == node:
                        break
                if len(comp) > 1:
                    found.append(frozenset(comp))
    return found


def test_the_finder_sees_a_circle_closed_only_for_type_checking(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .a import A\n")
    (pkg / "sub" / "a.py").write_text("from .b import B\nclass A: ...\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..sub import a\n"
        "class B: ...\n")
    (pkg / "c.py").write_text("import pkg.sub.a\nfrom . import sub\n")
    graph = import_graph([pkg])
    assert graph["pkg.c"] == {"pkg.sub.a", "pkg.sub"}
    assert cycles(graph) == [frozenset({"pkg.sub.a", "pkg.sub.b"})]


def test_no_import_circle_but_the_known_ones() -> None:
    found = cycles(import_graph(ROOTS))
    assert [sorted(c) for c in found if c not in KNOWN] == []


def test_no_buffer_ingest_page_circle() -> None:
    assert frozenset({"stationlink.buffer.ingest", "stationlink.buffer.page"}) not in (
        cycles(import_graph(ROOTS)))
