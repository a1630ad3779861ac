"""An agent killed (SIGKILL) while creating its files: the next start opens them.

The agent state's tables are created in one transaction, so a kill leaves all of them or
none; the buffer's come in one migration transaction, after ``PRAGMA journal_mode=WAL`` has
written the file's header, so a kill leaves a database without any table, which a creating
open now takes as new. Before, a kill between the state file's ``CREATE TABLE`` statements,
or before the buffer's commit, left a file the next start refused as "not an agent state
file" / "not a stationlink buffer database" (seen in the end-to-end SIGKILL test under load).
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
from stationlink.buffer.schema import BUFFER_TABLES
from stationlink.buffer.store import Buffer
from stationlink.errors import StorageError

pytestmark = pytest.mark.slow  # real processes, killed

# a real process that SIGKILLs itself as a statement starting with argv[3] starts
KILLED_AT = """
import os, signal, sqlite3, sys

kind, path, at = sys.argv[1:4]
real = sqlite3.connect

def connect(*args, **kwargs):
    conn = real(*args, **kwargs)
    def trace(sql):
        if sql.startswith(at):
            os.kill(os.getpid(), signal.SIGKILL)
    conn.set_trace_callback(trace)
    return conn

sqlite3.connect = connect
if kind == "state":
    from stationlink.agent.state import AgentState
    AgentState(path)
else:
    from stationlink.buffer.store import Buffer
    Buffer.open(path, "S1")
"""


def killed_at(kind: str, path: Path, at: str) -> set[str]:
    """Run the creation in a process killed as ``at`` starts; the tables it left."""
    done = subprocess.run([sys.executable, "-c", KILLED_AT, kind, str(path), at],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return tables(path)


def tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_killed_while_creating_the_state_file_then_started_again(tmp_path: Path) -> None:
    path = tmp_path / "agent-state.sqlite"
    left = killed_at("state", path, f"CREATE TABLE IF NOT EXISTS {TABLES[-1]} ")
    assert left == set(), left  # the kill at the last table left none of them
    AgentState(path).close()  # the next start opens and creates it
    assert tables(path) == set(TABLES)


def test_killed_while_creating_the_buffer_then_started_again(tmp_path: Path) -> None:
    path = tmp_path / "buffer.sqlite"
    assert killed_at("buffer", path, "CREATE TABLE") == set()
    assert path.stat().st_size > 0  # the WAL header: not an empty file
    with pytest.raises(StorageError, match="not a stationlink buffer database"):
        Buffer.open(path, create=False)  # reading commands still refuse it
    with Buffer.open(path, "S1") as buf:  # the next start creates it
        assert buf.station_id == "S1"
    assert set(BUFFER_TABLES) <= tables(path)
