"""Fixtures: the simulator's emulated terminal served over a real pty or a real TCP socket."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from client_rig import serve_emulated


@pytest.fixture(params=[pytest.param("pty", marks=pytest.mark.slow),
                        pytest.param("tcp", marks=pytest.mark.slow)])
def serve(request: pytest.FixtureRequest) -> Callable[..., object]:
    """``serve(dialect, script=None, **options)``: a context manager serving the client
    tests' emulated terminal (client_rig.serve_emulated) over a pty or TCP (parametrised).
    Every test using it is ``slow`` (real ptys, sockets and link timers); the same scripted
    paths run in memory in the quick loop (test_client_never_raises.py, the sans-I/O tests)."""
    return partial(serve_emulated, pty=request.param == "pty")
