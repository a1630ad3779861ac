"""stationlink.i18n: catalogues complete and compiled, money as 元, dates in CST, Jinja2."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import jinja2
import pytest
from babel.messages.catalog import Catalog

from stationlink.errors import ConfigError
from stationlink.i18n import catalog as cat
from stationlink.i18n import (
    check_lang,
    format_date,
    format_datetime,
    format_yuan,
    gettext_for,
    install_jinja,
    translator,
)


@pytest.fixture(scope="module")
def template() -> Catalog:
    return cat.extract()


def test_every_message_id_used_has_a_chinese_translation(template: Catalog) -> None:
    assert len([m for m in template if m.id]) > 30  # labels and code strings were found
    assert cat.untranslated("zh", template) == []


def test_shipped_mo_is_compiled_from_the_po() -> None:
    assert cat.mo_matches_po("zh")


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
