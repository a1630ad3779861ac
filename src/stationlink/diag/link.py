"""The link check: N echo exchanges at several payload sizes, and what the whole run saw.

Contract:
- :func:`measure` sends ``n`` ECHO requests of each size in :data:`ECHO_SIZES` (seeded
  random payloads) through the :class:`~.session.Session`, one at a time, timing each round
  trip on the monotonic clock together with the bytes that crossed the line; it returns the
  :class:`Echoes`. :func:`judge` runs once the other checks are done (so an outage or a
  dropped connection during any request counts) and fills the check.
- Measurements: ``exchanges``, ``answered``, ``timeouts``, ``failed`` (no ACK after the
  retransmissions, connection closed, refused), ``rtt_ms`` (``p50``, ``p95``, ``max``, and
  ``samples``: ``[size, ms]`` per answered exchange, for the chart), ``wire_ms_p95`` (the
  pure wire time of the same exchanges: bytes x 10 bits / baud; 0 on TCP), ``naks_sent``
  (frames that arrived with a bad check value), ``naks_received``, ``frames_sent``,
  ``acks_received``, ``unacked`` (request frames the terminal never ACKed, serial),
  ``retransmissions``, ``damaged_frames`` (frame-shaped stretches rejected: bad check value,
  length, ETX), ``garbage_bytes`` and ``garbage_per_1000_frames`` (stray bytes outside any
  frame), ``bad_payloads``, ``drops``, ``outage_s``, ``throughput_bps`` and
  ``wire_limit_bps`` (bytes a second; the limit is baud / 10, ``None`` on TCP) and
  ``utilisation`` (their ratio; an emulated pty, where only the terminal is paced, can exceed 1).
- Verdicts (docs/diag.md): ``link.corrupt`` (damaged frames or echoed payloads; warning,
  fail above 10 % of frames), ``link.noise`` (more than :data:`NOISE_PER_1000` stray bytes
  per thousand frames; warning), ``link.unacked`` (frames not ACKed or sent again; warning),
  ``link.slow`` (p95 round trip more than :data:`SLOW_MARGIN` above the wire time; warning),
  ``link.outage`` (serial: failed requests followed by answered ones; fail),
  ``link.dropped`` (TCP: a connection ended under us; fail), ``link.timeouts`` (echoes
  unanswered outside an outage; warning, fail above 20 %), ``link.failed`` (no echo answered;
  fail), else ``link.ok``.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field
from typing import Any

from ..errors import LinkTimeoutError
from ..protocol import Transport
from .model import Check, Status
from .session import CLIENT_ERRORS, Session

ECHO_SIZES = (0, 64, 200)
NOISE_PER_1000 = 10.0
SLOW_MARGIN = 0.3  # seconds above the wire time
GARBAGE_REASON = "garbage outside a frame"


@dataclass
class Echoes:
    exchanges: int = 0
    samples: list[tuple[int, float, float]] = field(default_factory=list)  # size, rtt, wire
    timeouts: int = 0
    failed: int = 0
    bad_payloads: int = 0
    moved: int = 0  # bytes that crossed the line during answered exchanges
    busy: float = 0.0  # seconds of answered exchanges
    last_error: str = ""


def _pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def measure(session: Session, *, n: int, rng: random.Random) -> Echoes:
    """Run the echo exchanges (see the module docstring)."""
    clock, byte_time = session.clock, session.byte_time
    out = Echoes(exchanges=n * len(ECHO_SIZES))
    for size in ECHO_SIZES:
        payload = bytes(rng.randrange(256) for _ in range(size))
        for _ in range(n):
            before = session.counted()
            start = clock()
            try:
                got = session.call(lambda t, p=payload: t.echo(p))  # type: ignore[misc]
            except CLIENT_ERRORS as exc:
                out.last_error = str(exc)
                if isinstance(exc, LinkTimeoutError):
                    out.timeouts += 1
                else:
                    out.failed += 1
                continue
            rtt = clock() - start
            after = session.counted()
            crossed = (after[0] - before[0]) + (after[1] - before[1])
            out.moved += crossed
            out.busy += rtt
            out.samples.append((size, rtt, crossed * byte_time))
            if got != payload:
                out.bad_payloads += 1
    return out


def judge(check: Check, echoes: Echoes, session: Session) -> None:
    """Fill ``check`` from the echoes and from everything the session saw."""
    session.harvest()
    stats = session.stats
    serial = session.endpoint.kind is Transport.SERIAL
    samples = echoes.samples
    rtts = [s[1] for s in samples]
    frames = max(1, stats["frames_received"] + stats["rejected"])
    garbage = sum(f.length for f in session.faults if f.reason == GARBAGE_REASON)
    damaged = sum(1 for f in session.faults if f.reason != GARBAGE_REASON)
    limit = session.endpoint.baudrate / 10 if serial else None
    throughput = echoes.moved / echoes.busy if echoes.busy > 0 else 0.0
    outage = max(session.outages) if session.outages else None
    unacked = max(0, stats["frames_sent"] - stats["ack_received"]) if serial else 0
    m: dict[str, Any] = {
        "exchanges": echoes.exchanges,
        "payload_sizes": list(ECHO_SIZES),
        "answered": len(samples),
        "timeouts": echoes.timeouts,
        "failed": echoes.failed,
        "rtt_ms": None if not rtts else {
            "p50": round(_pct(rtts, 50) * 1000, 1),
            "p95": round(_pct(rtts, 95) * 1000, 1),
            "max": round(max(rtts) * 1000, 1),
            "samples": [[size, round(rtt * 1000, 1)] for size, rtt, _ in samples],
        },
        "wire_ms_p95": round(_pct([s[2] for s in samples], 95) * 1000, 1) if samples else 0.0,
        "naks_sent": stats["nak_sent"],
        "naks_received": stats["nak_received"],
        "frames_sent": stats["frames_sent"],
        "acks_received": stats["ack_received"],
        "unacked": unacked,
        "retransmissions": stats["retransmissions"],
        "frames_received": stats["frames_received"],
        "damaged_frames": damaged,
        "garbage_bytes": garbage,
        "garbage_per_1000_frames": round(garbage * 1000 / frames, 1),
        "bad_payloads": echoes.bad_payloads,
        "drops": session.drops,
        "outage_s": 0.0 if outage is None else round(outage[0], 1),
        "throughput_bps": round(throughput, 1),
        "wire_limit_bps": limit,
        "utilisation": None if limit is None else round(throughput / limit, 3),
    }
    check.measurements = m
    if not samples:
        check.add("link.failed", Status.FAIL, error=echoes.last_error or "-")
        return
    bad = damaged + echoes.bad_payloads
    if bad:
        check.add("link.corrupt", Status.FAIL if bad > 0.1 * frames else Status.WARNING,
                  bad_frames=bad)
    if m["garbage_per_1000_frames"] > NOISE_PER_1000:
        check.add("link.noise", Status.WARNING, garbage_per_1000=m["garbage_per_1000_frames"])
    if unacked or m["retransmissions"]:
        check.add("link.unacked", Status.WARNING, unacked=unacked, frames=m["frames_sent"],
                  retransmissions=m["retransmissions"])
    if _pct([rtt - wire for _, rtt, wire in samples], 95) > SLOW_MARGIN:
        check.add("link.slow", Status.WARNING, p95_ms=m["rtt_ms"]["p95"],
                  wire_ms=m["wire_ms_p95"])
    if session.drops and not serial:
        check.add("link.dropped", Status.FAIL, drops=session.drops)
    elif outage is not None and serial:
        check.add("link.outage", Status.FAIL, seconds=round(outage[0], 1), failed=outage[1])
    lost = echoes.timeouts + echoes.failed
    if lost and outage is None:
        check.add("link.timeouts", Status.FAIL if lost > 0.2 * echoes.exchanges
                  else Status.WARNING, timeouts=lost, exchanges=echoes.exchanges)
    if not check.findings:
        check.add("link.ok", Status.OK, exchanges=echoes.exchanges, p50_ms=m["rtt_ms"]["p50"])
