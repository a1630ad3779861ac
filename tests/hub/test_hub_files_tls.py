"""The hub's files are created owner-only, and the hub speaks HTTPS itself: the agent's
client uploads over TLS trusting a private CA (``ca_file``)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import trustme
from click.testing import CliRunner
from hub_fixtures import T0, MakeRecord, write_tls_files

from stationlink.agent.uploader import hub_client
from stationlink.buffer import Buffer
from stationlink.cli.main import cli
from stationlink.errors import ConfigError, HubUnavailableError
from stationlink.hub.app import create_app
from stationlink.hub.client import HubClient
from stationlink.hub.server import BackgroundServer
from stationlink.hub.sqlite_store import SqliteHubStore
from stationlink.hub.tokens import hash_token, new_token

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: files would be world-readable
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
@pytest.mark.usefixtures("loose_umask")
def test_hub_database_and_its_wal_are_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "hub.sqlite"
    store = SqliteHubStore(path)
    try:
        # a write: WAL in use
        store.add_token("t1", "S1", "0" * 64, datetime(2026, 10, 1, tzinfo=UTC))
        files = {p.name: mode(p) for p in path.parent.iterdir()}
    finally:
        store.close()
    assert files == {"hub.sqlite": 0o600, "hub.sqlite-wal": 0o600, "hub.sqlite-shm": 0o600}


@posix_only
@pytest.mark.usefixtures("loose_umask")
def test_token_create_output_is_owner_only_even_over_an_existing_file(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    out = tmp_path / "hub.token"
    out.write_text("old\n", encoding="utf-8")
    out.chmod(0o644)
    result = CliRunner().invoke(cli, ["hub", "token", "create", "--db", str(db),
                                      "--station", "S1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    token = out.read_text(encoding="ascii").strip()
    assert token.startswith("slh_")
    assert token not in result.stdout  # written, not printed
    assert mode(out) == 0o600
    assert mode(db) == 0o600
    store = SqliteHubStore(db, create=False)
    try:
        assert store.station_for_token(hash_token(token)) == "S1"
    finally:
        store.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_files(tmp_path: Path, ca: trustme.CA) -> tuple[Path, Path, Path]:
    return write_tls_files(ca, tmp_path, "127.0.0.1", "localhost")


def test_upload_over_https_trusting_a_private_ca(
    tmp_path: Path, tls_files: tuple[Path, Path, Path], buf: Buffer, make_record: MakeRecord
) -> None:
    cert_file, key_file, ca_file = tls_files
    store = SqliteHubStore(tmp_path / "hub.sqlite")
    token_id, token = new_token()
    store.add_token(token_id, "S1", hash_token(token), datetime(2026, 10, 1, tzinfo=UTC))
    buf.record_journal_page("T1", [make_record(i) for i in range(1, 4)], T0)
    batch = buf.next_batch(10)
    assert batch is not None
    try:
        with BackgroundServer(create_app(store), tls_cert=cert_file,
                              tls_key=key_file) as server:
            assert server.url.startswith("https://127.0.0.1:")
            with hub_client(server.url, token, station_id="S1", timeout=10,
                            ca_file=ca_file) as client:
                assert client.upload(batch) == 3
            with HubClient(server.url, token, station_id="S1", verify=ca_file) as client:
                assert client.high_water_mark() == 3
            # the system's CAs do not know the private CA: no connection, nothing sent
            with HubClient(server.url, token, station_id="S1") as client, \
                    pytest.raises(HubUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
                client.high_water_mark()
            # and plain HTTP to the TLS port gets no answer that could pass for the hub's
            with pytest.raises(httpx.HTTPError):
                httpx.get(server.url.replace("https://", "http://") + "/v1/health",
                          timeout=5).raise_for_status()
    finally:
        store.close()


def test_tls_options_are_checked_before_serving(
    tmp_path: Path, tls_files: tuple[Path, Path, Path]
) -> None:
    cert_file, key_file, _ = tls_files
    runner = CliRunner()
    db = str(tmp_path / "hub.sqlite")
    alone = runner.invoke(cli, ["hub", "serve", "--db", db, "--bind", "127.0.0.1:0",
                                "--tls-cert", str(cert_file)])
    assert alone.exit_code == 2
    assert "--tls-cert and --tls-key go together" in alone.output
    swapped = runner.invoke(cli, ["hub", "serve", "--db", db, "--bind", "127.0.0.1:0",
                                  "--tls-cert", str(key_file), "--tls-key", str(cert_file)])
    assert swapped.exit_code == 2
    assert "cannot load" in swapped.output
    with pytest.raises(ConfigError, match="CA file"):
        HubClient("https://127.0.0.1:1", "t", station_id="S1", verify=tmp_path / "none.pem")
