"""The agent's state file refuses a file that is not one and leaves it byte-identical."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from stationlink.agent.state import AgentState
from stationlink.errors import StorageError


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("create", [True, False])
def test_another_sqlite_file_is_refused_untouched(tmp_path: Path, create: bool) -> None:
    path = tmp_path / "agent-state.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE records (seq INTEGER)")
    conn.commit()
    conn.close()
    before = _digest(path)
    with pytest.raises(StorageError, match="not an agent state file"):
        AgentState(path, create=create)
    assert _digest(path) == before
    assert not (tmp_path / "agent-state.sqlite-wal").exists()


def test_text_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "agent-state.sqlite"
    path.write_text("not a database\n", encoding="utf-8")
    with pytest.raises(StorageError, match="not an agent state file"):
        AgentState(path, create=False)
    assert path.read_text(encoding="utf-8") == "not a database\n"


def test_own_file_opens_again(tmp_path: Path) -> None:
    path = tmp_path / "agent-state.sqlite"
    with AgentState(path) as st:
        st.close()
    with AgentState(path, create=False):
        pass
