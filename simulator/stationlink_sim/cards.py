"""The Luhn check of card numbers, shared by the simulator's card sources.

Contract: :func:`luhn_check_digit` gives the digit that makes ``partial + digit`` pass the
Luhn (mod 10) check; :func:`luhn_valid` says whether a string of digits, check digit last,
passes it (``False`` when it is empty or not all digits). Pure functions: nothing is stored
or logged.
"""

from __future__ import annotations


def luhn_check_digit(partial: str) -> str:
    """The Luhn check digit to append to ``partial`` (digits only)."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` (check digit last) passes the Luhn check."""
    return digits.isdigit() and luhn_check_digit(digits[:-1]) == digits[-1]


__all__ = ["luhn_check_digit", "luhn_valid"]
