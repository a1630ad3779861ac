"""`parse_yuan` refuses amounts it cannot hold with ValueError, never InvalidOperation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stationlink.money import parse_yuan


@pytest.mark.parametrize("text", ["1e30", "9" * 40, "-1e300"])
def test_huge_amounts_are_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="too large"):
        parse_yuan(text)


def test_exact_amounts_still_parse() -> None:
    assert parse_yuan(" 45.30 ") == Decimal("45.30")
    with pytest.raises(ValueError, match="more than two decimals"):
        parse_yuan("1.005")
