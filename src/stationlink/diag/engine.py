"""One diagnosis run: connect (finding baud rate and dialect), run every check, report.

Contract:
- :func:`run_diag` never raises for what it finds on the line: an unusable URL, a port
  that will not open or a terminal that answers nothing is the ``connection`` check's
  failure (exit code 3); a check whose requests fail gets its own ``*.failed`` finding and
  the run goes on. Only programming errors escape.
- Order: ``connection`` (:mod:`.probe`), ``identify``, ``device`` (status read before and
  after the link check), ``link`` (:mod:`.link`), ``clock`` (the last reading against
  ``host_time`` taken right after it), ``buffer`` (:mod:`.station`, when a buffer is given;
  else ``skipped``). Without a connection every other check is ``skipped``.
- Sends only IDENTIFY, DEVICE_STATUS, ECHO, JOURNAL_READ and SETTLEMENT_TOTALS: no
  money-moving request, no JOURNAL_ACK, nothing that sets the clock or changes the terminal.
- ``host_time`` (aware wall clock: the PC's time the terminal clock is compared with),
  ``clock`` (monotonic, real: ports are read with real timeouts), ``rng`` (echo payloads,
  sequence numbers) and ``sleep`` are injectable.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..buffer import Buffer
from ..client import DeviceStatus, TerminalInfo
from ..clock import MonotonicClock, SystemClock
from ..errors import (
    ConfigError,
    LinkError,
    ProtocolError,
    StationLinkError,
    TerminalError,
    TransportError,
)
from ..protocol import Dialect, Transport
from ..transport.url import Endpoint, parse_url
from .catalogue import Lang, label
from .checks import clock_check, device_check, identify_check, identity
from .link import judge, measure
from .model import CHECK_ORDER, Check, Report, Status
from .probe import Search, find
from .session import Session
from .station import buffer_check, last_seen

DEFAULT_ECHO = 10
STATUS_RETRY_WAIT = 0.5  # seconds between device-status attempts
CLIENT_ERRORS = (LinkError, ProtocolError, TerminalError, TransportError)


@dataclass(frozen=True)
class DiagOptions:
    baud: int | None = None  # None: the URL's, else found
    dialect: Dialect | None = None  # None: found
    echo: int = DEFAULT_ECHO  # echo exchanges per payload size
    lang: Lang = "zh"
    buffer: Path | None = None
    agent_state: Path | None = None
    card_key: bytes | None = None  # tokens of journal records read (never stored)


def endpoint_for(url: str, baud: int | None) -> tuple[Endpoint, int | None]:
    """The endpoint and the baud rate the user fixed (``--baud`` or ``?baud=``), if any
    (also the conformance kit's)."""
    endpoint = parse_url(url)
    if endpoint.kind is Transport.TCP:
        return endpoint, None
    if baud is not None:
        return dataclasses.replace(endpoint, baudrate=baud), baud
    if "baud" in parse_qs(urlsplit(url).query):
        return endpoint, endpoint.baudrate
    return endpoint, None


def _connection(check: Check, search: Search, baud: int | None, dialect: Dialect | None,
                lang: Lang) -> None:
    check.measurements = {
        "probes": [{"baud": a.baud, "dialect": a.dialect.value, "result": a.result,
                    "seconds": round(a.seconds, 3)} for a in search.attempts],
        "baud": None, "dialect": None, "confidence": None,
        "baud_given": baud, "dialect_given": None if dialect is None else dialect.value,
    }
    found = search.found
    if found is None:
        check.add("connection.none", Status.FAIL, tried=len(search.attempts))
        return
    serial = found.endpoint.kind is Transport.SERIAL
    rate = found.endpoint.baudrate if serial else None
    check.measurements.update(baud=rate, dialect=found.dialect.value,
                              confidence=found.confidence)
    shown = f"{rate} baud" if rate else "TCP"
    if lang == "zh" and rate:
        shown = f"{rate} 波特"
    if found.confidence == "sure":
        check.add("connection.found", Status.OK, baud=shown, dialect=found.dialect.value,
                  confidence=label("sure", lang))
    else:
        check.add("connection.likely", Status.WARNING, baud=shown, dialect=found.dialect.value)
    if baud is not None and rate is not None and rate != baud:
        check.add("connection.baud_mismatch", Status.FAIL, given=baud, found=rate)
    if dialect is not None and found.dialect != dialect:
        check.add("connection.dialect_mismatch", Status.FAIL, given=dialect.value,
                  found=found.dialect.value)


def _skip_rest(report: Report) -> None:
    for name in CHECK_ORDER:
        if name not in report.checks:
            report.check(name).add("check.not_run", Status.SKIPPED)


def run_diag(
    url: str, options: DiagOptions = DiagOptions(), *,
    host_time: Callable[[], datetime] | None = None, clock: MonotonicClock = time.monotonic,
    rng: random.Random | None = None, sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Diagnose the terminal at ``url`` (see the module docstring); ``host_time``
    defaults to the machine's clock."""
    host_time = host_time if host_time is not None else SystemClock().now
    rng = rng if rng is not None else random.Random(secrets.randbits(64))  # noqa: S311
    card_key = options.card_key or secrets.token_bytes(32)
    lang = options.lang
    began = clock()
    report = Report(url, host_time(), lang)
    conn = report.check("connection")
    try:
        endpoint, baud = endpoint_for(url, options.baud)
        search = find(endpoint, baud=baud, dialect=options.dialect, card_key=card_key,
                      clock=clock, host_time=host_time, first_seq=rng.randrange(1, 65536))
    except (ConfigError, TransportError) as exc:
        target = url
        conn.add("connection.open_failed", Status.FAIL, target=target, error=str(exc))
        _skip_rest(report)
        report.seconds = clock() - began
        return report
    _connection(conn, search, baud, options.dialect, lang)
    conn.seconds = search.seconds
    conn.wire_bytes = sum(a.wire_bytes for a in search.attempts)
    if search.found is None:
        _skip_rest(report)
        report.seconds = clock() - began
        return report
    report.connected = True
    session = Session(search.found.endpoint, search.found.dialect, card_key=card_key,
                      clock=clock, host_time=host_time, rng=rng, sleep=sleep)
    try:
        _checks(report, session, options, rng)
    finally:
        session.close()
    report.seconds = clock() - began
    return report


def _timed(check: Check, session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn``, adding its time and the bytes it moved on the line to ``check``."""
    start, before = session.clock(), session.counted()
    try:
        fn()
    finally:
        after = session.counted()
        check.seconds += session.clock() - start
        check.wire_bytes += (after[0] - before[0]) + (after[1] - before[1])


def _buffer(check: Check, buf: Buffer, terminal_id: str, session: Session,
            options: DiagOptions) -> None:
    try:
        buffer_check(check, buf, options.agent_state, session.terminal(), terminal_id,
                     session.host_time(), options.lang)
    except StationLinkError as exc:
        check.add("buffer.failed", Status.FAIL, error=str(exc))


def _checks(report: Report, session: Session, options: DiagOptions, rng: random.Random) -> None:
    clock, lang = session.clock, options.lang
    info: TerminalInfo | None = None
    readings: list[tuple[datetime, datetime, int | None]] = []  # terminal, pc, boot id

    def do_identify() -> None:
        nonlocal info
        check = report.check("identify")
        try:
            info = session.call(lambda t: t.identify())
        except CLIENT_ERRORS as exc:
            check.add("identify.failed", Status.FAIL, error=str(exc))
            return
        readings.append((info.terminal_time, session.host_time(), None))
        report.terminal = identify_check(check, info)

    def status() -> DeviceStatus | None:
        deadline = clock() + session.reopen_for  # a lost line or a reboot takes a while
        while True:
            try:
                s = session.call(lambda t: t.device_status())
            except CLIENT_ERRORS:
                if clock() >= deadline:
                    return None
                session.sleep(STATUS_RETRY_WAIT)
                continue
            readings.append((s.terminal_time, session.host_time(), s.boot_id))
            return s

    _timed(report.check("identify"), session, do_identify)
    device = report.check("device")
    before: DeviceStatus | None = None

    def first_status() -> None:
        nonlocal before
        before = status()

    _timed(device, session, first_status)
    link = report.check("link")
    echoes = None

    def do_link() -> None:
        nonlocal echoes
        echoes = measure(session, n=options.echo, rng=rng)

    _timed(link, session, do_link)
    assert echoes is not None  # noqa: S101 - do_link set it or raised

    def second_status() -> None:
        after = status()
        if before is None and after is None:
            device.add("device.failed", Status.FAIL, error="no DEVICE_STATUS answer")
        elif before is None:
            assert after is not None  # noqa: S101 - checked just above
            device_check(device, after, None, lang)
        else:
            device_check(device, before, after, lang)

    _timed(device, session, second_status)
    judge(link, echoes, session)
    clock_c = report.check("clock")
    if not readings:
        clock_c.add("check.not_run", Status.SKIPPED)
    buf = None
    if options.buffer is not None:
        try:
            buf = Buffer.open(options.buffer, create=False)
        except StationLinkError as exc:
            report.check("buffer").add("buffer.failed", Status.FAIL, error=str(exc))
    terminal_id = info.terminal_id if info is not None else None
    try:
        if readings:
            term_time, pc_time, boot_id = readings[-1]
            seen = last_seen(buf, terminal_id) if buf is not None and terminal_id else None
            _timed(clock_c, session, lambda: clock_check(
                clock_c, term_time, pc_time, lang, boot_id=boot_id, last_seen=seen))
        bcheck = report.check("buffer")
        if buf is not None and terminal_id is not None:
            _timed(bcheck, session, lambda: _buffer(bcheck, buf, terminal_id, session, options))
        elif options.buffer is None:
            bcheck.add("buffer.not_given", Status.SKIPPED)
        elif not bcheck.findings:
            bcheck.add("check.not_run", Status.SKIPPED)
    finally:
        if buf is not None:
            buf.close()
    if report.terminal is None and info is not None:
        report.terminal = identity(info)
