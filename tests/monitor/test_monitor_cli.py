"""``stationlink monitor`` on capture files, through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from monitor_helpers import SESSIONS

from stationlink.cli.main import cli
from stationlink.monitor.render import display_width
from stationlink.protocol import Deframer, Dialect, FrameEvent, Transport

KEY_ENV = {"STATIONLINK_CARD_KEY": "00" * 32}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["monitor", *args], env=KEY_ENV)
    return result.exit_code, result.stdout, result.stderr


def capture_frames(path: Path) -> dict[str, int]:
    """Frames per direction found by the protocol's deframer over a capture's streams
    (split at TCP connection events)."""
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    header = lines[0]
    counts = {"h2t": 0, "t2h": 0}
    deframers: dict[str, Deframer] = {}
    for obj in lines[1:]:
        if "event" in obj or "end" in obj:
            deframers.clear()
            continue
        d = deframers.setdefault(obj["dir"], Deframer(Dialect(header["dialect"]),
                                                      Transport(header["transport"])))
        counts[obj["dir"]] += sum(isinstance(ev, FrameEvent)
                                  for ev in d.feed(bytes.fromhex(obj["hex"])))
    return counts


@pytest.mark.parametrize("name", ["noisy-sl-2-card-serial", "noisy-mispos-1-card-serial",
                                  "power-mispos-1-card-tcp", "lost-sl-2-bill-tcp"])
def test_every_frame_of_a_capture_is_shown(name: str) -> None:
    path = SESSIONS / f"{name}.jsonl"
    code, out, _ = run(str(path), "--json")
    assert code == 0
    items = [json.loads(line) for line in out.splitlines()]
    frames = {"h2t": 0, "t2h": 0}
    for item in items:
        if item["kind"] == "frame":
            frames[item["direction"]] += 1
            assert item["time"].endswith("+08:00")
    assert frames == capture_frames(path)


def _items(name: str) -> list[dict[str, object]]:
    code, out, _ = run(str(SESSIONS / f"{name}.jsonl"), "--json")
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_a_resent_frame_is_marked_and_is_the_same_bytes_again() -> None:
    items = _items("power-sl-2-card-serial")  # the terminal's power cycle: frames resent
    seen: dict[object, set[object]] = {"h2t": set(), "t2h": set()}
    retransmits = 0
    for item in items:
        if item["kind"] == "frame":
            if item["retransmit"]:
                retransmits += 1
                assert item["hex"] in seen[item["direction"]]  # the same bytes came before
            seen[item["direction"]].add(item["hex"])
    assert retransmits > 0


def test_a_noisy_serial_link_shows_naks_and_garbage() -> None:
    items = _items("noisy-mispos-1-card-serial")
    assert any(i.get("link") == "NAK" for i in items)
    assert any(i["kind"] == "garbage" for i in items)
    assert not any(i.get("retransmit") for i in items)


def test_text_output_fits_80_columns_without_colour_when_not_a_terminal() -> None:
    code, out, err = run(str(SESSIONS / "day-mispos-1-card-serial.jsonl"), "--raw")
    assert code == 0
    assert "\x1b[" not in out
    assert all(display_width(line) <= 80 for line in out.splitlines())
    assert "WITHDRAWAL_RESP" in out
    assert "终端→PC" in out
    assert "帧" in err  # the summary


def test_the_dialect_option_overrides_the_header() -> None:
    code, out, _ = run(str(SESSIONS / "day-sl-2-bill-serial.jsonl"), "--json",
                       "--dialect", "mispos-1")
    assert code == 0
    kinds = {json.loads(line)["kind"] for line in out.splitlines()}
    assert "frame" not in kinds  # an sl-2 link read as mispos-1 frames nothing


def test_a_bad_capture_line_names_file_line_and_key_after_what_came_before(
        tmp_path: Path) -> None:
    src = (SESSIONS / "day-sl-2-bill-tcp.jsonl").read_text().splitlines()
    bad = json.loads(src[4])
    bad["hex"] = "zz" + bad.get("hex", "")
    bad.pop("event", None)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([*src[:4], json.dumps(bad), *src[5:]]) + "\n")
    code, out, err = run(str(path), "--json")
    assert code == 3
    assert f"{path}: line 5, column hex" in err
    shown = [json.loads(line) for line in out.splitlines()]
    assert sum(i["kind"] == "frame" for i in shown) >= 1


def test_usage_errors() -> None:
    assert run()[0] == 2
    code, _, err = run("tcp://127.0.0.1:9100")
    assert code == 2
    assert "--tap" in err


def test_print_dissector_path() -> None:
    code, out, _ = run("--print-dissector-path")
    assert code == 0
    path = Path(out.strip())
    assert path.name == "stationlink.lua"
    assert path.is_file()
    assert "register_heuristic" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("value", "says"), [("zz", "is not hex"), ("  ", "is empty")])
def test_a_bad_card_key_is_a_configuration_error_naming_the_variable(
        value: str, says: str) -> None:
    path = SESSIONS / "day-sl-2-bill-tcp.jsonl"
    result = CliRunner().invoke(cli, ["monitor", str(path)],
                                env={"STATIONLINK_CARD_KEY": value})
    assert result.exit_code == 2
    assert f"$STATIONLINK_CARD_KEY {says}" in result.stderr
    assert result.stdout == ""
