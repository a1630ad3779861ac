"""Bill-payment round trip over a paced serial link vs. the pure wire time of its bytes.

A pty pair stands for the cable. Both ends pace their writes like a UART at the chosen baud
(10 bits per byte, 8N1): a slice of bytes is handed to the pty only when its last byte
would have finished on a real wire, and ``write`` returns when the line is free again (as
``flush`` does on a real port). The terminal end is an emulated terminal on
``TerminalConnection`` that answers instantly (processing time zero); the host end is the
real blocking client (``stationlink.client.Terminal``).

Measured: the time of ``pay_bill`` (request out, ACK + response in, final ACK out).
Baseline: (bytes host->terminal + bytes terminal->host, ACKs included) * 10 / baud,
counted on the same run. Ratio = median measured / wire. Goal: <= 1.05 at 9600 baud.

    python benchmarks/roundtrip.py [--payments 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import statistics
import sys
import threading
import time
import tty
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from stationlink.client import Terminal
from stationlink.protocol import (
    BillPaymentRequest,
    BillPaymentResponse,
    Dialect,
    JournalRecord,
    RequestReceived,
    ResultCode,
    TerminalConnection,
    Transport,
    TxnKind,
    TxnStatus,
)
from stationlink.transport.serial_port import SerialStream, open_serial
from stationlink.transport.url import parse_url

CST = timezone(timedelta(hours=8))
KEY = b"bench-key"


class Pacer:
    """Writes like a UART at ``baud``: nothing arrives before it would on a real wire."""

    def __init__(self, write: Callable[[bytes], None], baud: int) -> None:
        self._write = write
        self.byte_time = 10 / baud
        self.slice = max(1, int(0.001 / self.byte_time))  # about 1 ms of bytes per write
        self.free_at = 0.0
        self.count = 0

    def write(self, data: bytes) -> None:
        start = max(time.perf_counter(), self.free_at)
        for i in range(0, len(data), self.slice):
            chunk = data[i : i + self.slice]
            done = start + (i + len(chunk)) * self.byte_time
            _sleep_until(done)
            self._write(chunk)
        self.free_at = start + len(data) * self.byte_time
        self.count += len(data)


def _sleep_until(t: float) -> None:
    while True:
        left = t - time.perf_counter()
        if left <= 0:
            return
        time.sleep(left if left > 0.0005 else 0)


class PacedStream:
    """The host's serial stream with paced, counted writes."""

    def __init__(self, inner: SerialStream, baud: int) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.byte_time = 10 / baud
        self.description = inner.description
        self.pacer = Pacer(inner.write, baud)

    def read(self, timeout: float | None) -> bytes:
        return self.inner.read(timeout)

    def write(self, data: bytes) -> None:
        self.pacer.write(data)

    def close(self) -> None:
        self.inner.close()


def terminal_loop(fd: int, baud: int, dialect: Dialect, stop: threading.Event,
                  counter: list[int]) -> None:
    conn = TerminalConnection(dialect, Transport.SERIAL, terminal_id="T0000001",
                              card_key=KEY, clock=time.monotonic, byte_time=10 / baud)

    def raw_write(data: bytes) -> None:
        while data:
            data = data[os.write(fd, data):]

    pacer = Pacer(raw_write, baud)
    cursor = 0
    while not stop.is_set():
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            conn.handle_timeout()
            continue
        for ev in conn.receive_data(os.read(fd, 4096)):
            if isinstance(ev, RequestReceived) and isinstance(ev.message, BillPaymentRequest):
                req = ev.message
                cursor += 1
                rec = JournalRecord(
                    cursor, f"R{cursor:011d}", req.client_ref, TxnKind.BILL_PAYMENT,
                    req.product, req.account, req.amount_fen, TxnStatus.APPROVED,
                    ResultCode.APPROVED, datetime(2026, 5, 1, tzinfo=CST), cursor, 1)
                conn.send_response(BillPaymentResponse(req.header, ResultCode.APPROVED, rec))
        out = conn.data_to_send()
        if out:
            pacer.write(out)
            counter[0] += len(out)


def run(baud: int, payments: int, dialect: Dialect) -> dict[str, float]:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    stop = threading.Event()
    counter = [0]
    thread = threading.Thread(target=terminal_loop, args=(master, baud, dialect, stop, counter),
                              daemon=True)
    thread.start()
    stream = PacedStream(open_serial(parse_url(os.ttyname(slave), baudrate=baud)), baud)
    term = Terminal.open(stream, card_key=KEY, dialect=dialect, rng=random.Random(1))
    ratios, times, wires = [], [], []
    try:
        term.pay_bill("mobile", "13800000000", Decimal("1.00"))  # warm-up
        for _ in range(payments):
            time.sleep(0.02)
            host0, term0 = stream.pacer.count, counter[0]
            t0 = time.perf_counter()
            result = term.pay_bill("mobile", "13800000000", Decimal("45.30"))
            elapsed = time.perf_counter() - t0
            if not result.approved:
                raise SystemExit(f"payment not approved: {result}")
            time.sleep(0.01)  # let the terminal's byte counter settle
            wire_bytes = (stream.pacer.count - host0) + (counter[0] - term0)
            wire = wire_bytes * 10 / baud
            times.append(elapsed)
            wires.append(wire)
            ratios.append(elapsed / wire)
    finally:
        term.close()
        stop.set()
        thread.join(2)
        os.close(master)
        os.close(slave)
    return {
        "baud": baud,
        "payments": payments,
        "wire_bytes": round(statistics.median(wires) * baud / 10),
        "wire_ms": statistics.median(wires) * 1000,
        "roundtrip_ms_median": statistics.median(times) * 1000,
        "roundtrip_ms_max": max(times) * 1000,
        "ratio_median": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=20)
    parser.add_argument("--dialect", choices=[d.value for d in Dialect], default="sl-2")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [run(baud, args.payments, Dialect(args.dialect)) for baud in (9600, 115200)]
    summary = {
        "ratio_to_wire_9600": results[0]["ratio_median"],
        "ratio_to_wire_115200": results[1]["ratio_median"],
        "goal_9600": 1.05,
        "runs": results,
    }
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
        return
    for r in results:
        print(f"{r['baud']:>6} baud: {r['wire_bytes']} bytes, wire {r['wire_ms']:.2f} ms, "
              f"round trip median {r['roundtrip_ms_median']:.2f} ms "
              f"(max {r['roundtrip_ms_max']:.2f}), ratio {r['ratio_median']:.3f}")
    verdict = "meets" if summary["ratio_to_wire_9600"] <= 1.05 else "misses"
    print(f"ratio to wire at 9600 baud: {summary['ratio_to_wire_9600']:.3f} ({verdict} 1.05)")


if __name__ == "__main__":
    main()
