"""``stationlink monitor``: a live decoded trace of a terminal link, or of a capture / pcap file.

Contract:
- ``stationlink monitor FILE``: FILE is a capture (``stationlink record``'s format) or a
  pcap/pcapng of TCP traffic (sniffed by content); every frame is shown, in order.
- ``stationlink monitor --tap HOSTPORT TERMPORT``: forwards the PC software's link to the
  terminal unchanged (``pty`` creates a port for the PC software and prints its path; TCP:
  ``tcp://LISTEN:PORT tcp://TERMINAL:PORT``) and shows it live until Ctrl-C. The monitor
  never sends anything of its own. Ctrl-C or SIGTERM ends it (what is pending is shown).
- ``--dialect`` (default: detected passively), ``--raw`` (hex too), ``--json`` (one JSON
  object per item, for scripts), ``--lang zh|en`` (labels; Chinese by default), ``--width``
  (default: the terminal's width, 80 when not a terminal), ``--terminal-port`` (pcap: the
  terminal's TCP port when a connection's start was not captured; default 9100). Colour only
  when stdout is a terminal. ``--print-dissector-path`` prints where the Wireshark plugin
  is installed with the package, and exits.
- Exit codes (``cli/common.py``): 0 done (whatever the link carried), 2 usage/config,
  3 unreadable file (after the items read before the bad spot), 6 a tapped port failed.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import click

from ..errors import StationLinkError
from ..money import CST
from ..protocol import Dialect
from .common import echo_json, env_card_key, handles_errors, stdout_is_tty


def dissector_path() -> Path:
    """The Lua plugin shipped in the package."""
    return Path(__file__).resolve().parent.parent / "wireshark" / "stationlink.lua"


def _card_key(env: str) -> bytes:
    key = env_card_key(env)
    if key is None:
        return secrets.token_bytes(32)  # tokens are not shown as text; JSON says so
    return key


@click.command("monitor")
@click.argument("source", required=False)
@click.option("--tap", nargs=2, metavar="HOSTPORT TERMPORT", default=None,
              help="Forward a live link between the PC software's port (pty, a serial port, "
                   "or tcp://LISTEN:PORT) and the terminal's, and trace it.")
@click.option("--dialect", type=click.Choice([d.value for d in Dialect]), default=None,
              help="Dialect of the link (default: detected from the traffic).")
@click.option("--raw", is_flag=True, help="Show each frame's bytes as hex too.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--width", type=click.IntRange(40, 1000), default=None,
              help="Line width (default: the terminal's, 80 when not a terminal).")
@click.option("--terminal-port", "terminal_ports", type=click.IntRange(1, 65535), multiple=True,
              help="pcap: the terminal's TCP port (default 9100; repeatable).")
@click.option("--card-key-env", default="STATIONLINK_CARD_KEY", show_default=True,
              metavar="VAR", help="Environment variable holding the card-token key (hex).")
@click.option("--print-dissector-path", is_flag=True,
              help="Print the path of the Wireshark dissector (Lua) and exit.")
@handles_errors
def monitor(source: str | None, tap: tuple[str, str] | None, dialect: str | None, raw: bool,
            as_json: bool, lang: str, width: int | None, terminal_ports: tuple[int, ...],
            card_key_env: str, print_dissector_path: bool) -> None:
    """Show every frame on a terminal link, decoded, like a protocol analyser."""
    from ..monitor.render import Renderer

    if print_dissector_path:
        click.echo(str(dissector_path()))
        return
    if (source is None) == (tap is None):
        raise click.UsageError("give a capture/pcap FILE, or --tap HOSTPORT TERMPORT")
    key = _card_key(card_key_env)
    chosen = None if dialect is None else Dialect(dialect)
    colour = stdout_is_tty() and not as_json
    cols = width or (shutil.get_terminal_size((80, 24)).columns if stdout_is_tty() else 80)
    renderer = Renderer(width=cols, raw=raw, colour=colour, lang=lang)
    if source is not None:
        if "://" in source or not Path(source).is_file():
            raise click.UsageError(
                f"{source!r} is not a file: a live link is traced with --tap HOSTPORT TERMPORT "
                "(the monitor never opens a terminal's port on its own: it would have to "
                "talk to it)")
        from ..monitor.sources import trace_file
        ports = frozenset(terminal_ports) if terminal_ports else frozenset({9100})
        _show(trace_file(source, chosen, key, ports), renderer, as_json)
        if not as_json:
            click.echo(renderer.summary(), err=True)
        return
    assert tap is not None  # noqa: S101 - checked above
    _run_tap(tap, chosen, key, renderer, as_json, lang)


def _show(items: Iterable[object], renderer: object, as_json: bool) -> None:
    from ..monitor.render import Renderer
    from ..monitor.trace import TraceItem

    assert isinstance(renderer, Renderer)  # noqa: S101 - typed loosely to import lazily
    for item in items:
        assert isinstance(item, TraceItem)  # noqa: S101 - what the sources yield
        if as_json:
            echo_json(item.to_json())
        else:
            for line in renderer.lines(item):
                click.echo(line)


def _run_tap(tap: tuple[str, str], dialect: Dialect | None, key: bytes, renderer: object,
             as_json: bool, lang: str) -> None:
    from ..monitor.tap import Tap
    from ..monitor.text import text
    from ..monitor.trace import Tracer
    from ..protocol import Transport

    transport = Transport.TCP if tap[1].startswith("tcp://") else Transport.SERIAL
    tracer = Tracer(dialect, transport, key)
    lock = threading.Lock()

    def now() -> datetime:
        return datetime.now(CST)

    def on_bytes(direction: str, data: bytes, _t: float) -> None:
        with lock:
            _show(tracer.feed(direction, now(), data), renderer, as_json)

    def on_event(direction: str, name: str, _t: float) -> None:
        with lock:
            _show(tracer.event(direction, now(), name), renderer, as_json)

    def on_idle() -> None:
        with lock:
            _show(tracer.idle(now()), renderer, as_json)

    forwarder = Tap(tap[0], tap[1], on_bytes, on_event, on_idle)
    stop = threading.Event()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if main else None
    click.echo(text("monitor.tap.ready", lang, host=forwarder.host_url, terminal=tap[1]),
               err=True)
    try:
        forwarder.run(stop)
    except KeyboardInterrupt:
        pass
    except StationLinkError:
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        forwarder.close()
        _show(tracer.finish(now()), renderer, as_json)
