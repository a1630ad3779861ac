"""The monitor's text layout (stationlink.monitor.render): 80 columns, 元, CST, colour, language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from monitor_helpers import FIXTURE_KEY, direction_of, vector_messages

from stationlink.monitor.render import Renderer, display_width
from stationlink.monitor.trace import TraceItem, Tracer
from stationlink.protocol import Dialect, Transport

T = datetime(2024, 3, 5, 4, 0, 0, 123456, tzinfo=UTC)  # 12:00:00.123 CST


def items(dialect: str, transport: str = "serial") -> list[TraceItem]:
    tracer = Tracer(Dialect(dialect), Transport(transport), FIXTURE_KEY)
    out: list[TraceItem] = []
    for name, data, _ in vector_messages(dialect, transport):
        out += tracer.feed(direction_of(name), T, data + b"\x06\x06" if transport == "serial"
                           else data)
    out += tracer.feed("h2t", T, b"\x11\x22\x33")
    return out + tracer.finish(T)


def render(its: list[TraceItem], **kw: object) -> list[str]:
    r = Renderer(**kw)  # type: ignore[arg-type]
    return [line for it in its for line in r.lines(it)]


@pytest.mark.parametrize("dialect", ["sl-2", "mispos-1"])
@pytest.mark.parametrize("width", [80, 40])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_line_fits_the_width(dialect: str, width: int, lang: str) -> None:
    lines = render(items(dialect), width=width, raw=True, lang=lang)
    assert len(lines) > 50
    too_wide = [line for line in lines if display_width(line) > width]
    assert too_wide == []


def test_time_is_cst_with_milliseconds_and_the_date_is_shown_once() -> None:
    lines = render(items("sl-2"))
    assert lines[0] == "日期 2024-03-05（北京时间）"
    assert all(line.startswith(("12:00:00.123 ", " ")) for line in lines[1:])
    shifted = [TraceItem(T + timedelta(days=1), "h2t", "event", event="open")]
    assert render(items("sl-2")[:1] + shifted)[-2] == "日期 2024-03-06（北京时间）"


def test_amounts_are_yuan_with_two_decimals_and_cards_masked() -> None:
    its = items("mispos-1")
    text = "\n".join(render(its, raw=True))
    for it in its:
        if it.kind != "frame":
            continue
        fen = getattr(it.message, "amount_fen", None)
        if fen is not None:
            assert f"={fen // 100}.{fen % 100:02d}元" in text
    assert "card=621700*********0018" in text
    assert "6217000000000000018" not in text.replace(" ", "")


def test_direction_arrows_and_marks_in_both_languages() -> None:
    its = items("sl-2")
    zh = "\n".join(render(its))
    en = "\n".join(render(its, lang="en"))
    assert "PC→终端" in zh
    assert "终端→PC" in zh
    assert "校验✓" in zh
    assert "乱码 3 字节" in zh
    assert "PC→term" in en
    assert "term→PC" in en
    assert "garbage 3 bytes" in en
    assert "ACK" in zh


def test_colour_only_when_asked() -> None:
    its = items("sl-2")
    assert not any("\x1b[" in line for line in render(its))
    coloured = render(its, colour=True)
    assert any("\x1b[" in line for line in coloured)
    import click

    assert [click.unstyle(line) for line in coloured] == render(its)


def test_unknown_tags_are_shown() -> None:
    text = "\n".join(render(items("sl-2")))
    assert "extra=DFEE:01" in text  # the ErrorReply vector carries an unknown tag
