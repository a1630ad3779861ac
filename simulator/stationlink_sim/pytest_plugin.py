"""pytest plugin of stationlink (entry point ``pytest11``: ``stationlink``).

Contract: installed with the package, so an integrator's own tests get two fixtures, both
factories that stop what they started at teardown (every pty and socket closed):

- ``stationlink_terminal(kind="bill", dialect="sl-2", transport="tcp", faults="", seed=0,
  **options)`` starts an emulated terminal (:func:`stationlink_sim.serve.serve_terminal`;
  ``transport`` is ``"tcp"`` (127.0.0.1, a free port) or ``"serial"`` (a real pty);
  ``options`` go to ``serve_terminal``: ``baud``, ``terminal_id``, ``card_key``, ...) and
  returns the running terminal: connect the code under test to ``.url``.
- ``stationlink_replay(capture, speed=None, stall_timeout=30.0, against=None)`` serves the
  terminal side of a capture file (:class:`stationlink_sim.capture.replayer.Replayer`) and
  returns a :class:`ReplayHandle`: connect the code under test to ``.url``, then call
  ``.assert_no_divergence()`` (or look at ``.result()``).

Imports of the simulator happen inside the fixtures, so loading the plugin costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .capture.replayer import Replayer
    from .capture.report import ReplayResult
    from .serve import RunningTerminal

DEFAULT_WAIT = 60.0


class ReplayHandle:
    """A running replay of one capture (see the module docstring)."""

    def __init__(self, replayer: Replayer) -> None:
        self.replayer = replayer

    @property
    def url(self) -> str:
        return self.replayer.url

    def result(self, timeout: float = DEFAULT_WAIT) -> ReplayResult:
        """Wait (at most ``timeout`` s) until the replay finished; the result so far."""
        return self.replayer.result(timeout)

    def assert_no_divergence(self, timeout: float = DEFAULT_WAIT) -> ReplayResult:
        """Fail the test unless the host under test matched the whole capture."""
        result = self.result(timeout)
        if not result.ok:
            if result.divergence is None:
                raise AssertionError(
                    f"replay of {result.capture} not finished after {timeout:g} s: "
                    f"{result.steps_done} of {result.steps} steps done"
                )
            raise AssertionError(result.describe())
        return result


@pytest.fixture
def stationlink_terminal() -> Iterator[Callable[..., RunningTerminal]]:
    """Factory of emulated terminals, stopped at teardown."""
    from .serve import serve_terminal

    stack: list[Any] = []

    def start(kind: str = "bill", dialect: str = "sl-2", transport: str = "tcp",
              faults: str = "", seed: int = 0, **options: Any) -> RunningTerminal:
        if transport not in ("tcp", "serial"):
            raise ValueError(f"transport is 'tcp' or 'serial', not {transport!r}")
        cm = serve_terminal(kind, dialect, pty=transport == "serial",
                            listen="tcp://127.0.0.1:0" if transport == "tcp" else None,
                            faults=faults, seed=seed, **options)
        running = cm.__enter__()
        stack.append(cm)
        return running

    try:
        yield start
    finally:
        while stack:
            stack.pop().__exit__(None, None, None)


@pytest.fixture
def stationlink_replay() -> Iterator[Callable[..., ReplayHandle]]:
    """Factory of capture replays, stopped at teardown."""
    from .capture.replayer import Replayer

    started: list[Replayer] = []

    def start(capture: str | Path, *, speed: float | None = None, stall_timeout: float = 30.0,
              against: str | None = None) -> ReplayHandle:
        replayer = Replayer(capture, against=against, speed=speed, stall_timeout=stall_timeout)
        replayer.start()
        started.append(replayer)
        return ReplayHandle(replayer)

    try:
        yield start
    finally:
        while started:
            started.pop().stop()
