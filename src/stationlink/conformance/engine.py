"""One conformance run: connect, identify, run every selected case, report.

Contract:
- :func:`run_conformance` never raises for what it finds on the device: an unusable URL or
  a device that answers nothing gives a report with ``connected`` false (exit 3) and every
  case ``not_applicable`` (could not connect); a case that fails records why and the bytes
  exchanged, and the run goes on. Only programming errors escape. An unknown ``--only`` id
  is a :class:`~stationlink.errors.ConfigError` raised before anything is sent.
- Connection set-up is the diagnosis's (:func:`stationlink.diag.probe.find`: one IDENTIFY
  per dialect, the given one first); the kit then tests the dialect the device answered in
  and asks IDENTIFY again over its own link for the report's device identity. When the
  probe was not sure (its strict receiver refused the answers: a late ACK, a CRC sent low
  byte first), the kit's own link, which tolerates what only one case judges, asks
  IDENTIFY in each dialect (the given or probed one first) and tests the one that answers.
- A case is ``not_applicable`` (with the reason) when not selected by ``only``, not for this
  kind of terminal or transport, a money case without ``allow_money`` (no money-moving
  request is sent then, by any case), CF-JOURNAL-POWER without a power-cycle hook,
  CF-CARD-MASK when the firmware does not claim masking.
- ``host_time`` (the PC's aware clock), ``clock`` (monotonic, real: ports are read with real
  timeouts) and ``rng`` (sequence numbers, payloads, client refs) are injectable.
"""

from __future__ import annotations

import random
import secrets
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..clock import MonotonicClock, SystemClock
from ..diag.catalogue import Lang
from ..diag.engine import endpoint_for
from ..diag.probe import find, open_endpoint
from ..errors import ConfigError, StationLinkError, TransportError
from ..protocol import Dialect, IdentifyRequest, IdentifyResponse, MsgType
from . import cases_app, cases_link
from .catalogue import CASES, CaseSpec, label
from .context import Ctx
from .model import CaseResult, KitReport, Verdict
from .wire import CaseFailed, NotApplicable

RUNNERS: dict[str, Callable[[Ctx], str]] = {
    "CF-FRAME-SERIAL": cases_link.frame_serial,
    "CF-FRAME-TCP": cases_link.frame_tcp,
    "CF-ACK-TIMER": cases_link.ack_timer,
    "CF-RETRANS": cases_link.retransmission,
    "CF-NAK-BADSUM": cases_link.nak_bad_checksum,
    "CF-GARBAGE": cases_link.garbage,
    "CF-OTHER-DIALECT": cases_link.other_dialect,
    "CF-RESYNC": cases_link.resync,
    "CF-DUPLICATE": cases_app.duplicate,
    "CF-SEQ-WRAP": cases_link.seq_wrap,
    "CF-HEARTBEAT": cases_link.heartbeat,
    "CF-STATUS-LOST": cases_app.status_lost,
    "CF-JOURNAL-PAGE": cases_app.journal_page,
    "CF-JOURNAL-POWER": cases_app.journal_power,
    "CF-SETTLEMENT": cases_app.settlement,
    "CF-DEVICE-STATUS": cases_app.device_status,
    "CF-CARD-MASK": cases_app.card_mask,
    "CF-MAX-FRAME": cases_link.max_frame,
    "CF-CLOCK": cases_app.clock,
}


@dataclass(frozen=True)
class KitOptions:
    kind: str  # "bill" | "card"
    dialect: Dialect | None = None  # tried first; None: found
    only: tuple[str, ...] = ()  # case ids; empty: all
    allow_money: bool = False
    power_cycle: Callable[[], None] | None = None
    lang: Lang = "zh"
    card_key: bytes | None = None
    product: str = "mobile"  # the bill product and account of the test payments
    account: str = "13800000000"
    amount_fen: int = 1


def command_hook(command: str) -> Callable[[], None]:
    """``--power-cycle-cmd``: run ``command`` (no shell); a failure fails the case."""
    argv = shlex.split(command)
    if not argv:
        raise ConfigError("--power-cycle-cmd: empty command")

    def run() -> None:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60,  # noqa: S603
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CaseFailed(f"power-cycle command {command!r} failed: {exc}") from exc
        if done.returncode != 0:
            raise CaseFailed(f"power-cycle command {command!r} exited {done.returncode}: "
                             f"{done.stderr.strip()[:200]}")

    return run


def _not_applicable(spec: CaseSpec, opts: KitOptions, ctx: Ctx) -> str | None:
    lang = opts.lang
    if opts.only and spec.id not in opts.only:
        return label("na.only", lang)
    if opts.kind not in spec.kinds:
        return label("na.kind", lang)
    if ctx.transport not in spec.transports:
        return label("na.transport", lang)
    if spec.money and not opts.allow_money:
        return label("na.money", lang)
    if spec.needs_power_cycle and opts.power_cycle is None:
        return label("na.power", lang)
    return None


