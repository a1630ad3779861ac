"""Customer identities: phone numbers, utility accounts and test bank cards of real form.

Contract:
- A customer is ``(station index, customer index)``; a bank card is ``(station index, card
  index)``. Their numbers are *derived* (keyed BLAKE2b of seed, station, index), never stored:
  the same seed always gives the same household the same phone numbers, accounts and cards,
  and a month of traffic for 10,000 stations needs no table of millions of customers.
- Phone numbers are 11 digits with a real prefix of the carrier (China Mobile, China Unicom,
  China Telecom number blocks). Electricity accounts are 10-digit customer numbers (户号),
  water 8 digits, gas 10 digits, cable TV 11 digits.
- Card numbers are test PANs: a scenario BIN, derived digits, and a valid Luhn check digit.
  They are handed out only as :class:`~stationlink.protocol.messages.ClearPan` (whose repr is
  masked) for the emulated card terminals; everything else uses :meth:`Identities.token`, the
  protocol's keyed token. No full card number is logged or written anywhere.
"""

from __future__ import annotations

import hashlib

from stationlink.protocol import ClearPan, card_token

from ..cards import luhn_check_digit as luhn_check_digit  # re-exported (tests import it)
from ..cards import luhn_valid as luhn_valid  # re-exported: stationlink_sim.traffic uses it

# Number blocks (first three digits) of each carrier's mobile numbers.
CARRIER_PREFIXES: dict[str, tuple[str, ...]] = {
    "mobile": (
        "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157",
        "158", "159", "172", "178", "182", "183", "184", "187", "188", "195", "198",
    ),
    "unicom": ("130", "131", "132", "145", "155", "156", "166", "175", "176", "185", "186"),
    "telecom": ("133", "149", "153", "173", "177", "180", "181", "189", "191", "199"),
}
# Digits of the account number of each utility product (phone products use a phone number).
ACCOUNT_DIGITS = {"electricity": 10, "water": 8, "gas": 10, "cable_tv": 11}


class Identities:
    """Derives the numbers of a run's customers and cards from its seed."""

    def __init__(
        self, seed: int, bins: tuple[str, ...], pan_length: int, token_key: bytes
    ) -> None:
        if not bins:
            raise ValueError("at least one card BIN is needed")
        self._salt = f"stationlink-sim|{seed}|".encode()
        self._bins = bins
        self._pan_length = pan_length
        self._key = token_key

    def _digits(self, label: str, count: int) -> str:
        digest = hashlib.blake2b((label).encode(), key=self._salt[:64], digest_size=16)
        number = int.from_bytes(digest.digest(), "big")
        return str(number % 10**count).zfill(count)

    def _pick(self, label: str, n: int) -> int:
        digest = hashlib.blake2b(label.encode(), key=self._salt[:64], digest_size=4)
        return int.from_bytes(digest.digest(), "big") % n

    def account(self, station: int, product: str, customer: int) -> str:
        """The account a customer pays for ``product``: a phone number or a utility account."""
        prefixes = CARRIER_PREFIXES.get(product)
        if prefixes is not None:
            prefix = prefixes[self._pick(f"prefix|{station}|{customer}|{product}", len(prefixes))]
            return prefix + self._digits(f"phone|{station}|{customer}|{product}", 8)
        digits = ACCOUNT_DIGITS.get(product)
        if digits is None:
            raise ValueError(f"no account form for product {product!r}")
        body = self._digits(f"account|{station}|{customer}|{product}", digits - 1)
        return str(1 + self._pick(f"lead|{station}|{product}", 9)) + body

    def pan(self, station: int, card: int) -> ClearPan:
        """The test card number of a card (valid Luhn, scenario BIN)."""
        label = f"card|{station}|{card}"
        bin_ = self._bins[self._pick(label, len(self._bins))]
        body = self._digits(label, self._pan_length - len(bin_) - 1)
        partial = bin_ + body
        return ClearPan(partial + luhn_check_digit(partial))

    def token(self, station: int, card: int) -> str:
        """The card's keyed token, as the protocol boundary computes it."""
        return card_token(self.pan(station, card).reveal(), self._key)

    def card_holder(self, station: int, card: int, households: int) -> int:
        """The customer (household) a card belongs to."""
        return card % households
