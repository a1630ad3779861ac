"""One station end to end: its customers, two emulated terminals, its sync agent, the hub.

Contract (:class:`StationDriver`, one thread per station, everything closed on exit):
- Starts the station's bill and card terminals (:func:`~stationlink_sim.serve.serve_terminal`
  on a real pty or a TCP socket on 127.0.0.1, journals in files under the station's
  directory) on the station's :class:`~stationlink_sim.clock.SimulatedClock`, writes the
  station's ``agent.toml`` (terminals by URL, dialects detected; hub URL; token in a file)
  and runs the real :class:`~stationlink.agent.Agent` from it, with an injected connector
  that passes the simulated clock as host time and short link timers (``LINK_TIMERS``).
- Each event, in time order: the clock jumps to its time, the customer is served, then one
  agent round runs (journal pull, unknowns, device status, settlement check, upload). The
  agent runs in this thread, round by round (``Agent.run_once``), so the host traffic on each
  link, and with it every seeded fault decision, is the same on every run with a seed.
- How a customer is served: bill payments, withdrawals, balance inquiries and reversals go
  through the PC (:class:`~.counter.CounterSession`) unless the event is ``standalone``: a
  share of the card terminal's customers (``standalone_share``, drawn per event from the
  seed) is served by the terminal on its own, as when the PC is off
  (:func:`~stationlink_sim.standalone.serve_standalone`, the device model's ``handle``
  directly; ``sim station --traffic`` serves its customers the same way); those records
  reach the hub through the journal pull only.
- The driver plays the far side so the terminals reach the traffic model's outcome: an
  approved withdrawal finds its amount in the bank, an ``insufficient_funds`` decline does
  not; a ``wrong_pin`` decline presents no card (``CARD_ERROR``); a declined bill payment
  carries a truncated account the biller does not know. The terminals still decide (the
  emulated biller does not know one account in 40), and the truth is what they did.
- A reversal reverses its original's terminal ref when the terminal approved the original;
  the terminal refuses it unless that is still its newest approved transaction.
- A referral is entered at the PC: :meth:`~stationlink.agent.StationSession.referral`
  stores it in the agent's buffer (referral id ``<YYYYMMDD>-<event seq>``) and the agent
  uploads it with everything else. What the cashier entered is also kept as a truth row
  (``txn_id`` ``<station>-PC-<referral id>``, no terminal, ``ts`` = the event's time, to the
  second as the export has it) in ``referrals`` and ``truth``.
- End of each day: the clock jumps to ``DAY_END`` (after the agent's 23:45 settlement check)
  for one round. End of the run: rounds until quiescent (every journal acknowledged, every
  buffer record at the hub, no unresolved unknown) or ``settle_timeout`` real seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from stationlink.agent import Agent, TerminalEntry, load_config
from stationlink.buffer import Buffer
from stationlink.client import Terminal
from stationlink.client import connect as client_connect
from stationlink.money import CST
from stationlink.protocol import JournalRecord, LinkFault, TxnStatus

from ..clock import SimulatedClock
from ..customers import CardQueue
from ..serve import RunningTerminal, serve_terminal
from ..standalone import arrange_card, bill_account, present_card, serve_standalone
from ..traffic import SimEvent, TrafficModel, event_to_transaction
from .clock import WorldClock
from .counter import CounterSession
from .plan import StationPlan, StationReport
from .truth import terminal_truth

log = logging.getLogger("stationlink_sim.e2e")
LINK_TIMERS = {"t1": 0.5, "t2_money": 2.0, "t2_other": 2.0}
DAY_END = dt.time(23, 50)


class StationDriver:
    """See the module contract."""

    def __init__(self, plan: StationPlan, model: TrafficModel, world: WorldClock,
                 hub_url: str, token: str) -> None:
        self.plan = plan
        self.model = model
        self.world = world
        self.hub_url = hub_url
        self.token = token
        st = plan.station
        self.clock = SimulatedClock(dt.datetime.combine(plan.days[0], dt.time(0), CST))
        self.rng = random.Random(f"{plan.seed}|e2e|{st.index}")
        self.cards = CardQueue()
        self.links: list[Terminal] = []
        self.report = StationReport(st.station_id)
        self.done: dict[tuple[dt.date, int], tuple[str, bool]] = {}  # -> (ref, standalone)
        self._boots: dict[str, tuple[int, Counter[str], Counter[str]]] = {}

    # ------------------------------------------------------------------ setup

    def _terminal(self, stack: ExitStack, kind: str) -> RunningTerminal:
        p = self.plan
        tid = p.bill_id if kind == "bill" else p.card_id
        return stack.enter_context(serve_terminal(
            kind, p.bill_dialect if kind == "bill" else p.card_dialect,
            pty=p.transport == "pty", listen=None if p.transport == "pty" else
            "tcp://127.0.0.1:0", seed=p.terminal_seed(kind),
            faults=p.bill_faults if kind == "bill" else p.card_faults, terminal_id=tid,
            journal_path=p.directory / f"{tid}.jsonl", card_key=p.card_key,
            card_source=self.cards if kind == "card" else None, base_clock=self.clock))

    def _write_config(self, urls: list[str]) -> Path:
        p = self.plan
        p.directory.mkdir(parents=True, exist_ok=True)
        token_file = p.directory / "hub.token"
        token_file.write_text(self.token + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        terms = "".join(f'\n[[terminals]]\nurl = "{u}"\n' for u in urls)
        path = p.directory / "agent.toml"
        path.write_text(
            f'# written by stationlink sim run; the terminal URLs are valid during the run\n'
            f'station_id = "{p.station.station_id}"\ncard_key = "{p.card_key.hex()}"\n'
            f'data_dir = "agent"\n\n[hub]\nurl = "{self.hub_url}"\ntoken_file = "hub.token"\n'
            f'timeout = 10\n\n[poll]\njournal_interval = 2\nunknown_grace = 60\n'
            f'reconnect_base = 0.2\nreconnect_cap = 2\n\n[upload]\ninterval = 1\n'
            f'status_interval = 3600\n{terms}', encoding="utf-8")
        return path

    def _connect(self, entry: TerminalEntry, card_key: bytes, rng: random.Random) -> Terminal:
        term = client_connect(entry.url, card_key=card_key, dialect=entry.dialect,
                              baudrate=entry.baudrate, rng=rng, host_time=self.clock.now,
                              t1=LINK_TIMERS["t1"], t2_money=LINK_TIMERS["t2_money"],
                              t2_other=LINK_TIMERS["t2_other"])
        self.links.append(term)
        self.report.faults["links_opened"] += 1
        return term

    # ------------------------------------------------------------------ the run

    def run(self) -> StationReport:
        t0 = time.monotonic()
        self.world.follow(self.clock)
        try:
            with ExitStack() as stack:
                self.bill = self._terminal(stack, "bill")
                self.card = self._terminal(stack, "card")
                config = load_config(self._write_config([self.bill.url, self.card.url]))
                self.agent = stack.enter_context(Agent(
                    config, clock=self.clock, rng=random.Random(self.rng.getrandbits(64)),
                    connector=self._connect))
                self.counter = CounterSession(self.agent)
                stack.callback(self.counter.close)
                self._round()
                day = None
                for ev in self.plan.events:
                    if day is not None and ev.day.date != day:
                        self._end_of_day(day)
                    day = ev.day.date
                    self.clock.jump_to(ev.time)
                    self._serve(ev)
                    self._round()
                if day is not None:
                    self._end_of_day(day)
                self._settle(config.buffer_path)
                self._collect()
        finally:
            self.world.forget(self.clock)
        self.report.seconds = time.monotonic() - t0
        return self.report

    def _round(self) -> None:
        self.agent.run_once()
        self._sample_faults()

    def _end_of_day(self, day: dt.date) -> None:
        self.clock.jump_to(dt.datetime.combine(day, DAY_END, CST))
        self._round()

    def _settle(self, buffer_path: Path) -> None:
        deadline = time.monotonic() + self.plan.settle_timeout
        with Buffer.open(buffer_path, self.plan.station.station_id) as buf:
            while True:
                self._round()
                unknown = buf.unresolved_unknowns()
                unacked = self.bill.device.journal.unacked() + self.card.device.journal.unacked()
                if not unknown and not unacked and buf.synced_upto() == buf.last_seq():
                    return
                if time.monotonic() > deadline:
                    self.report.unsettled = True
                    log.warning("station %s did not settle: %d unacked, %d unknown, %d unsynced",
                                self.plan.station.station_id, unacked, len(unknown),
                                buf.last_seq() - buf.synced_upto())
                    return
                self.clock.jump_to(self.clock.now() + dt.timedelta(
                    seconds=61 if unknown else 2))
                time.sleep(0.05)

    def _collect(self) -> None:
        p, r = self.plan, self.report
        for running in (self.bill, self.card):
            tid = running.config.terminal_id
            r.truth.extend(terminal_truth(p.station.station_id, tid, running.device.journal,
                                          p.card_key))
            for name, n in running.session.stats.items():
                r.faults[f"terminal_{name}"] += n
            r.terminals.append({"terminal_id": tid, "kind": running.config.kind.value,
                                "dialect": running.config.dialect.value, "url": running.url,
                                "faults": running.config.faults.format()})
        for name, n in self.counter.stats.items():
            r.faults[f"host_{name}"] += n
        for _, carried, current in self._boots.values():
            for name, n in (carried + current).items():
                r.faults[f"terminal_{name}"] += n

    def _sample_faults(self) -> None:
        """Terminal error counters (cleared by a power cycle) and host link diagnostics."""
        for running in (self.bill, self.card):
            dev = running.device
            boot, carried, current = self._boots.get(
                dev.terminal_id, (dev.boot_id, Counter(), Counter()))
            if boot != dev.boot_id:  # a power cycle: keep what the previous boot counted
                carried, current, boot = carried + current, Counter(), dev.boot_id
            self._boots[dev.terminal_id] = (boot, carried, current | Counter(dev.counters))
        for term in self.links:
            while term.diagnostics:
                ev = term.diagnostics.popleft()
                self.report.faults[f"host_{type(ev).__name__}"] += 1
                if isinstance(ev, LinkFault) and ev.nak_sent:
                    self.report.faults["host_nak_sent"] += 1

    # ------------------------------------------------------------------ customers

    def _standalone(self, ev: SimEvent) -> bool:
        draw = random.Random(f"{self.plan.seed}|standalone|{ev.station.index}|"
                             f"{ev.day.date.toordinal()}|{ev.seq}").random()
        return ev.card >= 0 and draw < self.plan.standalone_share

    def _serve(self, ev: SimEvent) -> None:
        r = self.report
        r.events[ev.kind] += 1
        if ev.kind == "referral":
            self._referral(ev)
            return
        if ev.kind == "reversal":
            self._reverse(ev)
            return
        alone = self._standalone(ev)
        r.events["standalone" if alone else "through_pc"] += 1
        record = self._card_action(ev, alone) if ev.card >= 0 else self._bill(ev)
        while self.cards():  # a card left unused (the request never executed) goes home
            pass
        if record is not None and record.status is TxnStatus.APPROVED:
            self.done[(ev.day.date, ev.seq)] = (record.ref, alone)

    def _referral(self, ev: SimEvent) -> None:
        referral_id = f"{ev.day.ymd}-{ev.seq:04d}"
        self.counter.referral(ev.product, referral_id=referral_id)  # committed, then uploaded
        txn = event_to_transaction(ev, self.model.identities)
        if txn is not None:  # what the cashier entered, written down independently
            row = dataclasses.replace(txn, txn_id=f"{ev.station.station_id}-PC-{referral_id}",
                                      terminal_id="")
            self.report.referrals.append(row)
            self.report.truth.append(row)

    def _bill(self, ev: SimEvent) -> JournalRecord | None:
        account = bill_account(ev, self.model.identities)
        res = self.counter.attempt(self.bill.device.journal, lambda: self.counter.pay_bill(
            self.plan.bill_id, ev.product, account, amount_fen=ev.amount_fen))
        return None if res is None else res.record

    def _card_action(self, ev: SimEvent, alone: bool) -> JournalRecord | None:
        if alone:
            return serve_standalone(self.card.device, ev, self.model.identities, self.cards,
                                    self.rng.randrange(65536))
        pan = self.model.identities.pan(ev.station.index, ev.card)
        arrange_card(ev, pan, self.card.device.bank)
        present_card(ev, pan, self.cards)
        tid = self.plan.card_id
        journal = self.card.device.journal
        if ev.kind == "withdrawal":
            res = self.counter.attempt(journal, lambda: self.counter.withdraw(
                tid, amount_fen=ev.amount_fen))
            return None if res is None else res.record
        bal = self.counter.attempt(journal, lambda: self.counter.balance(tid))
        return None if bal is None else bal.record

    def _reverse(self, ev: SimEvent) -> None:
        original = self.done.get((ev.day.date, ev.reversal_of))
        if original is None:
            self.report.events["reversal_original_not_approved"] += 1
            return
        ref, alone = original
        on_card = ev.card >= 0
        running = self.card if on_card else self.bill
        if alone:
            record = serve_standalone(running.device, ev, self.model.identities, self.cards,
                                      self.rng.randrange(65536), original_ref=ref)
        else:
            tid = self.plan.card_id if on_card else self.plan.bill_id
            res = self.counter.attempt(running.device.journal,
                                       lambda: self.counter.reverse(tid, ref))
            record = None if res is None else res.record
        if record is None or record.status is not TxnStatus.APPROVED:
            self.report.events["reversal_refused"] += 1
