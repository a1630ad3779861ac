"""Traffic scenarios: every parameter of the traffic model, loaded from a TOML file.

Contract:
- :func:`load_scenario` takes a packaged scenario name (``county``, ``city``) or a path to a
  ``.toml`` file and returns a frozen :class:`Scenario`. Every table and key is checked; an
  unknown key, a missing key or a bad value raises :class:`~stationlink.errors.ConfigError`
  naming the file, the table and the key. Nothing has a hidden default in code: the file
  documents every choice (``docs/simulator.md``, "Traffic model").
- Money in the file is whole yuan or a decimal string; here it is integer fen.
- :meth:`Scenario.with_stations` gives the same scenario scaled to another station count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from stationlink.errors import ConfigError
from stationlink.interchange import BILL_PRODUCTS, REFERRAL_PRODUCTS

from ._config import Table

#: Calibration figures a scenario may name as targets, and what each one measures.
TARGET_NAMES = {
    "stations": "stations with traffic",
    "bill_payments_per_station_day": "approved bill payments per station per day",
    "yuan_per_bill_payment": "yuan per approved bill payment",
    "yuan_per_station_day": "bill-payment yuan per station per day",
    "top10_amount_share": "share of the amount taken by the 10 busiest stations",
    "bottom10_amount_share": "share of the amount taken by the 10 quietest stations",
}


@dataclass(frozen=True)
class AmountModel:
    """How one product's amounts are drawn: a round denomination (with probability
    ``denomination_share``) or else a lognormal bill amount in fen, clamped to [min, max]."""

    denomination_share: float
    denominations_fen: tuple[int, ...]
    denomination_weights: tuple[float, ...]
    median_fen: int
    sigma: float
    min_fen: int
    max_fen: int


@dataclass(frozen=True)
class AreaProfile:
    """Per-area (rural or urban) activity: rates per station per day at weight 1."""

    hour_of_day: tuple[float, ...]
    product_mix: tuple[tuple[str, float], ...]
    bill_visits_per_day: float
    withdrawal_sessions_per_day: float
    balance_inquiries_per_day: float
    referrals_per_month: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    source: str
    default_seed: int
    id_prefix: str
    # network
    stations: int
    stations_per_branch: int
    urban_branch_share: float
    plan_effective_share: float
    households_min: int
    households_max: int
    shared_village_share: float
    urban_customers: int
    # activity
    weight_sigma: float
    rural: AreaProfile
    urban: AreaProfile
    # calendar
    day_of_week: tuple[float, ...]
    bill_day_of_month: tuple[float, ...]
    withdrawal_day_of_month: tuple[float, ...]
    market_cycle_days: int
    market_day_factor: float
    # amounts
    amounts: dict[str, AmountModel]
    # bill payments
    bill_decline_rate: float
    bill_retry_after_decline: float
    bill_reversal_rate: float
    # withdrawals
    withdrawal_amounts_fen: tuple[int, ...]
    withdrawal_amount_weights: tuple[float, ...]
    insufficient_funds_rate: float
    wrong_pin_rate: float
    withdrawal_retry_after_decline: float
    withdrawal_reversal_rate: float
    inquiry_before_withdrawal: float
    repeat_same_day: tuple[float, ...]
    cards_per_household: float
    card_popularity_exponent: float
    # timing of follow-up actions: (min, max) seconds
    retry_delay_s: tuple[int, int]
    reversal_delay_s: tuple[int, int]
    inquiry_lead_s: tuple[int, int]
    repeat_gap_s: tuple[int, int]
    # cards
    card_bins: tuple[str, ...]
    pan_length: int
    card_token_key: str
    # calibration
    calibration_start: dt.date
    calibration_days: int
    tolerance: float
    targets: dict[str, float]

    def with_stations(self, stations: int) -> Scenario:
        if stations < 1:
            raise ConfigError(f"{self.source}: station count must be >= 1, not {stations}")
        return dataclasses.replace(self, stations=stations)


def packaged_scenarios() -> list[str]:
    """Names of the scenarios shipped with the simulator."""
    folder = resources.files("stationlink_sim") / "scenarios"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a packaged scenario by name, or a scenario file by path (see module contract)."""
    text_name = str(name_or_path)
    if isinstance(name_or_path, Path) or text_name.endswith(".toml") or "/" in text_name:
        path = Path(name_or_path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read scenario file {path}: {exc.strerror}") from exc
        source = str(path)
    else:
        if text_name not in packaged_scenarios():
            known = ", ".join(packaged_scenarios())
            raise ConfigError(f"no scenario named {text_name!r} (packaged: {known})")
        resource = resources.files("stationlink_sim") / "scenarios" / f"{text_name}.toml"
        raw = resource.read_bytes()
        source = f"{text_name}.toml"
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (byte offset {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return parse_scenario(data, source)


def parse_scenario(data: dict[str, Any], source: str) -> Scenario:
    """Build a :class:`Scenario` from parsed TOML, checking every key."""
    root = Table(data, "", source)
    head = root.table("scenario")
    net = root.table("network")
    act = root.table("activity")
    cal = root.table("calendar")
    bill = root.table("bill_payment")
    wd = root.table("withdrawal")
    cards = root.table("cards")
    timing = root.table("timing")
    calib = root.table("calibration")
    amounts_t = root.table("amounts")
    root.finish()

    rural = _area(act.table("rural"), cal, "rural")
    urban = _area(act.table("urban"), cal, "urban")
    weight_sigma = act.number("weight_sigma", low=0.0, high=3.0)
    act.finish()

    amounts: dict[str, AmountModel] = {}
    for product in amounts_t.keys():
        if product not in BILL_PRODUCTS:
            raise amounts_t.error(
                product, f"not a bill-payment product ({', '.join(BILL_PRODUCTS)})"
            )
        amounts[product] = _amount(amounts_t.table(product))
    amounts_t.finish()
    for area in (rural, urban):
        for product, weight in area.product_mix:
            if weight > 0 and product not in amounts:
                raise amounts_t.error(product, "product has a share in product_mix but no amounts")

    wd_amounts = wd.money_list("amounts")
    wd_weights = wd.weights("amount_weights", len(wd_amounts))
    bins = cards.texts("bins")
    pan_length = cards.integer("pan_length", low=13)
    if pan_length > 19:
        raise cards.error("pan_length", f"a card number has at most 19 digits, not {pan_length}")
    for i, b in enumerate(bins):
        if not b.isdigit() or not 6 <= len(b) < pan_length:
            raise cards.error(f"bins[{i}]", f"a BIN is 6+ digits shorter than the PAN: {b!r}")

    targets_t = calib.table("targets")
    targets = {k: targets_t.number(k, positive=True) for k in targets_t.keys() if k in TARGET_NAMES}
    targets_t.finish()

    h_min = net.integer("households_min", low=1)
    h_max = net.integer("households_max", low=1)
    if h_max < h_min:
        raise net.error("households_max", f"must be >= households_min ({h_min})")

    scenario = Scenario(
        name=head.text("name"),
        description=head.text("description"),
        source=source,
        default_seed=head.integer("seed", low=0),
        id_prefix=head.text("id_prefix"),
        stations=net.integer("stations", low=1),
        stations_per_branch=net.integer("stations_per_branch", low=1),
        urban_branch_share=net.probability("urban_branch_share"),
        plan_effective_share=net.probability("plan_effective_share"),
        households_min=h_min,
        households_max=h_max,
        shared_village_share=net.probability("shared_village_share"),
        urban_customers=net.integer("urban_customers", low=1),
        weight_sigma=weight_sigma,
        rural=rural,
        urban=urban,
        day_of_week=cal.weights("day_of_week", 7),
        bill_day_of_month=cal.weights("bill_day_of_month", 31),
        withdrawal_day_of_month=cal.weights("withdrawal_day_of_month", 31),
        market_cycle_days=cal.integer("market_cycle_days", low=1),
        market_day_factor=cal.number("market_day_factor", low=0.0),
        amounts=amounts,
        bill_decline_rate=bill.probability("decline_rate"),
        bill_retry_after_decline=bill.probability("retry_after_decline"),
        bill_reversal_rate=bill.probability("reversal_rate"),
        withdrawal_amounts_fen=wd_amounts,
        withdrawal_amount_weights=wd_weights,
        insufficient_funds_rate=wd.probability("insufficient_funds_rate"),
        wrong_pin_rate=wd.probability("wrong_pin_rate"),
        withdrawal_retry_after_decline=wd.probability("retry_after_decline"),
        withdrawal_reversal_rate=wd.probability("reversal_rate"),
        inquiry_before_withdrawal=wd.probability("inquiry_before_withdrawal"),
        repeat_same_day=_probabilities(wd, "repeat_same_day"),
        cards_per_household=wd.number("cards_per_household", positive=True),
        card_popularity_exponent=wd.number("card_popularity_exponent", low=1.0, high=10.0),
        retry_delay_s=_seconds(timing, "retry_delay_s"),
        reversal_delay_s=_seconds(timing, "reversal_delay_s"),
        inquiry_lead_s=_seconds(timing, "inquiry_lead_s"),
        repeat_gap_s=_seconds(timing, "repeat_gap_s"),
        card_bins=bins,
        pan_length=pan_length,
        card_token_key=cards.text("token_key"),
        calibration_start=calib.date("start"),
        calibration_days=calib.integer("days", low=1),
        tolerance=calib.number("tolerance", positive=True, high=1.0),
        targets=targets,
    )
    if scenario.market_day_factor > scenario.market_cycle_days:
        raise cal.error("market_day_factor", "must be at most market_cycle_days (others go < 0)")
    for t in (head, net, cal, bill, wd, cards, calib, timing):
        t.finish()
    return scenario


def _seconds(table: Table, key: str) -> tuple[int, int]:
    values = table.numbers(key, 2)
    low, high = values
    if low != int(low) or high != int(high) or not 0 <= low <= high <= 86400:
        raise table.error(key, f"must be [min, max] whole seconds, 0 <= min <= max, not {values}")
    return int(low), int(high)


def _probabilities(table: Table, key: str) -> tuple[float, ...]:
    values = table.numbers(key, min_length=0)
    for i, v in enumerate(values):
        if v > 1.0:
            raise table.error(f"{key}[{i}]", f"a probability is at most 1, not {v!r}")
    return values


def _area(t: Table, cal: Table, area: str) -> AreaProfile:
    hours = cal.weights(f"{area}_hour_of_day", 24)
    mix_t = t.table("product_mix")
    mix = tuple((k, mix_t.number(k, low=0.0)) for k in mix_t.keys())
    for product, _ in mix:
        if product not in BILL_PRODUCTS:
            raise mix_t.error(product, f"not a bill-payment product ({', '.join(BILL_PRODUCTS)})")
    if sum(w for _, w in mix) <= 0:
        raise t.error("product_mix", "weights must not all be zero")
    mix_t.finish()
    ref_t = t.table("referrals_per_month")
    refs = tuple((k, ref_t.number(k, low=0.0)) for k in ref_t.keys())
    for product, _ in refs:
        if product not in REFERRAL_PRODUCTS:
            raise ref_t.error(product, f"not a referral product ({', '.join(REFERRAL_PRODUCTS)})")
    ref_t.finish()
    profile = AreaProfile(
        hour_of_day=hours,
        product_mix=mix,
        bill_visits_per_day=t.number("bill_visits_per_day", low=0.0),
        withdrawal_sessions_per_day=t.number("withdrawal_sessions_per_day", low=0.0),
        balance_inquiries_per_day=t.number("balance_inquiries_per_day", low=0.0),
        referrals_per_month=refs,
    )
    t.finish()
    return profile


def _amount(t: Table) -> AmountModel:
    share = t.probability("denomination_share")
    if share > 0 or t.has("denominations"):
        denoms = t.money_list("denominations")
        weights = t.weights("denomination_weights", len(denoms))
    else:
        denoms, weights = (), ()
    if share < 1 or t.has("median"):
        median = t.money_fen("median")
        sigma = t.number("sigma", low=0.0, high=3.0)
        low, high = t.money_fen("min"), t.money_fen("max")
        if not low <= median <= high:
            raise t.error("median", "must lie between min and max")
    else:
        median, sigma, low, high = 0, 0.0, 0, 0
    model = AmountModel(share, denoms, weights, median, sigma, low, high)
    t.finish()
    return model
