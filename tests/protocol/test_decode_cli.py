"""``stationlink decode``: exact JSON lines for the fixture streams, errors, no card numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from stationlink.cli.main import cli
from stationlink.protocol._framing import Transport
from stationlink.protocol.messages import Dialect

VECTORS = Path(__file__).resolve().parents[2] / "firmware_fixtures" / "vectors"
KEY_ENV = {"STATIONLINK_CARD_KEY": "00" * 32}
COMBOS = [(d.value, t.value) for d in Dialect for t in Transport]


@pytest.mark.parametrize(("dialect", "transport"), COMBOS)
def test_noisy_stream_exact_output(dialect: str, transport: str) -> None:
    folder = VECTORS / dialect / transport / "streams"
    result = CliRunner().invoke(
        cli, ["decode", "--dialect", dialect, "--transport", transport, "--hex",
              str(folder / "noisy.hex")], env=KEY_ENV,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (folder / "noisy.expected.jsonl").read_text(encoding="utf-8")
    assert result.stderr == ""


@pytest.mark.parametrize(("dialect", "transport"), COMBOS)
def test_binary_stdin_same_as_hex(dialect: str, transport: str) -> None:
    folder = VECTORS / dialect / transport / "streams"
    text = (folder / "noisy.hex").read_text(encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["decode", "--dialect", dialect, "--transport", transport, "-"],
        input=bytes.fromhex(text), env=KEY_ENV,
    )
    assert result.exit_code == 0
    assert result.stdout == (folder / "noisy.expected.jsonl").read_text(encoding="utf-8")


def test_without_key_uses_random_key_and_says_so() -> None:
    path = VECTORS / "mispos-1" / "serial" / "messages" / "10-WithdrawalResponse.hex"
    runs = [
        CliRunner().invoke(cli, ["decode", "--dialect", "mispos-1", "--hex", str(path)],
                           env={"STATIONLINK_CARD_KEY": ""})
        for _ in range(2)
    ]
    for r in runs:
        assert r.exit_code == 0
        assert r.stderr == (
            "no card key in $STATIONLINK_CARD_KEY: using a random per-run key, "
            "card tokens are not stable between runs\n"
        )
        card = json.loads(r.stdout)["message"]["record"]["card"]
        assert card["masked"] == "621700*********0018"
        assert "6217000000000000018" not in r.stdout
    tokens = {json.loads(r.stdout)["message"]["record"]["card"]["token"] for r in runs}
    assert len(tokens) == 2


def test_card_key_env_option() -> None:
    path = VECTORS / "mispos-1" / "serial" / "messages" / "10-WithdrawalResponse.hex"
    result = CliRunner().invoke(
        cli, ["decode", "--dialect", "mispos-1", "--hex", "--card-key-env", "MY_KEY", str(path)],
        env={"MY_KEY": "00" * 32},
    )
    meaning = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"type": "frame", "offset": 0,
                                         "length": len(bytes.fromhex(
                                             "".join(ln.split("#")[0] for ln in
                                                     path.read_text().splitlines()))),
                                         "message": meaning}


def test_bad_key_is_a_config_error() -> None:
    result = CliRunner().invoke(cli, ["decode", "--dialect", "sl-2", "-"], input=b"",
                                env={"STATIONLINK_CARD_KEY": "zz"})
    assert result.exit_code == 2
    assert "$STATIONLINK_CARD_KEY is not hex" in result.stderr


def decode_hex_file(path: Path, text: str) -> Result:
    """``stationlink decode --dialect sl-2 --hex`` of a file holding ``text``."""
    path.write_text(text, encoding="ascii")
    return CliRunner().invoke(cli, ["decode", "--dialect", "sl-2", "--hex", str(path)],
                              env=KEY_ENV)


def test_bad_hex_reports_position_after_output(tmp_path: Path) -> None:
    path = tmp_path / "dump.hex"
    result = decode_hex_file(path, "06 15\n04 0g 06\n")
    assert result.exit_code == 3
    assert result.stdout == (
        '{"type": "link", "offset": 0, "code": "ACK"}\n'
        '{"type": "link", "offset": 1, "code": "NAK"}\n'
        '{"type": "link", "offset": 2, "code": "EOT"}\n'
    )
    assert f"bad hex text: {path}: line 2, column 5: g is not a hex digit" in result.stderr


def test_odd_hex_digits(tmp_path: Path) -> None:
    result = decode_hex_file(tmp_path / "odd.hex", "06 1\n5 0\n")
    assert result.exit_code == 3
    assert result.stdout.count('"type": "link"') == 2  # 06 and the 15 split across lines
    assert "line 2, column 3: odd number of hex digits" in result.stderr


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=300), dialect=st.sampled_from(COMBOS))
def test_any_bytes_exit_zero(data: bytes, dialect: tuple[str, str]) -> None:
    result = CliRunner().invoke(
        cli, ["decode", "--dialect", dialect[0], "--transport", dialect[1], "-"],
        input=data, env=KEY_ENV,
    )
    assert result.exit_code == 0, result.output
    covered = 0
    for line in result.stdout.splitlines():
        obj = json.loads(line)
        assert obj["offset"] == covered
        covered += obj.get("length", 1)
    assert covered == len(data)
