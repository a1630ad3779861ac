"""``stationlink agent ...``: run the sync agent, show its status, re-queue quarantine.

``run`` polls the terminals and uploads to the hub until SIGINT or SIGTERM (then stops
cleanly and exits 0); it prints ``agent running: station S, N terminal(s)`` on stderr once
started. ``status`` reads the buffer and the agent state (works while the agent runs) and
shows on one screen whether the station's data is flowing (Chinese, ``--lang en``).
``release`` re-queues a quarantined batch after its cause was fixed. ``referral`` records a
referral entered by the station operator (or ``--cancel`` one) in the agent's buffer,
committed before it prints; the running agent uploads it. The work is done by
:mod:`stationlink.agent` and :mod:`stationlink.buffer`; this module only parses options and
prints.
"""

from __future__ import annotations

import logging
import random
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from ..clock import SystemClock, TimeSource
from ..interchange import REFERRAL_PRODUCTS
from .common import echo_json, handles_errors

#: The wall clock of ``status`` (the "now" of the verdict), ``release`` and ``referral`` (the
#: time recorded, the default referral id's CST date); tests replace it with a
#: :class:`~stationlink.clock.ManualClock`.
CLOCK: TimeSource = SystemClock()

CONFIG = click.option("--config", "config_path", required=True,
                      type=click.Path(dir_okay=False, path_type=Path),
                      help="The agent's agent.toml.")


@click.group()
def agent() -> None:
    """The station's sync agent: terminal journals to the buffer to the hub."""


@agent.command()
@CONFIG
@click.option("--seed", type=int, default=None, help="Seed of jitter and client refs.")
@click.option("-v", "--verbose", count=True, help="More logging (-v debug).")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings and errors only.")
@handles_errors
def run(config_path: Path, seed: int | None, verbose: int, quiet: bool) -> None:
    """Run the agent until SIGINT or SIGTERM."""
    from ..agent import Agent, load_config

    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(config_path)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    names = ("SIGINT", "SIGTERM", "SIGBREAK")  # SIGBREAK: Ctrl+Break on Windows
    previous = {}
    for name in names:
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, on_signal)
    rng = random.Random(seed)  # noqa: S311 - jitter and client refs, not secrets
    try:
        with Agent(config, rng=rng) as running:
            click.echo(f"agent running: station {config.station_id}, "
                       f"{len(config.terminals)} terminal(s)", err=True)
            running.run_forever(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("agent stopped", err=True)


LANG = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
                    help="Language of the text (and of the verdict's texts in --json).")


@agent.command()
@CONFIG
@click.option("--json", "as_json", is_flag=True,
              help="One JSON document (the old keys, and the facts under 'health').")
@LANG
@click.option("--details", is_flag=True,
              help="The full listing (every entry, line and device) instead of one screen.")
@handles_errors
def status(config_path: Path, as_json: bool, lang: str, details: bool) -> None:
    """Is the station's data flowing? Verdict first, then terminals, uploads, quarantine."""
    from ..agent import agent_status, load_config, render_status, status_screen

    config = load_config(config_path)
    now = CLOCK.now()
    if as_json:
        echo_json(agent_status(config, now, lang=lang))
    elif details:
        click.echo(render_status(agent_status(config, now, lang=lang), lang))
    else:
        click.echo(status_screen(config, now, lang=lang))


@agent.command()
@CONFIG
@click.argument("entry_id", type=int)
@handles_errors
def release(config_path: Path, entry_id: int) -> None:
    """Re-queue quarantined batch ENTRY_ID (see `agent status`) after fixing its cause."""
    from ..agent import load_config
    from ..buffer import Buffer

    config = load_config(config_path)
    with Buffer.open(config.buffer_path, config.station_id, create=False) as buf:
        done = buf.release_quarantine(entry_id, CLOCK.now())
    if not done:
        raise click.ClickException(f"no open quarantine entry {entry_id}")
    click.echo(f"released quarantine entry {entry_id}; the agent uploads it on its next round")


@agent.command()
@CONFIG
@click.option("--product", type=click.Choice(list(REFERRAL_PRODUCTS)), default=None,
              help="What was referred.")
@click.option("--id", "referral_id", default=None,
              help="The referral's id (unique per station); default: <YYYYMMDD>-<n>.")
@click.option("--note", default="", help="A note kept with the referral (not exported).")
@click.option("--cancel", "cancel_id", default=None, metavar="ID",
              help="Cancel the referral ID instead (a new record; it exports as reversed).")
@handles_errors
def referral(config_path: Path, product: str | None, referral_id: str | None, note: str,
             cancel_id: str | None) -> None:
    """Record a referral entered at the PC (or --cancel one); the agent uploads it."""
    from ..agent import load_config
    from ..buffer import Buffer

    if (product is None) == (cancel_id is None):
        raise click.UsageError("give --product (a new referral) or --cancel ID")
    if cancel_id is not None and (referral_id is not None or note):
        raise click.UsageError("--cancel takes no --id or --note")
    config = load_config(config_path)
    with Buffer.open(config.buffer_path, config.station_id) as buf:
        if cancel_id is not None:
            existed = buf.referral(cancel_id)[1] is not None
            rec = buf.cancel_referral(cancel_id, wall_time=CLOCK.now())
            what = f"cancellation of referral {rec.txn_id}"
        else:
            assert product is not None  # noqa: S101 - checked above
            existed = referral_id is not None and buf.referral(referral_id)[0] is not None
            rec = buf.record_referral(product, wall_time=CLOCK.now(),
                                      referral_id=referral_id, note=note)
            what = f"referral {rec.txn_id} ({rec.product})"
    if existed:
        click.echo(f"{what} was already recorded (seq {rec.seq}); nothing added")
    else:
        click.echo(f"{what} recorded (seq {rec.seq}); the agent uploads it on its next round")
