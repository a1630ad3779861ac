"""stationlink.i18n: catalogues complete and compiled, money as 元, dates in CST, Jinja2."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest
from babel.messages.catalog import Catalog

from stationlink.errors import ConfigError
from stationlink.i18n import catalog as cat
from stationlink.i18n import (
    check_lang,
    format_date,
    format_datetime,
    format_month,
    format_yuan,
    gettext_for,
    install_jinja,
    translator,
    written_in,
)


@pytest.fixture(scope="module")
def template() -> Catalog:
    return cat.extract()


def test_every_message_id_used_is_translated(template: Catalog) -> None:
    assert len([m for m in template if m.id]) > 30  # labels and code strings were found
    assert cat.untranslated("zh", template) == []
    assert cat.untranslated("en", template) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_shipped_mo_is_compiled_from_the_po(lang: str) -> None:
    assert cat.mo_matches_po(lang)


def test_a_stale_mo_is_noticed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "zh" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = cat.po_path("zh").read_text(encoding="utf-8")
    (folder / "stationlink.po").write_text(po, encoding="utf-8")
    (folder / "stationlink.mo").write_bytes(cat.po_path("zh").with_suffix(".mo").read_bytes())
    monkeypatch.setattr(cat, "LOCALE_DIR", tmp_path)
    assert cat.mo_matches_po("zh")
    (folder / "stationlink.po").write_text(
        po.replace('msgstr "有效取款"', 'msgstr "有效的取款"'), encoding="utf-8")
    assert not cat.mo_matches_po("zh")
    cat.compile_mo("zh")
    assert cat.mo_matches_po("zh")


@pytest.mark.parametrize(("msgid", "lang"), [
    ("valid withdrawals", "en"), ("Hello, %(name)s", "en"), ("有效取款", "zh"),
    ("你好，%(name)s（%(role)s）", "zh"), ("{label}占比", "zh"), ("惠农通 accounts opened", "en"),
    (",", None), ("{label}{amount}", None),
])
def test_written_in(msgid: str, lang: str | None) -> None:
    assert written_in(msgid) == lang


def test_an_english_id_naming_a_chinese_term_is_english() -> None:
    assert gettext_for("zh")("惠农通 accounts opened") == "惠农通开户"
    assert gettext_for("en")("惠农通 accounts opened") == "惠农通 accounts opened"


def test_untranslated_names_a_new_id(template: Catalog) -> None:
    grown = Catalog()
    for m in template:
        if m.id:
            grown.add(m.id, None)
    grown.add("a message nobody translated")
    assert cat.untranslated("zh", grown) == ["a message nobody translated"]


def test_policy_labels_are_extracted_from_the_builtin_policies(template: Catalog) -> None:
    ids = {m.id for m in template}
    assert {"valid withdrawals", "electricity payments"} <= ids


def test_translator_zh_and_en() -> None:
    assert gettext_for("zh")("valid withdrawals") == "有效取款"
    assert gettext_for("en")("valid withdrawals") == "valid withdrawals"
    assert gettext_for(None)("valid withdrawals") == "有效取款"  # Chinese by default
    assert translator("zh_CN") is translator("zh")


@pytest.mark.parametrize("bad", ["fr", "", "xx_zh"])
def test_unknown_language_is_refused_naming_the_choices(bad: str) -> None:
    with pytest.raises(ConfigError, match="zh, en"):
        check_lang(bad)


def test_format_yuan_exact_two_decimals() -> None:
    assert format_yuan(Decimal("12.3"), "zh") == "12.30 元"
    assert format_yuan(Decimal("12.3"), "en") == "CNY 12.30"
    assert format_yuan(1230, "zh") == "12.30 元"  # int fen
    assert format_yuan(Decimal("-20"), "zh") == "-20.00 元"
    assert format_yuan(Decimal("1234567.05")) == "1234567.05 元"
    with pytest.raises(TypeError):
        format_yuan(12.3)  # type: ignore[arg-type]


def test_dates_are_rendered_in_cst() -> None:
    late_utc = datetime(2026, 9, 30, 16, 30, tzinfo=UTC)  # 2026-10-01 00:30 CST
    assert format_date(late_utc, "zh") == "2026年10月1日"
    assert format_date(late_utc, "en") == "October 1, 2026"
    assert format_date(date(2026, 10, 5), "zh") == "2026年10月5日"
    assert "00:30" in format_datetime(late_utc, "zh")
    assert "2026年10月1日" in format_datetime(late_utc, "zh")
    other = datetime(2026, 10, 1, 0, 30, tzinfo=timezone(timedelta(hours=8)))
    assert format_datetime(other, "en") == format_datetime(late_utc, "en")
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime(datetime(2026, 10, 1, 0, 30), "zh")  # noqa: DTZ001


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh", "有效取款: 12.30 元, 2026年10月1日"),
    ("en", "valid withdrawals: CNY 12.30, October 1, 2026"),
])
def test_install_jinja(lang: str, expected: str) -> None:
    env = jinja2.Environment(autoescape=True)
    install_jinja(env, lang)
    page = env.from_string("{{ _('valid withdrawals') }}: {{ amount | yuan }}, "
                           "{{ when | cst_date }}")
    when = datetime(2026, 9, 30, 16, 30, tzinfo=UTC)
    assert page.render(amount=Decimal("12.3"), when=when) == expected


def test_format_month() -> None:
    assert format_month("2026-10", "zh") == "2026年10月"
    assert format_month("2026-01", "en") == "January 2026"
    for bad in ("2026-13", "202610", "2026/10", ""):
        with pytest.raises(ValueError, match="2026-10"):
            format_month(bad, "zh")
