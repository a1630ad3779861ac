"""stationlink.protocol is sans-I/O: it imports no serial, socket, asyncio, threading,
sqlite or time.sleep, directly (AST of every module) or indirectly (a fresh interpreter)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import stationlink.protocol

FORBIDDEN = ("serial", "socket", "asyncio", "threading", "sqlite3", "sqlite_utils",
             "select", "selectors", "_thread", "multiprocessing", "subprocess")
PROTOCOL_DIR = Path(stationlink.protocol.__file__).parent


def test_no_forbidden_import_in_any_protocol_module() -> None:
    modules = sorted(PROTOCOL_DIR.glob("*.py"))
    assert len(modules) >= 8
    bad: list[str] = []
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                if name.split(".")[0] in FORBIDDEN or name == "time.sleep":
                    bad.append(f"{path.name}:{node.lineno}: {name}")
            if isinstance(node, ast.Attribute) and node.attr == "sleep":
                bad.append(f"{path.name}:{node.lineno}: .sleep")
    assert bad == []


def test_importing_the_protocol_package_loads_no_io_module() -> None:
    code = (
        "import sys, json, pkgutil, importlib\n"
        "before = set(sys.modules)\n"
        "import stationlink.protocol as p\n"
        "for m in pkgutil.iter_modules(p.__path__):\n"
        "    importlib.import_module('stationlink.protocol.' + m.name)\n"
        "new = set(sys.modules) - before\n"
        f"print(json.dumps([m for m in {list(FORBIDDEN)!r} if m in new]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert json.loads(out.stdout) == []
