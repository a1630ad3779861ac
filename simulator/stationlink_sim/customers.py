"""Who stands at the counter: cards for the card terminal, bill accounts for the bill terminal.

Contract:
- A :data:`CardSource` is a callable returning the next card a customer presents (a
  :class:`~stationlink.protocol.messages.ClearPan`) or ``None`` when nobody presents one (the
  terminal then declines with ``CARD_ERROR``). :class:`CardQueue` is fed by a test or the
  traffic model; :class:`SeededCards` draws from a seeded pool of test cards (UnionPay test
  BIN ``621700``, 19 digits, valid Luhn check digit) so customers come back.
- :class:`Bank` keeps each card's balance, starting from a deterministic function of
  ``(seed, card number)`` unless :meth:`Bank.set_balance` opened it with a given balance;
  :class:`Billers` keeps what each bill account owes, starting from a deterministic function
  of ``(seed, product, account)``, and gives Chinese customer names. Which accounts exist:
  by default a well-formed account (:func:`account_valid`) of a known product, except one in
  ``unknown_share`` by chance; ``any_account=True`` takes any account text of a known product
  (for hosts under test that use made-up accounts); accounts in ``unknown`` never exist.
  Both are the *far side* (bank / biller) and survive a terminal power cycle.
- Everything is reproducible from the seed; nothing reads global randomness. Card numbers
  live in memory only and are never logged (``ClearPan`` reprs are masked).
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import deque
from collections.abc import Callable

from stationlink.protocol import ClearPan

from .cards import luhn_check_digit
from .cards import luhn_valid as luhn_valid  # re-exported: callers import it from here

CardSource = Callable[[], ClearPan | None]

TEST_BIN = "621700"
BILL_PRODUCTS = ("mobile", "unicom", "telecom", "electricity", "water", "gas", "cable_tv")
PHONE_PRODUCTS = frozenset({"mobile", "unicom", "telecom"})

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华平刚桂兰霞建国玉梅红志文春"


def make_test_pan(rng: random.Random, *, bin_prefix: str = TEST_BIN, length: int = 19) -> ClearPan:
    """A seeded test card number with a valid Luhn check digit."""
    digits = length - 1 - len(bin_prefix)
    body = bin_prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
    return ClearPan(body + luhn_check_digit(body))


class SeededCards:
    """A pool of ``pool_size`` seeded test cards; each call picks one (customers return)."""

    def __init__(self, rng: random.Random, *, pool_size: int = 200) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._rng = rng
        self._pool = [make_test_pan(rng) for _ in range(pool_size)]
        self._lock = threading.Lock()

    @property
    def pool(self) -> tuple[ClearPan, ...]:
        return tuple(self._pool)

    def __call__(self) -> ClearPan:
        with self._lock:
            return self._rng.choice(self._pool)


class CardQueue:
    """Cards presented in order; ``None`` when empty (unless a ``fallback`` source is given)."""

    def __init__(self, fallback: CardSource | None = None) -> None:
        self._queue: deque[ClearPan] = deque()
        self._lock = threading.Lock()
        self._fallback = fallback

    def put(self, card: ClearPan) -> None:
        with self._lock:
            self._queue.append(card)

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    def __call__(self) -> ClearPan | None:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self._fallback() if self._fallback is not None else None


def _stable_int(seed: int, *parts: str) -> int:
    h = hashlib.sha256(("\x1f".join([str(seed), *parts])).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big")


class Bank:
    """Card balances in fen; the first balance of a card is seeded (0 to 20,000 yuan)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._balances: dict[str, int] = {}
        self._lock = threading.Lock()

    def _key(self, card: ClearPan) -> str:
        return hashlib.sha256(card.reveal().encode("ascii")).hexdigest()

    def balance(self, card: ClearPan) -> int:
        key = self._key(card)
        with self._lock:
            if key not in self._balances:
                # skewed: many small rural savings accounts, a few large ones
                u = _stable_int(self._seed, "balance", key) % 10_000
                self._balances[key] = (u * u) // 5_000 * 100 + u % 100
            return self._balances[key]

    def set_balance(self, card: ClearPan, balance_fen: int) -> None:
        """The card's balance is ``balance_fen`` from now on (a scripted customer)."""
        if balance_fen < 0:
            raise ValueError("a balance cannot be negative")
        with self._lock:
            self._balances[self._key(card)] = balance_fen

    def debit(self, card: ClearPan, amount_fen: int) -> bool:
        """Take ``amount_fen`` if the balance covers it; ``False`` (nothing taken) otherwise."""
        current = self.balance(card)
        with self._lock:
            if amount_fen > current:
                return False
            self._balances[self._key(card)] = current - amount_fen
            return True

    def credit(self, card: ClearPan, amount_fen: int) -> None:
        current = self.balance(card)
        with self._lock:
            self._balances[self._key(card)] = current + amount_fen


def account_valid(product: str, account: str) -> bool:
    """Phone products take 11-digit mobile numbers; utilities 6 to 20 digits."""
    if product in PHONE_PRODUCTS:
        return len(account) == 11 and account.isdigit() and account.startswith("1")
    return account.isdigit() and 6 <= len(account) <= 20


class Billers:
    """What each (product, account) owes, in fen, and who holds the account."""

    def __init__(self, seed: int, *, unknown_share: int = 40, any_account: bool = False,
                 unknown: frozenset[str] = frozenset()) -> None:
        self._seed = seed
        self._owed: dict[tuple[str, str], int] = {}
        self._unknown_share = unknown_share  # one account in N is not found at the biller
        self._any_account = any_account
        self._unknown = unknown
        self._lock = threading.Lock()

    def exists(self, product: str, account: str) -> bool:
        if product not in BILL_PRODUCTS or not account or account in self._unknown:
            return False
        if self._any_account:
            return True
        if not account_valid(product, account):
            return False
        return _stable_int(self._seed, "exists", product, account) % self._unknown_share != 0

    def owed(self, product: str, account: str) -> int:
        with self._lock:
            key = (product, account)
            if key not in self._owed:
                n = _stable_int(self._seed, "owed", product, account)
                if product in PHONE_PRODUCTS:  # arrears on a prepaid phone: often nothing
                    self._owed[key] = 0 if n % 3 else (n >> 8) % 5_000
                else:  # a monthly utility bill, 5 to 400 yuan
                    self._owed[key] = 500 + (n >> 8) % 39_500
            return self._owed[key]

    def pay(self, product: str, account: str, amount_fen: int) -> int:
        """Apply a payment; returns the part that settled arrears (a top-up may exceed them)."""
        owed = self.owed(product, account)
        applied = min(owed, amount_fen)
        with self._lock:
            self._owed[(product, account)] = owed - applied
        return applied

    def unpay(self, product: str, account: str, amount_fen: int) -> None:
        """Undo a payment whose :meth:`pay` settled ``amount_fen`` of arrears."""
        owed = self.owed(product, account)
        with self._lock:
            self._owed[(product, account)] = owed + amount_fen

    def customer_name(self, product: str, account: str) -> str:
        n = _stable_int(self._seed, "name", product, account)
        surname = _SURNAMES[n % len(_SURNAMES)]
        given = _GIVEN[(n >> 8) % len(_GIVEN)]
        if (n >> 16) % 2:
            given += _GIVEN[(n >> 24) % len(_GIVEN)]
        return surname + given
