"""agent.toml: what it accepts, its defaults, and errors naming the file and the key."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from stationlink.agent import default_data_dir, load_config
from stationlink.buffer import default_path
from stationlink.errors import ConfigError

KEY = "000102030405060708090a0b0c0d0e0f"
GOOD = f"""
station_id = "DZ-LL-0007"
card_key = "{KEY}"

[hub]
url = "http://127.0.0.1:8400/"
token_file = "secrets/hub.token"

[poll]
journal_interval = 5
settlement_check_at = "22:30"

[upload]
batch_size = 200

[[terminals]]
url = "tcp://127.0.0.1:9001"
id = "LL000701"

[[terminals]]
url = "serial:///dev/ttyUSB0?baud=9600"
dialect = "mispos-1"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_with_token_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "hub.token").write_text("slh_abc_secret\n", encoding="utf-8")
    config = load_config(write(tmp_path, GOOD))
    assert config.station_id == "DZ-LL-0007"
    assert config.hub_url == "http://127.0.0.1:8400"
    assert config.hub_token == "slh_abc_secret"  # noqa: S105 - a test token
    assert config.card_key == bytes.fromhex(KEY)
    assert config.poll.journal_interval == 5.0
    assert config.poll.settlement_check_at == time(22, 30)
    assert config.upload.batch_size == 200
    assert [t.url for t in config.terminals] == ["tcp://127.0.0.1:9001",
                                                 "serial:///dev/ttyUSB0?baud=9600"]
    assert config.terminals[0].terminal_id == "LL000701"
    assert config.terminals[1].dialect == "mispos-1"
    assert config.terminals[1].terminal_id is None


def test_default_data_dir_is_the_platform_data_dir_shared_with_the_buffer(
    tmp_path: Path,
) -> None:
    text = GOOD.replace('token_file = "secrets/hub.token"', 'token = "t"')
    config = load_config(write(tmp_path, text))
    assert config.data_dir == default_data_dir()
    assert config.buffer_path == default_path()


def test_relative_data_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    text = GOOD.replace('token_file = "secrets/hub.token"', 'token = "t"')
    text = text.replace('station_id = "DZ-LL-0007"', 'station_id = "S"\ndata_dir = "data"')
    config = load_config(write(tmp_path, text))
    assert config.buffer_path == tmp_path / "data" / "buffer.sqlite"


@pytest.mark.parametrize(("change", "message"), [
    (("[upload]", "[upload]\nbatch_sise = 3"), "upload: unknown key(s) batch_sise"),
    (('url = "http://127.0.0.1:8400/"', 'url = "ftp://x"'), "hub.url: expected http(s)"),
    (('dialect = "mispos-1"', 'dialect = "v3"'), "terminals[2].dialect: must be"),
    (('id = "LL000701"', 'id = "LL7"'), "terminals[1].id: a terminal id has 8 characters"),
    (('"22:30"', '"25:00"'), "poll.settlement_check_at: expected HH:MM"),
    (("journal_interval = 5", "journal_interval = -1"), "poll.journal_interval: must be >="),
    (("journal_interval = 5", 'journal_interval = "5"'), "poll.journal_interval: expected a"),
    (("batch_size = 200", "batch_size = 0"), "upload.batch_size: must be 1..10000"),
    ((f'card_key = "{KEY}"', 'card_key = "zz"'), "card_key: not hexadecimal"),
    ((f'card_key = "{KEY}"', 'card_key = "00ff"'), "card_key: at least 16 bytes"),
    (('token_file = "secrets/hub.token"', ""), "hub: give exactly one of token or token_file"),
    (('token_file = "secrets/hub.token"', 'token_file = "missing"'), "hub.token_file: cannot"),
    (('url = "serial:///dev/ttyUSB0?baud=9600"', 'url = "tcp://127.0.0.1:9001"'),
     "url(s) tcp://127.0.0.1:9001 appear more than once"),
])
def test_bad_config_names_file_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "hub.token").write_text("slh_abc_secret\n", encoding="utf-8")
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_not_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "station_id = \n")
    with pytest.raises(ConfigError, match="agent.toml: not valid TOML"):
        load_config(path)


def test_no_terminals_is_refused(tmp_path: Path) -> None:
    text = GOOD.split("[[terminals]]")[0].replace('token_file = "secrets/hub.token"',
                                                  'token = "t"')
    with pytest.raises(ConfigError, match=r"terminals: at least one \[\[terminals\]\]"):
        load_config(write(tmp_path, text))


def _with_hub(tmp_path: Path, hub_lines: str) -> Path:
    (tmp_path / "hub.token").write_text("slh_abc_secret\n", encoding="utf-8")
    return write(tmp_path, f'station_id = "S1"\ncard_key = "{KEY}"\n[hub]\n{hub_lines}\n'
                           'token_file = "hub.token"\n[[terminals]]\nurl = "tcp://127.0.0.1:9"\n')


@pytest.mark.parametrize("host", ["hub.example.cn", "192.168.1.10", "[2001:db8::1]",
                                  "127.0.0.1.example.cn"])
def test_plain_http_to_another_machine_is_refused_naming_the_option(
    tmp_path: Path, host: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_with_hub(tmp_path, f'url = "http://{host}:8400"'))
    message = str(info.value)
    assert "hub.url" in message
    assert "allow_insecure_http = true" in message
    assert "https://" in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "[::1]"])
def test_plain_http_to_this_machine_is_fine(tmp_path: Path, host: str) -> None:
    config = load_config(_with_hub(tmp_path, f'url = "http://{host}:8400"'))
    assert config.allow_insecure_http is False
    assert config.hub_ca_file is None


def test_plain_http_allowed_explicitly(tmp_path: Path) -> None:
    config = load_config(_with_hub(
        tmp_path, 'url = "http://192.168.1.10:8400"\nallow_insecure_http = true'))
    assert config.allow_insecure_http is True
    with pytest.raises(ConfigError, match="allow_insecure_http: expected true or false"):
        load_config(_with_hub(tmp_path, 'url = "http://192.168.1.10"\n'
                                        'allow_insecure_http = "yes"'))


def test_https_with_a_ca_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not checked here\n", encoding="utf-8")
    config = load_config(_with_hub(tmp_path, 'url = "https://hub.example.cn"\n'
                                             'ca_file = "ca.pem"'))
    assert config.hub_ca_file == tmp_path / "ca.pem"
    with pytest.raises(ConfigError, match=r"hub\.ca_file: no such file"):
        load_config(_with_hub(tmp_path, 'url = "https://hub.example.cn"\n'
                                        'ca_file = "missing.pem"'))
