"""``stationlink hub serve`` as a real process: restarted on its port at once after a
SIGKILL under load (SO_REUSEADDR), per-station rate limit from ``--rate-limit``, and HTTPS
from ``--tls-cert``/``--tls-key``."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import trustme
from hub_fixtures import T0, MakeRecord, create_token, write_tls_files

from stationlink.buffer import Buffer
from stationlink.errors import HubUnavailableError
from stationlink.hub.client import HubClient

pytestmark = pytest.mark.slow


class Serve:
    """``stationlink hub serve`` in a subprocess; ``url`` once it listens."""

    def __init__(self, db: Path, bind: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from stationlink.cli.main import main; main()",
             "hub", "serve", "--db", str(db), "--bind", bind, *extra],
            stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stderr is not None
        self.first = self.proc.stderr.readline()
        self.url = self.first.split()[-1] if self.first.startswith("hub listening on ") else ""

    def finish(self) -> tuple[int, str]:
        assert self.proc.stderr is not None
        if self.proc.stderr.closed:
            return self.proc.wait(timeout=15), self.first
        rest = self.proc.stderr.read()
        self.proc.stderr.close()
        return self.proc.wait(timeout=15), self.first + rest


def test_hub_killed_under_load_listens_again_on_its_port_at_once(
    tmp_path: Path, make_record: MakeRecord
) -> None:
    db = tmp_path / "hub.sqlite"
    token = create_token(db, "S1")
    buf = Buffer.open(tmp_path / "buffer.sqlite", "S1")
    buf.record_journal_page("T1", [make_record(i) for i in range(1, 1201)], T0)
    hub = Serve(db, "127.0.0.1:0")
    if not hub.url:
        buf.close()
        pytest.fail(hub.finish()[1])
    port = hub.url.rsplit(":", 1)[1]
    stop = threading.Event()
    answered = [0]

    def hammer() -> None:  # keep-alive connections busy with reads
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                try:
                    http.get(f"http://127.0.0.1:{port}/v1/stations/S1/high-water-mark",
                             headers={"Authorization": f"Bearer {token}"})
                    answered[0] += 1
                except httpx.HTTPError:
                    stop.wait(0.01)

    idle = [httpx.Client(timeout=5) for _ in range(4)]  # connections left open, idle
    workers = [threading.Thread(target=hammer) for _ in range(4)]
    try:
        for client in idle:
            assert client.get(f"{hub.url}/v1/health").status_code == 200
        for w in workers:
            w.start()
        with Buffer.open(buf.path) as own, HubClient(hub.url, token, station_id="S1") as c:
            for _ in range(10):  # uploads in flight too
                batch = own.next_batch(50)
                assert batch is not None
                own.mark_synced(c.upload(batch))
        while answered[0] < 50:
            stop.wait(0.01)
        hub.proc.kill()
        hub.finish()
        again = Serve(db, f"127.0.0.1:{port}")  # at once, same port
        try:
            assert again.url == f"http://127.0.0.1:{port}", again.finish()[1]
            before = answered[0]
            with HubClient(again.url, token, station_id="S1") as client:
                assert client.high_water_mark() == 500
                while (batch := buf.next_batch(400)) is not None:
                    buf.mark_synced(client.upload(batch))
                assert client.high_water_mark() == 1200
            while answered[0] <= before:  # the hammering clients got through again
                stop.wait(0.01)
        finally:
            stop.set()
            again.proc.terminate()
            assert again.finish()[0] == 0
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=10)
        for client in idle:
            client.close()
        buf.close()
        if hub.proc.poll() is None:
            hub.proc.kill()
            hub.finish()


def test_rate_limit_option_reaches_the_served_app(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    token = create_token(db, "S1")
    hub = Serve(db, "127.0.0.1:0", "--rate-limit", "1/min")
    try:
        assert hub.url, hub.finish()
        with HubClient(hub.url, token, station_id="S1") as client:
            assert client.high_water_mark() == 0  # the one request of the bucket
            with pytest.raises(HubUnavailableError) as info:
                client.high_water_mark()
        assert info.value.retry_after == 60.0
        assert httpx.get(f"{hub.url}/v1/health", timeout=5).status_code == 200  # no token
    finally:
        hub.proc.terminate()
        assert hub.finish()[0] == 0


def test_serve_https_directly(tmp_path: Path) -> None:
    cert_file, key_file, ca_file = write_tls_files(trustme.CA(), tmp_path, "127.0.0.1")
    db = tmp_path / "hub.sqlite"
    token = create_token(db, "S1")
    hub = Serve(db, "127.0.0.1:0", "--tls-cert", str(cert_file), "--tls-key", str(key_file))
    try:
        assert hub.url.startswith("https://127.0.0.1:"), hub.finish()
        with HubClient(hub.url, token, station_id="S1", verify=ca_file) as client:
            assert client.high_water_mark() == 0
    finally:
        hub.proc.terminate()
        assert hub.finish()[0] == 0
