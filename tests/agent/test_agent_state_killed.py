"""An agent killed (SIGKILL) while creating its state file: the next start opens the file.

The tables are created in one transaction, so the kill leaves all of them or none; before,
a kill between two ``CREATE TABLE`` left a file with some of them, which the next start
refused as "not an agent state file" (seen in the end-to-end SIGKILL test under load).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from stationlink.agent.state import TABLES, AgentState

# a real process that SIGKILLs itself as the last table's CREATE starts
KILLED_AT_LAST_TABLE = """
import os, signal, sqlite3, sys
from stationlink.agent import state

real = sqlite3.connect

def connect(*args, **kwargs):
    conn = real(*args, **kwargs)
    def trace(sql):
        if sql.startswith(f"CREATE TABLE IF NOT EXISTS {sys.argv[2]} "):
            os.kill(os.getpid(), signal.SIGKILL)
    conn.set_trace_callback(trace)
    return conn

state.sqlite3.connect = connect
state.AgentState(sys.argv[1])
"""


@pytest.mark.slow  # a real subprocess
def test_killed_while_creating_the_file_then_started_again(tmp_path: Path) -> None:
    path = tmp_path / "agent-state.sqlite"
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_LAST_TABLE, str(path), TABLES[-1]],
                            capture_output=True, text=True, timeout=60, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with closing(sqlite3.connect(path)) as conn:
        left = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert left == set(), left  # the kill left none of the tables
    AgentState(path).close()  # the next start opens and creates it
    with closing(sqlite3.connect(path)) as conn:
        made = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert made == set(TABLES)
