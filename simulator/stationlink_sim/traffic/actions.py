"""What customers do at the counter in one station-day: the building blocks of the model.

Contract:
- :class:`AreaModel` turns an area profile of a :class:`~.scenario.Scenario` into fast samplers
  (hour of day, product, amount, referral product).
- :class:`DayBuilder` appends raw entries for one station-day, in creation order, as lists
  ``[second, kind, product, amount_fen, customer, card, outcome, reason, reversed, index,
  reversal_of_index]`` (:mod:`.model` sorts them by time and numbers them). It draws only from
  the ``random.Random`` it is given.
- Bill payment: paid in cash (no card); declined with ``decline_rate`` (wrong account), then
  retried correctly with ``retry_after_decline``; approved ones are reversed with
  ``reversal_rate`` (a reversal entry follows).
- Withdrawal session: a card from the station's pool, more often the regulars
  (``card index = cards × U^card_popularity_exponent``); optionally a balance inquiry first;
  declined for insufficient funds (retried at half the amount, in whole hundreds) or a wrong
  PIN (retried); approved ones reversed with ``reversal_rate``. The same card comes back the
  same day with the chained probabilities ``repeat_same_day`` (2nd, 3rd, 4th, ...), each
  ``repeat_gap_s`` later and only while the shop is open, which is what exercises the policy's
  two-withdrawals-per-card-per-day cap.
- Follow-ups (retry, reversal) come ``retry_delay_s`` / ``reversal_delay_s`` after the original
  and may run a few minutes past closing time, never past midnight.
- Amounts are integer fen. A lognormal draw is a float only until it is truncated to fen.
"""

from __future__ import annotations

import math
import random as _random
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from .calendar import HourShape
from .scenario import AmountModel, AreaProfile, Scenario

DAY_SECONDS = 86400


