"""The protocol's public face: ``stationlink.protocol`` and its ``__all__``, as h11 has one.

- Outside the protocol package (the library, the simulator, benchmarks, tools, the fixture
  scripts and every test but ``tests/protocol``, which tests the internals) protocol names
  are imported from ``stationlink.protocol`` only, never from one of its modules and never
  a private one. ``firmware_fixtures/make_vectors.py`` is the one exception: it writes the
  wire catalogue of ``docs/protocol.md`` from the codec's internal tag tables.
- The package's public modules are the message catalogue and the events; every other
  module is private (``_name``). ``__all__`` lists every public name, each importable.
- The message-type tables live in the catalogue (``messages.py``) and nowhere else.
- The buffer takes its own input types: neither the buffer nor the agent builds or takes a
  protocol response (no fake headers).
"""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import stationlink.protocol as protocol
from stationlink.protocol import messages

REPO = Path(__file__).resolve().parents[2]
PROTOCOL = Path(protocol.__file__).parent
SCANNED = ("src", "simulator", "benchmarks", "tools", "firmware_fixtures", "tests")
EXEMPT = {Path("tests/protocol"), Path("firmware_fixtures/make_vectors.py")}
TABLES = ("REQUEST_TYPES", "RESPONSE_TYPES", "REQUEST_CODE", "RESPONSE_CODE", "CLASS_OF",
          "TYPE_OF", "MONEY_MOVING")


def _resolve(rel: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = list(rel.with_suffix("").parts)
    package = package[1:] if package[0] in ("src", "simulator") else package
    base = package[: len(package) - node.level]
    return ".".join(base + ([node.module] if node.module else []))


def protocol_imports_outside(repo: Path) -> list[str]:
    """Every import of a protocol module, or of a private protocol name, outside the package."""
    bad: list[str] = []
    for top in SCANNED:
        for path in sorted((repo / top).rglob("*.py")):
            rel = path.relative_to(repo)
            if (rel.parts[:3] == ("src", "stationlink", "protocol") or rel in EXEMPT
                    or any(p in EXEMPT for p in rel.parents)):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    bad += [f"{rel}:{node.lineno}: import {a.name}" for a in node.names
                            if a.name.startswith("stationlink.protocol.")]
                elif isinstance(node, ast.ImportFrom):
                    module = _resolve(rel, node)
                    if module.startswith("stationlink.protocol."):
                        bad.append(f"{rel}:{node.lineno}: from {module} import ...")
                    elif module == "stationlink.protocol":
                        bad += [f"{rel}:{node.lineno}: private {a.name}" for a in node.names
                                if a.name.startswith("_")]
    return bad


def test_protocol_names_come_from_the_package_only() -> None:
    assert protocol_imports_outside(REPO) == []


def test_the_finder_sees_module_and_private_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "src" / "stationlink" / "hub"
    pkg.mkdir(parents=True)
    (pkg / "x.py").write_text(
        "from ..protocol.messages import Header\nfrom ..protocol import _codec, Codec\n"
        "import stationlink.protocol.events\nfrom stationlink.protocol import TxnKind\n")
    assert protocol_imports_outside(tmp_path) == [
        "src/stationlink/hub/x.py:1: from stationlink.protocol.messages import ...",
        "src/stationlink/hub/x.py:2: private _codec",
        "src/stationlink/hub/x.py:3: import stationlink.protocol.events",
    ]


def test_public_modules_and_all() -> None:
    public = {m.name for m in pkgutil.iter_modules(protocol.__path__)
              if not m.name.startswith("_")}
    assert public == {"events", "messages"}
    assert len(protocol.__all__) == len(set(protocol.__all__))
    for name in protocol.__all__:
        assert not name.startswith("_")
        assert getattr(protocol, name) is not None, name
    exported = {n for n in vars(protocol) if n.isidentifier() and not n.startswith("_")} - {
        "annotations"}
    assert exported - {"events", "messages"} == set(protocol.__all__)


def test_message_type_tables_live_in_the_catalogue() -> None:
    for name in TABLES:
        assert getattr(protocol, name) is getattr(messages, name), name
    defined: list[str] = []
    for path in sorted(PROTOCOL.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (node.targets if isinstance(node, ast.Assign) else
                       [node.target] if isinstance(node, ast.AnnAssign) else [])
            defined += [f"{path.name}:{t.id}" for t in targets
                        if isinstance(t, ast.Name) and t.id in TABLES]
    assert sorted(defined) == sorted(f"messages.py:{name}" for name in TABLES)
    assert messages.TYPE_OF[messages.BillPaymentRequest] is messages.MsgType.BILL_PAYMENT
    assert messages.CLASS_OF[int(messages.MsgType.ERROR)] is messages.ErrorReply
    assert set(messages.REQUEST_CODE) == set(messages.REQUEST_TYPES.values())


def test_buffer_and_agent_take_no_protocol_response() -> None:
    responses = {"Header", "DeviceStatusResponse", "SettlementTotalsResponse"}
    found: list[str] = []
    src = REPO / "src" / "stationlink"
    for path in sorted([*(src / "buffer").glob("*.py"), *(src / "agent").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and "protocol" in (node.module or ""):
                found += [f"{path.name}: {a.name}" for a in node.names if a.name in responses]
    assert found == []