def identity(msg: IdentifyResponse) -> dict[str, Any]:
    return {
        "terminal_id": msg.header.terminal_id, "vendor": msg.vendor, "model": msg.model,
        "serial_number": msg.serial_number, "firmware": msg.firmware,
        "dialect": msg.dialect.value, "capabilities": sorted(msg.capabilities),
        "terminal_time": msg.terminal_time.isoformat(),
    }


def _identify(ctx: Ctx) -> IdentifyResponse | None:
    """The device's IDENTIFY through the kit's own link (which tolerates what only one case
    judges, e.g. a CRC byte order the probe's receiver refuses); None without an answer."""
    ctx.begin("identify")
    try:
        w = ctx.wire()
        msg, _ = w.request(IdentifyRequest(w.header(MsgType.IDENTIFY, ctx.seq()),
                                           ctx.host_time()))
    except CaseFailed:
        return None
    finally:
        ctx.end()
    return msg if isinstance(msg, IdentifyResponse) else None


def run_case(spec: CaseSpec, ctx: Ctx) -> CaseResult:
    ctx.begin(spec.id)
    try:
        reason = RUNNERS[spec.id](ctx)
        verdict = Verdict.PASS
    except CaseFailed as exc:
        verdict, reason = Verdict.FAIL, str(exc)
    except NotApplicable as exc:
        verdict, reason = Verdict.NOT_APPLICABLE, str(exc)
    except StationLinkError as exc:
        verdict, reason = Verdict.FAIL, f"{type(exc).__name__}: {exc}"
    finally:
        ctx.end()
    return CaseResult(spec, verdict, reason, list(ctx.transcript), ctx.clock() - ctx.t0)


def run_conformance(
    url: str, options: KitOptions, *, host_time: Callable[[], datetime] | None = None,
    clock: MonotonicClock = time.monotonic, rng: random.Random | None = None,
) -> KitReport:
    """Run the catalogue against the device at ``url`` (see the module docstring)."""
    unknown = [i for i in options.only if i not in RUNNERS]
    if unknown:
        raise ConfigError(f"unknown case id {', '.join(unknown)} (see conformance --list)")
    if options.kind not in ("bill", "card"):
        raise ConfigError(f"kind is bill or card, not {options.kind!r}")
    host_time = host_time if host_time is not None else SystemClock().now
    rng = rng if rng is not None else random.Random(secrets.randbits(64))  # noqa: S311
    card_key = options.card_key or secrets.token_bytes(32)
    began = clock()
    report = KitReport(url, options.kind, host_time(), options.lang)
    try:
        endpoint, baud = endpoint_for(url, None)
        search = find(endpoint, baud=baud, dialect=options.dialect, card_key=card_key,
                      clock=clock, host_time=host_time, first_seq=rng.randrange(1, 65536))
    except (ConfigError, TransportError) as exc:
        report.connect_error = str(exc)
        search = None
    if search is None or search.found is None:
        if search is not None:
            report.connect_error = f"no answer to IDENTIFY ({len(search.attempts)} probes)"
        why = label("na.unreachable", options.lang)
        report.results = [CaseResult(s, Verdict.NOT_APPLICABLE, why) for s in CASES]
        report.seconds = clock() - began
        return report
    found = search.found
    assert found is not None  # noqa: S101 - tested above
    report.connected = True
    report.dialect, report.transport = found.dialect.value, found.endpoint.kind.value
    ctx = Ctx(found.endpoint, found.dialect, options.kind, card_key, clock, host_time, rng,
              open_endpoint, allow_money=options.allow_money, power_cycle=options.power_cycle,
              product=options.product, account=options.account,
              amount_fen=options.amount_fen, lang=options.lang)
    ident = _identify(ctx)
    if found.confidence != "sure":  # e.g. a late ACK or a CRC byte order the probe refused
        for d in dict.fromkeys([options.dialect or found.dialect, *Dialect]):
            ctx.dialect = d
            ident = _identify(ctx)
            if ident is not None and ident.dialect is d:
                break
        else:
            ctx.dialect, ident = found.dialect, None
        report.dialect = ctx.dialect.value
    ident = ident or found.identify
    if ident is not None:
        report.identity = identity(ident)
        ctx.identity = ident
        ctx.terminal_id = ident.header.terminal_id
    for spec in CASES:
        na = _not_applicable(spec, options, ctx)
        if na is not None:
            report.results.append(CaseResult(spec, Verdict.NOT_APPLICABLE, na))
            continue
        report.results.append(run_case(spec, ctx))
    report.money = list(ctx.money)
    report.seconds = clock() - began
    return report
