"""``stationlink hub serve --workers N``: N worker processes on one listening socket.

A SQLite hub refuses N > 1 (one writer process). On PostgreSQL: two stations upload through
two workers while one worker is SIGKILLed mid-upload; the supervisor replaces it, the uploads
finish with every record held exactly once, and SIGTERM stops the parent and every worker.
The rate limit is per worker: N workers let at most N × the per-worker budget through.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hub_fixtures import T0, MakeRecord, create_token, write_tls_files

from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.errors import HubUnavailableError
from stationlink.hub.client import HubClient
from stationlink.hub.stores import migrate_hub
from stationlink_sim.waiting import wait_until

LINUX_PROC = Path("/proc/self/task").is_dir()


def test_sqlite_hub_refuses_several_workers(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    create_token(db, "S1")
    result = CliRunner().invoke(cli, ["hub", "serve", "--db", str(db), "--bind",
                                      "127.0.0.1:0", "--workers", "2"])
    assert result.exit_code != 0
    assert "one process" in result.output
    assert "postgresql://" in result.output
    assert "hub listening" not in result.output


def test_zero_workers_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["hub", "serve", "--db", str(tmp_path / "h.sqlite"),
                                      "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output


class Serve:
    """``stationlink hub serve --workers N`` in a subprocess; ``url`` once it listens."""

    def __init__(self, db: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from stationlink.cli.main import main; main()",
             "hub", "serve", "--db", db, "--bind", "127.0.0.1:0", *extra],
            stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stderr is not None
        self.first = self.proc.stderr.readline()
        if not self.first.startswith("hub listening on "):
            self.proc.kill()
            pytest.fail(f"hub did not start: {self.first}{self.finish()[1]}")
        self.url = self.first.split()[-1]

    def workers(self) -> set[int]:
        """The pids of the worker processes (spawned children, not the resource tracker)."""
        pid = self.proc.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return set()
        out = set()
        for child in text.split():
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmd:
                out.add(int(child))
        return out

    def finish(self) -> tuple[int, str]:
        assert self.proc.stderr is not None
        rest = self.proc.stderr.read()
        self.proc.stderr.close()
        return self.proc.wait(timeout=30), self.first + rest


    def kill(self) -> None:
        """Clean-up after a failure: SIGKILL the parent and its workers, reap it."""
        if self.proc.poll() is None:
            for pid in self.workers():
                os.kill(pid, signal.SIGKILL)
            self.proc.kill()
        assert self.proc.stderr is not None
        if not self.proc.stderr.closed:
            self.finish()


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not LINUX_PROC, reason="finds the worker processes through /proc")
def test_two_workers_one_killed_mid_upload_exactly_once(
    pg_db: str, tmp_path: Path, make_record: MakeRecord
) -> None:
    migrate_hub(pg_db)
    stations = ("S1", "S2")
    tokens = {s: create_token(pg_db, s) for s in stations}
    for s in stations:
        with Buffer.open(tmp_path / f"{s}.sqlite", s) as buf:
            buf.record_journal_page("T1", [make_record(i) for i in range(1, 901)], T0)
    hub = Serve(pg_db, "--workers", "2")
    errors: list[BaseException] = []
    progress = {s: 0 for s in stations}

    def upload(station: str) -> None:
        try:
            with Buffer.open(tmp_path / f"{station}.sqlite") as buf, HubClient(
                    hub.url, tokens[station], station_id=station, timeout=10) as c:
                while (batch := buf.next_batch(15)) is not None:
                    try:
                        progress[station] = buf.mark_synced(c.upload(batch))
                    except HubUnavailableError:
                        pass  # a worker died under this connection: ask again (a replay)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        wait_until(lambda: len(hub.workers()) == 2, 30, "two hub workers")
        before = hub.workers()
        threads = [threading.Thread(target=upload, args=(s,)) for s in stations]
        for t in threads:
            t.start()
        failed = lambda: errors[0] if errors else None  # noqa: E731
        wait_until(lambda: all(v > 0 for v in progress.values()), 30, "uploads under way",
                   error=failed)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: len(hub.workers()) == 2 and victim not in hub.workers(), 30,
                   "the killed worker replaced")
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        for s in stations:
            with HubClient(hub.url, tokens[s], station_id=s) as c:
                assert c.high_water_mark() == 900
        import psycopg

        with psycopg.connect(pg_db) as conn:
            rows = conn.execute(
                "SELECT station_id, count(*), count(DISTINCT seq), "
                "count(*) FILTER (WHERE duplicate_of IS NOT NULL) FROM records "
                "GROUP BY station_id ORDER BY station_id").fetchall()
        assert rows == [("S1", 900, 900, 0), ("S2", 900, 900, 0)]
        workers = hub.workers()
        hub.proc.send_signal(signal.SIGTERM)
        code, log = hub.finish()
        assert code == 0, log
        assert "hub stopped" in log
        assert not any(_alive(p) for p in workers), "a worker outlived its parent"
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{hub.url}/v1/health", timeout=2)
    finally:
        hub.kill()


@pytest.mark.slow
@pytest.mark.skipif(not LINUX_PROC, reason="finds the worker processes through /proc")
def test_rate_limit_is_per_worker(pg_db: str) -> None:
    migrate_hub(pg_db)
    token = create_token(pg_db, "S1")
    hub = Serve(pg_db, "--workers", "2", "--rate-limit", "1/min")
    try:
        wait_until(lambda: len(hub.workers()) == 2, 30, "two hub workers")
        answers = []
        for _ in range(12):  # a new connection each: the kernel hands it to either worker
            r = httpx.get(f"{hub.url}/v1/stations/S1/high-water-mark", timeout=10,
                          headers={"Authorization": f"Bearer {token}", "Connection": "close"})
            answers.append(r.status_code)
        assert set(answers) <= {200, 429}
        assert 1 <= answers.count(200) <= 2  # at most N x the per-worker bucket of 1
        workers = hub.workers()
    finally:
        hub.proc.send_signal(signal.SIGINT)  # Ctrl-C stops the workers too
        code, log = hub.finish()
    assert code == 0, log
    assert "hub stopped" in log
    assert not any(_alive(p) for p in workers)


@pytest.mark.slow
@pytest.mark.skipif(not LINUX_PROC, reason="finds the worker processes through /proc")
def test_workers_end_when_their_supervisor_is_killed(pg_db: str) -> None:
    migrate_hub(pg_db)
    hub = Serve(pg_db, "--workers", "2")
    try:
        workers = wait_until(lambda: len(w := hub.workers()) == 2 and w, 30, "two workers")
        hub.proc.kill()  # SIGKILL: the supervisor cannot stop its workers itself
        hub.proc.wait(timeout=10)
        wait_until(lambda: not any(_alive(p) for p in workers), 15,
                   "the orphaned workers to stop")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{hub.url}/v1/health", timeout=2)
    finally:
        for pid in workers if "workers" in locals() else ():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        hub.kill()


@pytest.mark.slow
def test_workers_serve_https(pg_db: str, tmp_path: Path) -> None:
    import trustme

    cert_file, key_file, ca_file = write_tls_files(trustme.CA(), tmp_path, "127.0.0.1")
    migrate_hub(pg_db)
    token = create_token(pg_db, "S1")
    hub = Serve(pg_db, "--workers", "2", "--tls-cert", str(cert_file), "--tls-key",
                str(key_file))
    try:
        assert hub.url.startswith("https://127.0.0.1:")
        for _ in range(4):  # new connections: either worker answers over TLS
            with HubClient(hub.url, token, station_id="S1", verify=str(ca_file)) as client:
                assert client.high_water_mark() == 0
    finally:
        hub.proc.terminate()
        code, log = hub.finish()
    assert code == 0, log
