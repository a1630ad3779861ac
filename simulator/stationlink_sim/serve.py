"""Start emulated terminals in-process: configuration, assembly and the public Python API.

Contract:
- :class:`TerminalConfig` is everything one emulated terminal needs (kind, dialect, id,
  where to serve, seed, faults, baud, journal file, card key); :meth:`TerminalConfig.check`
  raises :class:`~stationlink.errors.ConfigError` for contradictions (byte-level faults on a
  TCP listener, both or neither of pty/listen).
- :func:`start_terminal` builds device, session, port and runner and starts the runner
  thread; the returned :class:`RunningTerminal` has ``url`` (what ``stationlink.connect``
  takes: ``serial:///dev/pts/N?baud=B`` or ``tcp://127.0.0.1:PORT``), ``device`` (the model:
  journal, counters, executed count) and ``session`` (fault statistics), and ``stop()``.
- :func:`serve_terminal` is the context-manager form: the terminal runs inside the ``with``
  block and is stopped (every descriptor closed) on exit, also on error.
- ``close_on_garbage`` (TCP): the terminal closes the connection on bytes that do not
  frame, as docs/protocol.md §1.2 asks (the default); ``close_on_garbage=False`` models the
  field's pre-rule firmware that slides over them (a host must cope with both). Serial
  ignores it (the line resynchronises on STX).
- ``script`` (:class:`~.script.Script`): scripted misbehaviour, one step per request
  (docs/simulator.md "Scripted misbehaviour").
- :meth:`RunningTerminal.wait_ready` waits (bounded) until the terminal serves: its runner
  is alive and its line is not dead (after a ``power_cycle`` the terminal boots for
  ``outage``); a test waits on it instead of sleeping. :meth:`RunningTerminal.close_after`
  loses one answer: the next request of a type is executed, then the connection closes
  before its response leaves (what a host must survive around a money-moving call).
- ``deviation`` (a name of :data:`.deviations.DEVIATIONS`): the terminal carries that one
  seeded deviation from docs/protocol.md (docs/simulator.md "Deviations"); an unknown name
  is a ConfigError. ``control`` (a socket path or ``tcp://127.0.0.1:PORT``): a control
  socket (:mod:`.control`) through which another process power-cycles the terminal
  (``stationlink sim power-cycle``); ``RunningTerminal.control`` is its server.
- Everything random comes from ``seed``: the same seed and faults give the same device
  answers and the same fault decisions for the same traffic.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stationlink.clock import SystemClock, TimeSource
from stationlink.errors import ConfigError
from stationlink.protocol import Dialect, Message, Transport

from .clock import TerminalClock
from .control import ControlServer
from .customers import CardSource
from .deviations import get_deviation
from .device import EmulatedTerminal, TerminalIdentity, TerminalKind
from .faults import FaultSpec, parse_faults
from .journal import Journal
from .pacing import Pacer
from .ports import Port, PtyPort, TcpPort
from .runner import TerminalRunner
from .script import Script
from .session import TerminalSession
from .waiting import wait_until

DEFAULT_CARD_KEY = b"stationlink-sim-card-key"


def parse_listen(text: str, *, source: str = "--listen") -> tuple[str, int]:
    """``tcp://HOST:PORT`` -> ``(host, port)``; port 0 lets the OS choose."""
    split = urlsplit(text)
    try:
        port = split.port
    except ValueError as exc:
        raise ConfigError(f"{source}: bad port in {text!r}: {exc}") from exc
    if split.scheme != "tcp" or not split.hostname or port is None or split.path not in ("", "/"):
        raise ConfigError(f"{source}: expected tcp://HOST:PORT, not {text!r}")
    return split.hostname, port


