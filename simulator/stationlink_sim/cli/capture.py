"""``stationlink record`` and ``stationlink replay``: capture a terminal link, replay it.

Output contract (scripts and tests read it): the first stdout line of ``record`` is
``host side URL`` (what the host opens), of ``replay`` ``terminal side URL`` (where the host
under test connects), flushed at once. ``record`` then forwards until SIGINT/SIGTERM or
``--duration`` and prints a summary (``--json``: one JSON object). ``replay`` prints the
result (``--json``: one JSON object with ``outcome``) and exits 0 when the host matched the
capture, 11 when it diverged (the divergence is printed), 12 when it stopped before the host
finished without a divergence (``--timeout``, a signal, a host that never connected: said
so), 3 for a bad capture file, 2 for bad options.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from stationlink.cli.common import handles_errors
from stationlink.errors import ConfigError

_STOP = threading.Event()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _STOP.set()


def _wait(seconds: float | None, alive: Any) -> None:
    """Block until SIGINT/SIGTERM, ``seconds`` elapsed, or ``alive()`` turns false."""
    _STOP.clear()
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        waited = 0.0
        while not _STOP.wait(0.1):
            waited += 0.1
            if not alive() or (seconds is not None and waited >= seconds):
                return
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _meta(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"--meta: expected KEY=VALUE, not {item!r}")
        out[key] = value
    return out


@click.command()
@click.option("--between", nargs=2, required=True, metavar="URL_A URL_B",
              help="URL_A: the host's side ('pty', tcp://HOST:PORT to listen on, or a serial "
                   "port); URL_B: the terminal (serial port/URL or tcp://HOST:PORT).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Capture file to write (JSON lines).")
@click.option("--dialect", type=click.Choice(["mispos-1", "sl-2"]), default=None,
              help="Skip sniffing the dialect from the terminal's bytes.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds (default: until SIGINT/SIGTERM).")
@click.option("--meta", multiple=True, metavar="KEY=VALUE",
              help="Free-form note stored in the header (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_errors
def record(between: tuple[str, str], out: Path, dialect: str | None, duration: float | None,
           meta: tuple[str, ...], as_json: bool) -> None:
    """Forward bytes between a host and a terminal unchanged and record a capture.

    Card numbers are redacted in the capture at capture time (docs/simulator.md,
    "Capture and replay"); the line itself is not altered.
    """
    from stationlink.protocol import Dialect
    from stationlink_sim.capture.recorder import Recorder

    recorder = Recorder(
        between[0], between[1], out, dialect=None if dialect is None else Dialect(dialect),
        meta=_meta(meta),
    )
    recorder.start()
    click.echo(f"host side {recorder.host_url}")
    try:
        _wait(duration, recorder.is_alive)
    finally:
        trailer = recorder.stop()
    summary = {
        "capture": str(out), "dialect": recorder.writer.dialect and str(recorder.writer.dialect),
        "seconds": round(trailer.t, 3), "chunks": trailer.chunks,
        "bytes_h2t": trailer.bytes_h2t, "bytes_t2h": trailer.bytes_t2h,
        "cards_redacted": trailer.cards_redacted,
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"recorded {summary['chunks']} chunks ({trailer.bytes_h2t} bytes host to "
                   f"terminal, {trailer.bytes_t2h} back) in {summary['seconds']} s, dialect "
                   f"{summary['dialect']}, {trailer.cards_redacted} card fields redacted: {out}")


@click.command()
@click.argument("capture", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--against", default=None, metavar="URL",
              help="Terminal side to serve: 'pty' (default for serial captures), "
                   "tcp://HOST:PORT to listen on (default tcp://127.0.0.1:0), or a serial port.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Keep the recorded timing, X times faster (default: as fast as possible).")
@click.option("--realtime", is_flag=True, help="Keep the recorded timing (same as --speed 1).")
@click.option("--stall-timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Host silence (s) that counts as a divergence.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Give up after this many seconds in all (default: wait for the host).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
@handles_errors
def replay(ctx: click.Context, capture: Path, against: str | None, speed: float | None,
           realtime: bool, stall_timeout: float, timeout: float | None, as_json: bool) -> None:
    """Play the terminal side of a capture to a host under test and check the host's bytes.

    Exit status: 0 when the host matched the capture, 11 when it diverged (where and how is
    printed), 12 when the replay stopped (--timeout, a signal) before the host finished
    without diverging, e.g. a host that never connected; 3 for a bad capture file, 2 for
    bad options.
    """
    from stationlink_sim.capture.replayer import Replayer

    if realtime and speed is not None:
        raise ConfigError("give --speed or --realtime, not both")
    replayer = Replayer(capture, against=against, speed=1.0 if realtime else speed,
                        stall_timeout=stall_timeout)
    replayer.start()
    click.echo(f"terminal side {replayer.url}")
    try:
        _wait(timeout, lambda: replayer.is_alive() and not replayer.finished)
    finally:
        result = replayer.stop()
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        click.echo(result.describe())
    if result.exit_code:
        ctx.exit(result.exit_code)
