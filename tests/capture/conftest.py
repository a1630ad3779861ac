"""Fixtures of the capture/replay tests.

``pytester`` (to run integrator-style test files against the plugin) is enabled here at
configure time: a ``pytest_plugins`` variable is only allowed in the root conftest.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")