@dataclass(frozen=True)
class TerminalConfig:
    """One emulated terminal, as given on the command line or in a station.toml."""

    kind: TerminalKind
    dialect: Dialect
    terminal_id: str = "SIM00001"
    serial_number: str = ""
    pty: bool = False
    listen: tuple[str, int] | None = None
    seed: int = 0
    faults: FaultSpec = field(default_factory=FaultSpec)
    baud: int | None = None
    journal_path: Path | None = None
    card_key: bytes = DEFAULT_CARD_KEY
    close_on_garbage: bool = True
    deviation: str | None = None  # deviations.py: one seeded deviation
    control: str | None = None  # control socket address (control.py)
    source: str = "terminal"  # names the config in errors

    def check(self) -> None:
        if self.pty == (self.listen is not None):
            raise ConfigError(f"{self.source}: give exactly one of pty or listen")
        if len(self.terminal_id) != 8 or not self.terminal_id.isascii() or not (
            self.terminal_id.isprintable()
        ):
            raise ConfigError(
                f"{self.source}: terminal id must be 8 printable ASCII characters, "
                f"not {self.terminal_id!r}"
            )
        if self.baud is not None and self.baud <= 0:
            raise ConfigError(f"{self.source}: baud must be positive, not {self.baud}")
        if not self.card_key:
            raise ConfigError(f"{self.source}: the card key is empty")
        if self.deviation is not None:
            get_deviation(self.deviation, source=f"{self.source}: deviation")
        if self.listen is not None:
            serial_only = self.faults.serial_only_items()
            if serial_only:
                raise ConfigError(
                    f"{self.source}: faults {', '.join(serial_only)} act on serial lines "
                    "only (TCP does not corrupt bytes); serve on a pty to use them"
                )

    @property
    def transport(self) -> Transport:
        return Transport.TCP if self.listen is not None else Transport.SERIAL


