"""Fixtures of the emulated-terminal tests (helpers live in ``sim_terminal_rig``)."""

from __future__ import annotations

import pytest
from sim_terminal_rig import Rig


@pytest.fixture
def bill() -> Rig:
    return Rig("bill", "sl-2")


@pytest.fixture
def card() -> Rig:
    return Rig("card", "sl-2")