def _cumulative(weights: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


class AmountSampler:
    """Draws one product's amount in fen (see :class:`~.scenario.AmountModel`)."""

    __slots__ = ("_cum", "_denoms", "_high", "_low", "_median", "_share", "_sigma")

    def __init__(self, model: AmountModel) -> None:
        self._share = model.denomination_share
        self._denoms = model.denominations_fen
        self._cum = _cumulative(model.denomination_weights)
        self._median = float(model.median_fen)
        self._sigma = model.sigma
        self._low, self._high = model.min_fen, model.max_fen

    def draw(self, rng: _random.Random) -> int:
        share = self._share
        if share >= 1.0 or (share > 0.0 and rng.random() < share):
            cum = self._cum
            return self._denoms[min(bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)]
        fen = int(self._median * math.exp(self._sigma * rng.gauss()))
        return min(max(fen, self._low), self._high)


class AreaModel:
    """Precomputed samplers and rates of one area (rural or urban)."""

    def __init__(self, scenario: Scenario, profile: AreaProfile) -> None:
        self.s = scenario
        self.shape = HourShape(profile.hour_of_day)
        mix = [(p, w) for p, w in profile.product_mix if w > 0]
        self.products = [p for p, _ in mix]
        self.product_cum = _cumulative([w for _, w in mix])
        self.samplers = [AmountSampler(scenario.amounts[p]) for p in self.products]
        self.bill_rate = profile.bill_visits_per_day
        self.withdrawal_rate = profile.withdrawal_sessions_per_day
        self.inquiry_rate = profile.balance_inquiries_per_day
        refs = [(p, r) for p, r in profile.referrals_per_month if r > 0]
        # per month -> per day over an average month (365.25 / 12 days)
        self.referral_rate = sum(r for _, r in refs) * 12.0 / 365.25
        self.referral_products = [p for p, _ in refs]
        self.referral_cum = _cumulative([r for _, r in refs])
        self.wd_cum = _cumulative(scenario.withdrawal_amount_weights)
        self.wd_amounts = scenario.withdrawal_amounts_fen


class DayBuilder:
    """Appends one station-day's raw entries (see module contract)."""

    __slots__ = ("a", "cards", "customers", "entries", "has_reversals", "rng", "s")

    def __init__(self, area: AreaModel, rng: _random.Random, customers: int, cards: int) -> None:
        self.a = area
        self.s = area.s
        self.rng = rng
        self.customers = customers
        self.cards = cards
        self.entries: list[list[Any]] = []
        self.has_reversals = False

    def _add(
        self, sec: int, kind: str, product: str, amount: int, customer: int, card: int,
        outcome: str, reason: str = "", reversal_of: int = -1,
    ) -> int:
        entries = self.entries
        index = len(entries)
        entries.append(
            [sec, kind, product, amount, customer, card, outcome, reason, False, index, reversal_of]
        )
        return index

    def _later(self, sec: int, gap: tuple[int, int]) -> int:
        return min(sec + self.rng.randint(gap[0], gap[1]), DAY_SECONDS - 1)

    def _reverse(self, index: int) -> None:
        e = self.entries[index]
        e[8] = True
        self.has_reversals = True
        sec = self._later(e[0], self.s.reversal_delay_s)
        self._add(sec, "reversal", e[2], e[3], e[4], e[5], "approved", "", index)

    def bill_visits(self, n: int) -> None:
        rng, a, s = self.rng, self.a, self.s
        random = rng.random
        shape_second = a.shape.second
        products, cum, samplers = a.products, a.product_cum, a.samplers
        last, total = len(cum) - 1, cum[-1]
        decline, retry = s.bill_decline_rate, s.bill_retry_after_decline
        reverse = s.bill_reversal_rate
        customers = self.customers
        add = self._add
        for _ in range(n):
            sec = shape_second(random())
            p = min(bisect_right(cum, random() * total), last)
            amount = samplers[p].draw(rng)
            customer = int(random() * customers)
            u = random()
            if u >= decline + reverse:
                add(sec, "bill_payment", products[p], amount, customer, -1, "approved")
            elif u < decline:
                add(sec, "bill_payment", products[p], amount, customer, -1, "declined",
                    "account_not_found")
                if random() < retry:
                    add(self._later(sec, s.retry_delay_s), "bill_payment", products[p], amount,
                        customer, -1, "approved")
            else:
                self._reverse(add(sec, "bill_payment", products[p], amount, customer, -1,
                                  "approved"))

    def _card(self) -> int:
        return int(self.cards * self.rng.random() ** self.s.card_popularity_exponent)

    def _withdraw(self, sec: int, card: int, customer: int) -> None:
        rng, s, a = self.rng, self.s, self.a
        cum = a.wd_cum
        amount = a.wd_amounts[min(bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)]
        u = rng.random()
        if u < s.insufficient_funds_rate:
            self._add(sec, "withdrawal", "", amount, customer, card, "declined",
                      "insufficient_funds")
            smaller = (amount // 2) // 10000 * 10000
            if smaller >= 10000 and rng.random() < s.withdrawal_retry_after_decline:
                sec = self._later(sec, s.retry_delay_s)
                self._add(sec, "withdrawal", "", smaller, customer, card, "approved")
        elif u < s.insufficient_funds_rate + s.wrong_pin_rate:
            self._add(sec, "withdrawal", "", amount, customer, card, "declined", "wrong_pin")
            if rng.random() < s.withdrawal_retry_after_decline:
                sec = self._later(sec, s.retry_delay_s)
                self._add(sec, "withdrawal", "", amount, customer, card, "approved")
        elif u < s.insufficient_funds_rate + s.wrong_pin_rate + s.withdrawal_reversal_rate:
            self._reverse(self._add(sec, "withdrawal", "", amount, customer, card, "approved"))
        else:
            self._add(sec, "withdrawal", "", amount, customer, card, "approved")

    def withdrawal_sessions(self, n: int) -> None:
        rng, s = self.rng, self.s
        shape_second = self.a.shape.second
        lead = s.inquiry_lead_s
        for _ in range(n):
            sec = shape_second(rng.random())
            card = self._card()
            customer = card % self.customers
            if rng.random() < s.inquiry_before_withdrawal:
                before = max(sec - rng.randint(lead[0], lead[1]), 0)
                self._add(before, "balance_inquiry", "", 0, customer, card, "approved")
            self._withdraw(sec, card, customer)
            for p in s.repeat_same_day:
                if rng.random() >= p:
                    break
                sec += rng.randint(s.repeat_gap_s[0], s.repeat_gap_s[1])
                if sec >= DAY_SECONDS or not self.a.shape.is_open(sec):
                    break  # the shop has closed: not today
                self._withdraw(sec, card, customer)

    def balance_inquiries(self, n: int) -> None:
        rng, s = self.rng, self.s
        for _ in range(n):
            sec = self.a.shape.second(rng.random())
            card = self._card()
            customer = card % self.customers
            if rng.random() < s.wrong_pin_rate:
                self._add(sec, "balance_inquiry", "", 0, customer, card, "declined", "wrong_pin")
            else:
                self._add(sec, "balance_inquiry", "", 0, customer, card, "approved")

    def referrals(self, n: int) -> None:
        rng, a = self.rng, self.a
        cum = a.referral_cum
        for _ in range(n):
            sec = a.shape.second(rng.random())
            p = min(bisect_right(cum, rng.random() * cum[-1]), len(cum) - 1)
            customer = int(rng.random() * self.customers)
            self._add(sec, "referral", a.referral_products[p], 0, customer, -1, "approved")
