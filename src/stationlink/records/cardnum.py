"""Card-number shapes in text: what may be a full card number (PAN), in any spelling.

Contract:
- A *digit run* is a maximal stretch of decimal digits (any script: ``4``, ``４``) in which
  neighbouring digits may be separated by one space or one dash (``4111 1111-1111 1111``). A
  run glued to a Latin letter (``ab4111...``, ``T1-0001...``) is part of a code such as a
  hex card token or a terminal id, not a number, and is not a run.
- :func:`card_numbers` yields each run of 12 to 19 digits that passes the Luhn check: the
  shape of a card number (UnionPay, Visa, Mastercard, Maestro ... are 12 to 19 digits with a
  Luhn check digit). :func:`has_card_number` says whether there is one.
- :func:`separated_card_numbers` yields only those runs that contain a separator: the form a
  person types or copies a card in. Machine references (a terminal's 12-digit transaction
  reference) are plain digits and one in ten passes the Luhn check, so references are only
  checked for this form (``docs/formats.md``, "Card numbers").
- :func:`is_digit_string` says whether a value is a card field's forbidden form: 12 or more
  digits, plain or separated, whatever the check digit.
- :func:`luhn_valid` is the mod-10 check of a string of digits.
- Pure functions; one compiled pattern does the scanning (C speed), Python only looks at the
  rare runs of 12 or more digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: A run of 12 or more digits (module contract): not preceded by a digit, a letter or a
#: digit and separator; possessive, so the run is maximal; not followed by a letter.
_RUN = re.compile(r"(?<![\dA-Za-z])(?<!\d[ -])\d(?:[ -]?\d){11,}+(?![A-Za-z])")
#: The run pattern, for callers that pre-check (no match: no card-number shape at all).
RUN_PATTERN = _RUN
_SEPARATORS = re.compile(r"[ -]")
_WHOLE = re.compile(r"\d(?:[ -]?\d){11,}+")
#: One digit, a separator, a digit: without it no separated run exists (a fast pre-check).
SEPARATED_DIGITS = re.compile(r"\d[ -]\d")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of ``digits`` (check digit last; any script's digits)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_numbers(text: str) -> Iterator[str]:
    """Each card-number shape in ``text``, as written (module contract)."""
    for m in _RUN.finditer(text):
        run = m.group()
        digits = _SEPARATORS.sub("", run)
        if len(digits) <= 19 and luhn_valid(digits):
            yield run


def has_card_number(text: str) -> bool:
    """Whether ``text`` holds a card-number shape, plain or separated."""
    return next(card_numbers(text), None) is not None


def separated_card_numbers(text: str) -> Iterator[str]:
    """The card-number shapes in ``text`` that contain a space or a dash."""
    if SEPARATED_DIGITS.search(text) is None:
        return
    for run in card_numbers(text):
        if _SEPARATORS.search(run):
            yield run


def is_digit_string(value: str) -> bool:
    """Whether ``value`` is 12 or more digits, possibly separated by spaces or dashes."""
    return _WHOLE.fullmatch(value) is not None


def masked(run: str) -> str:
    """A found card number as it may be shown: its digits with all but the last four
    replaced by ``*`` (an error message never repeats the number)."""
    digits = _SEPARATORS.sub("", run)
    return "*" * (len(digits) - 4) + digits[-4:]


__all__ = ["RUN_PATTERN", "SEPARATED_DIGITS", "card_numbers", "has_card_number",
           "is_digit_string", "luhn_valid", "masked", "separated_card_numbers"]
