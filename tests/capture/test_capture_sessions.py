"""CI replays every captured session of firmware_fixtures/sessions/ against the real client.

Each capture is served by the replayer on a real pty or TCP socket; the host side is
``stationlink.connect`` running the session's scenario (``<name>.host.json``) with a host
seed different from the recording's, so sequence numbers and client refs differ and are
mapped. The host must not diverge, and must observe what the recording host observed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stationlink.capture import Capture, read_capture
from stationlink.protocol import (
    BillPaymentRequest,
    Codec,
    DeviceStatusResponse,
    Dialect,
    Message,
    ResultCode,
    StatusQuery,
    StatusResponse,
    WithdrawalRequest,
)
from stationlink_sim.capture.hostplay import replay_host
from stationlink_sim.capture.replayer import Replayer
from stationlink_sim.capture.script import Expect, HostScanner, Send, build_script

SESSIONS = Path(__file__).resolve().parents[2] / "firmware_fixtures" / "sessions"
CAPTURES = sorted(SESSIONS.glob("*.jsonl"))
KEY = bytes(32)


def _scenario(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_suffix(".host.json").read_text("utf-8"))
    return data


_REPLAYS: dict[Path, tuple[list[dict[str, Any]], Any]] = {}


def _replay(path: Path) -> tuple[list[dict[str, Any]], Any]:
    """Replay ``path`` against the real client (once per test run; results kept)."""
    if path not in _REPLAYS:
        _REPLAYS[path] = _replay_now(path)
    return _REPLAYS[path]


def _replay_now(path: Path) -> tuple[list[dict[str, Any]], Any]:
    scenario = _scenario(path)
    return replay_host(Replayer(path, stall_timeout=10), scenario["ops"], card_key=KEY,
                       seed=scenario["seed"] + 1, timers=scenario["timers"], timeout=20)


def _host_messages(cap: Capture) -> list[Message]:
    script = build_script(cap)
    out = []
    for step in script.steps:
        if isinstance(step, Expect) and step.token.kind == "frame":
            assert step.token.dialect is not None
            out.append(Codec(step.token.dialect, KEY).decode(step.token.body))
    return out


def _terminal_messages(cap: Capture) -> list[Message]:
    script = build_script(cap)
    assert cap.header.dialect is not None
    codec = Codec(cap.header.dialect, KEY)
    return [codec.decode(u.body) for u in script.units if u.body is not None]


def test_every_dialect_kind_and_transport_has_a_normal_day() -> None:
    names = {p.name.removesuffix(".jsonl") for p in CAPTURES}
    for dialect in ("mispos-1", "sl-2"):
        for kind in ("bill", "card"):
            for transport in ("serial", "tcp"):
                assert f"day-{dialect}-{kind}-{transport}" in names
        for what in ("noisy", "lost", "power"):
            assert any(n.startswith(f"{what}-{dialect}-") for n in names), (what, dialect)
    assert sum(p.stat().st_size for p in SESSIONS.iterdir()) < 2_000_000


@pytest.mark.slow
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_session_replays_without_divergence(path: Path) -> None:
    scenario = _scenario(path)
    cap = read_capture(path)
    assert cap.complete
    assert cap.header.dialect is Dialect(scenario["dialect"])
    assert cap.header.transport.value == scenario["transport"]
    observed, result = _replay(path)
    assert result.ok, result.describe()
    assert result.steps_done == result.steps
    assert observed == scenario["observed"]


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in CAPTURES if p.stem.startswith("lost-")],
                         ids=lambda p: p.stem)
def test_lost_response_is_resolved_by_one_status_query_never_a_resend(path: Path) -> None:
    observed, result = _replay(path)
    assert result.ok, result.describe()
    lost = [o for o in observed if o.get("resolved_by") == "status_query"]
    assert lost, "the capture has no lost response"
    cap = read_capture(path)
    messages = _host_messages(cap)
    payments: dict[str, set[int]] = {}
    for msg in messages:
        if isinstance(msg, BillPaymentRequest):
            payments.setdefault(msg.client_ref, set()).add(msg.header.seq)
    assert all(len(seqs) == 1 for seqs in payments.values())  # never sent as a new request
    # every payment without a response frame was asked about by status query
    answered = {m.header.seq for m in _terminal_messages(cap)}
    unanswered = {ref for ref, seqs in payments.items() if not seqs & answered}
    assert len(unanswered) == len(lost)
    queried = [m.client_ref for m in messages if isinstance(m, StatusQuery)]
    for ref in unanswered:
        assert queried.count(ref) == 1
    # the lost payments are approved ones (accounts the emulated biller knows): the status
    # query finds them executed, and the journal holds each payment exactly once
    assert all(o["outcome"] == "approved" and o["status"] == "APPROVED" for o in lost), lost
    found = [m for m in _terminal_messages(cap) if isinstance(m, StatusResponse)]
    assert len(found) == len(lost)
    assert all(m.found and m.record is not None and m.record.result is ResultCode.APPROVED
               for m in found)
    journal = [o for o in observed if "records" in o]
    assert journal[-1]["records"] == len(payments)


@pytest.mark.slow
def test_power_cycle_over_tcp_leaves_the_lost_withdrawal_unknown_then_resolves_it() -> None:
    """The connection dies after the withdrawal was written: unknown, never an exception.

    The terminal rebooted before executing it; after reconnecting, one status query (with the
    same client_ref) learns it was never executed. The old recording showed LinkFailedError.
    """
    path = SESSIONS / "power-mispos-1-card-tcp.jsonl"
    scenario = _scenario(path)
    observed, result = _replay(path)
    assert result.ok, result.describe()
    assert not any("error" in o for o in observed)
    outcomes = [o for o in observed if "outcome" in o]
    assert [o["outcome"] for o in outcomes] == ["approved", "unknown"]
    assert outcomes[1]["resolved_by"] == "unresolved"
    resolved = [o["resolved"] for o in observed if "resolved" in o]
    assert len(resolved) == 1
    assert len(resolved[0]) == 1
    assert resolved[0][0]["outcome"] == "declined"  # never executed: no record
    assert resolved[0][0]["resolved_by"] == "status_query"
    assert resolved[0][0]["ref"] is None
    assert observed == scenario["observed"]
    cap = read_capture(path)
    withdrawals = [m for m in _host_messages(cap) if isinstance(m, WithdrawalRequest)]
    assert len(withdrawals) == 2  # never resent
    queries = [m for m in _host_messages(cap) if isinstance(m, StatusQuery)]
    assert [q.client_ref for q in queries] == [withdrawals[1].client_ref]
    answers = [m for m in _terminal_messages(cap) if isinstance(m, StatusResponse)]
    assert [a.found for a in answers] == [False]


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in CAPTURES if p.stem.startswith("power-")],
                         ids=lambda p: p.stem)
def test_power_cycle_shows_a_new_boot_id(path: Path) -> None:
    observed, result = _replay(path)
    assert result.ok, result.describe()
    boots = [o["boot_id"] for o in observed if "boot_id" in o]
    assert len(boots) >= 2
    assert boots[-1] > boots[0]
    captured = [m.boot_id for m in _terminal_messages(read_capture(path))
                if isinstance(m, DeviceStatusResponse)]
    assert captured == boots


def test_noisy_sessions_carry_noise_and_damaged_frames() -> None:
    for path in SESSIONS.glob("noisy-*.jsonl"):
        cap = read_capture(path)
        script = build_script(cap)
        raw_units = [u for u in script.units if u.body is None and u.raw not in (b"\x06",)]
        assert raw_units, f"{path.name}: no noise from the terminal"
        assert any(isinstance(s, Send) for s in script.steps)


def test_host_scanner_cuts_both_dialects_alike_at_any_split() -> None:
    cap = read_capture(SESSIONS / "day-mispos-1-bill-serial.jsonl")
    data = cap.stream("h2t")
    whole = HostScanner(Dialect.MISPOS_1, cap.header.transport)
    expected = [*whole.feed(data), *whole.flush()]
    assert expected[0].dialect is Dialect.SL_2  # the detection probe
    for cut in range(0, len(data), 7):
        scanner = HostScanner(Dialect.MISPOS_1, cap.header.transport)
        got = [*scanner.feed(data[:cut]), *scanner.feed(data[cut:]), *scanner.flush()]
        assert got == expected