@dataclass
class RunningTerminal:
    """A started emulated terminal (see :func:`start_terminal`)."""

    config: TerminalConfig
    device: EmulatedTerminal
    session: TerminalSession
    port: Port
    runner: TerminalRunner
    control: ControlServer | None = None

    @property
    def url(self) -> str:
        if isinstance(self.port, PtyPort):
            baud = self.config.baud or 9600
            return f"{self.port.url}?baud={baud}"
        return self.port.url

    @property
    def path(self) -> str | None:
        """The pty device path (``None`` for TCP)."""
        return self.port.path if isinstance(self.port, PtyPort) else None

    def describe(self) -> dict[str, Any]:
        """What the CLI prints: id, kind, dialect and where to connect."""
        out: dict[str, Any] = {
            "terminal_id": self.config.terminal_id,
            "kind": self.config.kind.value,
            "dialect": self.config.dialect.value,
            "url": self.url,
        }
        if self.path is not None:
            out["pty"] = self.path
        else:
            out["listen"] = self.port.url
        return out

    @property
    def ready(self) -> bool:
        """The runner serves and the line is up (not booting after a power cycle)."""
        return self.runner.is_alive() and not self.session.line_dead(self.session.monotonic())

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Return once :attr:`ready`; :class:`~stationlink.errors.SimulatorError` after
        ``timeout`` seconds (naming the terminal and why it is not ready)."""
        wait_until(lambda: self.ready, timeout,
                   f"terminal {self.config.terminal_id} at {self.url} to serve", error=(
                       lambda: self.runner.error))

    def close_after(self, kind: type[Message]) -> list[bool]:
        """The terminal executes the next ``kind`` request, then closes the connection before
        its response leaves. The list returned holds ``True`` until that happened."""
        real = self.device.handle
        armed = [True]

        def handle(request: Message) -> Message:
            response = real(request)
            if armed[0] and isinstance(request, kind):
                armed[0] = False
                self.session.apply_event("disconnect")  # the runner closes the socket, unsent
            return response

        self.device.handle = handle  # type: ignore[method-assign]
        return armed

    def stop(self) -> None:
        if self.control is not None:
            self.control.close()
        self.runner.stop()

    def on_control(self, command: str) -> str:
        """Answer one control-socket command (see :mod:`.control`)."""
        if command == "ping":
            return f"ok ping {self.config.terminal_id}"
        if command != "power_cycle":
            return f"error unknown command {command[:40]!r}"
        if not self.runner.request_event("power_cycle").wait(10.0):
            return "error the terminal did not power-cycle within 10 s"
        self.wait_ready(self.session.spec.duration("outage") + 10.0)
        return f"ok power_cycle boot_id={self.device.boot_id}"


def build_device(
    config: TerminalConfig,
    *,
    base_clock: TimeSource | None = None,
    card_source: CardSource | None = None,
) -> EmulatedTerminal:
    """The device model of ``config`` (journal loaded from its file, clock faults applied)."""
    clock = TerminalClock(
        base_clock or SystemClock(),
        drift_ppm=config.faults.drift_ppm,
        offset=timedelta(seconds=config.faults.clock_offset_s),
    )
    identity = TerminalIdentity(
        config.kind,
        config.dialect,
        config.terminal_id,
        config.serial_number or _serial_number(config),
        config.card_key,
    )
    journal = Journal(path=config.journal_path, card_key=config.card_key)
    return EmulatedTerminal(
        identity, clock=clock, seed=config.seed, journal=journal, card_source=card_source,
        deviation=config.deviation,
    )


def _serial_number(config: TerminalConfig) -> str:
    rng = random.Random(f"{config.seed}:serial:{config.terminal_id}")
    prefix = "MP" if config.dialect is Dialect.MISPOS_1 else "SL"
    return f"{prefix}{config.kind.value[0].upper()}{rng.randrange(10**9):09d}"


def start_terminal(
    config: TerminalConfig,
    *,
    base_clock: TimeSource | None = None,
    card_source: CardSource | None = None,
    device: EmulatedTerminal | None = None,
    script: Script | None = None,
) -> RunningTerminal:
    """Build and start one emulated terminal; the caller must ``stop()`` it."""
    config.check()
    if device is None:
        device = build_device(config, base_clock=base_clock, card_source=card_source)
    pacer = Pacer(config.baud)
    session = TerminalSession(
        device, config.transport, config.faults, seed=config.seed,
        monotonic=time.monotonic, byte_time=pacer.byte_time,
        close_on_garbage=config.close_on_garbage, script=script, deviation=config.deviation,
    )
    port: Port = PtyPort() if config.pty else TcpPort(*_listen(config))
    runner = TerminalRunner(session, port, baud=config.baud, seed=config.seed)
    runner.start()
    running = RunningTerminal(config, device, session, port, runner)
    if config.control is not None:
        try:
            running.control = ControlServer(
                config.control, running.on_control, source=f"{config.source}: control")
        except ConfigError:
            running.stop()
            raise
    return running


def _listen(config: TerminalConfig) -> tuple[str, int]:
    assert config.listen is not None  # noqa: S101 - checked by config.check()
    return config.listen


@contextmanager
def serve_terminal(
    kind: str | TerminalKind = "card",
    dialect: str | Dialect = "sl-2",
    *,
    pty: bool = False,
    listen: str | None = None,
    seed: int = 0,
    faults: str | FaultSpec = "",
    baud: int | None = None,
    terminal_id: str = "SIM00001",
    journal_path: Path | None = None,
    card_key: bytes = DEFAULT_CARD_KEY,
    card_source: CardSource | None = None,
    base_clock: TimeSource | None = None,
    close_on_garbage: bool = True,
    script: Script | None = None,
    deviation: str | None = None,
    control: str | None = None,
) -> Iterator[RunningTerminal]:
    """Run one emulated terminal for the duration of a ``with`` block.

    ``listen`` is ``tcp://HOST:PORT`` (port 0 picks a free port); without ``pty`` and
    ``listen`` it listens on ``tcp://127.0.0.1:0``.
    """
    try:
        kind_v, dialect_v = TerminalKind(kind), Dialect(dialect)
    except ValueError as exc:
        raise ConfigError(f"serve_terminal: {exc}") from exc
    if not pty and listen is None:
        listen = "tcp://127.0.0.1:0"
    spec = faults if isinstance(faults, FaultSpec) else parse_faults(faults)
    config = TerminalConfig(
        kind=kind_v, dialect=dialect_v, terminal_id=terminal_id, pty=pty,
        listen=parse_listen(listen) if listen is not None else None, seed=seed,
        faults=spec, baud=baud, journal_path=journal_path, card_key=card_key,
        close_on_garbage=close_on_garbage, deviation=deviation, control=control,
    )
    running = start_terminal(config, base_clock=base_clock, card_source=card_source,
                             script=script)
    try:
        yield running
    finally:
        running.stop()
