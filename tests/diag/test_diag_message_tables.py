"""The message tables (``stationlink.i18n.messages``) that diag, monitor and the health screen
read at import: a bad table is refused naming the file and the id, and every shipped message
has both languages with the same fields."""

from __future__ import annotations

from pathlib import Path
from string import Formatter

import pytest

from stationlink.agent import health_text
from stationlink.diag import catalogue
from stationlink.errors import ConfigError
from stationlink.i18n.messages import load_parts, load_texts, render
from stationlink.monitor import text as monitor_text


def _table(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "table.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_text_table_reads_in_file_order(tmp_path: Path) -> None:
    path = _table(tmp_path, '["b.one"]\nzh = "一 {n}"\nen = "one {n}"\n\n'
                            '["a.two"]\nen = "two"\nzh = "二"\n')
    table = load_texts(path)
    assert table == {"b.one": {"zh": "一 {n}", "en": "one {n}"}, "a.two": {"zh": "二", "en": "two"}}
    assert list(table) == ["b.one", "a.two"]
    assert render(table, "b.one", "en", {"n": 3}) == "one 3"
    assert render(table, "b.one", "zh", {"n": 3}) == "一 3"


@pytest.mark.parametrize(("body", "problem"), [
    ('["x.y"]\nzh = "只有中文"\n', r"'x\.y' must have exactly the languages \['zh', 'en'\], "
                                 r"not \['zh'\]"),
    ('["x.y"]\nzh = "中"\nen = "en"\nfr = "fr"\n', r"'x\.y' must have exactly the languages"),
    ('["x.y"]\nzh = "中"\nen = 3\n', r"'x\.y': the en text is not a string"),
    ('"x.y" = "no languages"\n', r"'x\.y' must have exactly the languages .* not str"),
])
def test_a_bad_text_table_is_refused_naming_file_and_id(tmp_path: Path, body: str,
                                                         problem: str) -> None:
    with pytest.raises(ConfigError, match=r"table\.toml: " + problem):
        load_texts(_table(tmp_path, body))


def test_a_parts_table_fills_a_left_out_optional_part_with_empty_text(tmp_path: Path) -> None:
    path = _table(tmp_path, '["a.ok"]\ntext.zh = "好"\ntext.en = "fine"\n\n'
                            '["a.bad"]\ntext.zh = "坏"\ntext.en = "bad"\n'
                            'advice.zh = "修"\nadvice.en = "fix"\n')
    assert load_parts(path, ("text",), ("advice",)) == {
        "a.ok": {"text": {"zh": "好", "en": "fine"}, "advice": {"zh": "", "en": ""}},
        "a.bad": {"text": {"zh": "坏", "en": "bad"}, "advice": {"zh": "修", "en": "fix"}},
    }


@pytest.mark.parametrize(("body", "problem"), [
    ('["a.b"]\nadvice.zh = "修"\nadvice.en = "fix"\n', r"missing \['text'\], unknown \[\]"),
    ('["a.b"]\ntext.zh = "好"\ntext.en = "ok"\nnote.zh = "注"\nnote.en = "n"\n',
     r"missing \[\], unknown \['note'\]"),
    ('["a.b"]\ntext.zh = "好"\n', r"'a\.b' text must have exactly the languages"),
])
def test_a_bad_parts_table_is_refused_naming_file_and_id(tmp_path: Path, body: str,
                                                          problem: str) -> None:
    with pytest.raises(ConfigError, match=r"table\.toml: .*" + problem):
        load_parts(_table(tmp_path, body), ("text",), ("advice",))


def test_an_unreadable_table_names_its_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"table\.toml: not valid TOML"):
        load_texts(_table(tmp_path, '["x"\nzh = 1\n'))


def test_render_refuses_an_unknown_language_and_a_missing_field() -> None:
    table = {"m": {"zh": "{n} 条", "en": "{n} records"}}
    with pytest.raises(ValueError, match=r"language must be one of \('zh', 'en'\), not 'fr'"):
        render(table, "m", "fr", {"n": 1})
    with pytest.raises(KeyError, match="n"):
        render(table, "m", "en", {})


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


SHIPPED = {
    "agent/health_text.toml": health_text.CATALOGUE,
    "monitor/text.toml": monitor_text.CATALOGUE,
    "diag/labels.toml": catalogue.LABELS,
    **{f"diag/findings.toml {part}": {k: v[part] for k, v in catalogue.FINDINGS.items()}
       for part in ("text", "advice")},
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_message_has_both_languages_with_the_same_fields(name: str) -> None:
    table = SHIPPED[name]
    assert len(table) > 5, name
    for msg_id, entry in table.items():
        assert set(entry) == {"zh", "en"}, msg_id
        assert _fields(entry["zh"]) == _fields(entry["en"]), msg_id
