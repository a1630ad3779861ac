"""Uploading the buffer to the hub: :class:`Uploader`.

Contract (at-least-once delivery; the hub de-duplicates by seq and identity, so the effect is
exactly-once):
- Batches come from the buffer in seq order (:meth:`Buffer.next_batch`, at most
  ``batch_size`` records, gap-free, never past an open quarantine). The buffer's synced mark
  moves only after the hub answered with its high-water mark, so a crash anywhere in between
  means the same batch is sent again: a harmless replay.
- :class:`~stationlink.errors.HubUnavailableError` (network error, 429, any 5xx): retried
  after :class:`~stationlink.agent.backoff.Backoff` (capped exponential, full jitter from the
  injected rng, ``Retry-After`` honoured), the same batch, never halved nor quarantined: a
  server fault says nothing about the records. Nothing else is retried as is.
- :class:`~stationlink.errors.HubGapError`: the hub wants an earlier seq (its store was
  restored from a backup) — the uploader re-sends from there; or a later one (it already holds
  more than we noted) — the mark is moved up.
- Any other :class:`~stationlink.errors.HubRejectedError` (a definite 4xx rejection,
  including 409 ``sequence_conflict``: the hub holds another record at a seq): the batch is
  cut in half and the
  first half tried (a few requests isolate the one bad record of a 500-record batch); a
  rejected single record — or a rejection that does not depend on the records, found when
  even one record is refused — is quarantined in the buffer with the hub's reason
  (``Buffer.quarantine``). Quarantined records are kept, shown by ``agent status`` and
  re-queued by ``stationlink agent release``; they are never retried on their own and never
  dropped. Records after a quarantine wait (the hub needs a gap-free sequence).
- Device snapshots and the agent's own status are reported every ``status_interval``;
  failures there are logged and retried next round, never block transactions. The status
  carries ``settlement_mismatches``: how many terminals' latest daily settlement check
  differs from the buffer (a terminal whose later check agreed, per the agent state, no
  longer counts) — the station's current problem, as its health screen shows it, not the
  buffer's ever-growing count of differing lines.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from .. import __version__
from ..buffer import Batch, Buffer
from ..clock import TimeSource
from ..errors import HubGapError, HubRejectedError, HubUnavailableError
from ..hub.client import HubClient, nodelay_client
from .backoff import Backoff
from .config import UploadSettings
from .health import current_mismatches
from .state import AgentState

log = logging.getLogger("stationlink.agent.upload")


def hub_client(url: str, token: str, *, station_id: str, timeout: float,
               ca_file: Path | None = None) -> HubClient:
    """A :class:`HubClient` whose connections set ``TCP_NODELAY`` and verify an ``https://``
    hub's certificate against the system's CAs, or ``ca_file`` when given.

    httpx writes a POST's headers and body in separate sends; with Nagle's algorithm on,
    the body waits for the peer's delayed ACK (~40 ms on Linux) — per batch. The agent owns
    this ``httpx.Client``; ``HubClient.close`` does not close a client passed in, so the
    returned client's ``close`` is wired to close both.
    """
    http = nodelay_client(timeout, True if ca_file is None else ca_file)
    return HubClient(url, token, station_id=station_id, http_client=http, owns_client=True)


@dataclass
class UploadRound:
    """What one :meth:`Uploader.step` did (for tests and the benchmark)."""

    uploaded: int = 0  # new records the hub acknowledged
    batches: int = 0
    waiting: bool = False  # backing off after a retryable failure
    quarantined: int = 0  # records quarantined in this round


class Uploader:
    """See the module contract. One instance per uploading thread."""

    def __init__(
        self, hub: HubClient, settings: UploadSettings, *, rng: random.Random,
        clock: TimeSource,
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.clock = clock
        self.backoff = Backoff(rng, base=settings.backoff_base, cap=settings.backoff_cap)
        self.next_attempt = 0.0  # monotonic
        self.limit = settings.batch_size  # shrinks while isolating a rejected record
        self.isolating = False
        self.resend_from: int | None = None  # seq the hub wants again (restored hub)
        self.next_status = 0.0

    # ------------------------------------------------------------------ batches

    def _batch(self, buf: Buffer) -> Batch | None:
        if self.resend_from is None:
            return buf.next_batch(self.limit)
        limit = self.limit
        blocked = buf.quarantine_block()
        if blocked is not None:
            limit = min(limit, blocked - self.resend_from)
        recs = list(buf.records(self.resend_from - 1, limit)) if limit > 0 else []
        if not recs:
            self.resend_from = None
            return buf.next_batch(self.limit)
        return Batch(buf.station_id, recs[0].seq, recs[-1].seq, tuple(recs))

    def step(self, buf: Buffer, state: AgentState | None = None, *, max_batches: int = 20
             ) -> UploadRound:
        """Upload up to ``max_batches`` batches unless backing off; never raises hub errors."""
        out = UploadRound()
        if self.clock.monotonic() < self.next_attempt:
            out.waiting = True
            return out
        for _ in range(max_batches):
            batch = self._batch(buf)
            if batch is None:
                break
            if not self._send(buf, state, batch, out):
                break
        self._report(buf, state)
        return out

    def _send(self, buf: Buffer, state: AgentState | None, batch: Batch, out: UploadRound
              ) -> bool:
        """One batch; ``True`` to go on with the next one."""
        now = self.clock.now()
        try:
            hwm = self.hub.upload(batch)
        except HubUnavailableError as exc:
            delay = self.backoff.next_delay(exc.retry_after)
            self.next_attempt = self.clock.monotonic() + delay
            log.warning("hub unavailable (%s); next attempt in %.1f s", exc, delay)
            if state is not None:
                state.note_upload_error(now=now, error=str(exc),
                                        next_attempt=now + timedelta(seconds=delay))
            out.waiting = True
            return False
        except HubGapError as exc:
            self._gap(buf, batch, exc)
            return True
        except HubRejectedError as exc:
            self._rejected(buf, state, batch, exc, out)
            return True
        before = buf.synced_upto()
        mark = buf.mark_synced(min(hwm, buf.last_seq()))
        if hwm > buf.last_seq():
            log.error("hub high-water mark %d is beyond this buffer's last seq %d "
                      "(replaced buffer file?)", hwm, buf.last_seq())
        if self.resend_from is not None:
            self.resend_from = batch.last_seq + 1 if batch.last_seq < before else None
        self.backoff.reset()
        if not self.isolating:
            self.limit = self.settings.batch_size
        new = max(0, mark - before)
        out.uploaded += new
        out.batches += 1
        if state is not None:
            state.note_upload(now=now, high_water_mark=hwm, records=new)
        log.debug("uploaded seq %d..%d, hub high-water mark %d", batch.first_seq,
                  batch.last_seq, hwm)
        return True

    def _gap(self, buf: Buffer, batch: Batch, exc: HubGapError) -> None:
        wanted = exc.expected_seq
        if wanted <= batch.first_seq:
            log.warning("hub wants seq %d again (restored hub store?); re-sending from there",
                        wanted)
            self.resend_from = max(1, wanted)
        else:
            buf.mark_synced(min(wanted - 1, buf.last_seq()))

    def _rejected(self, buf: Buffer, state: AgentState | None, batch: Batch,
                  exc: HubRejectedError, out: UploadRound) -> None:
        size = len(batch.records)
        if size > 1:
            self.isolating = True
            self.limit = max(1, size // 2)
            log.warning("hub rejected seq %d..%d (HTTP %d: %s); trying %d record(s) to isolate",
                        batch.first_seq, batch.last_seq, exc.status, exc, self.limit)
            return
        entry = buf.quarantine(batch, str(exc), exc.status, self.clock.now())
        self.limit = self.settings.batch_size
        self.isolating = False
        self.resend_from = None
        out.quarantined += size
        log.error("quarantined seq %d..%d (entry %d): HTTP %d: %s; fix the cause, then run "
                  "'stationlink agent release --config ... %d'", batch.first_seq,
                  batch.last_seq, entry, exc.status, exc, entry)
        if state is not None:
            now = self.clock.now()
            state.note_upload_error(now=now, error=f"quarantined entry {entry}: {exc}",
                                    next_attempt=now)

    # ------------------------------------------------------------------ status reports

    def _report(self, buf: Buffer, state: AgentState | None) -> None:
        if self.clock.monotonic() < self.next_status:
            return
        self.next_status = self.clock.monotonic() + self.settings.status_interval
        try:
            snaps = buf.unsynced_device_status(100)
            if snaps:
                self.hub.upload_device_status(snaps)
                buf.mark_device_status_synced([s.id for s in snaps])
            stats = buf.stats()
            oldest = stats["oldest_unsynced"]
            oldest_rec = None if oldest is None else buf.get(int(oldest["seq"]))
            snap = None if state is None else state.snapshot()
            self.hub.report_agent_status(
                backlog=int(stats["backlog"]),
                oldest_unsynced=None if oldest_rec is None else oldest_rec.wall_time,
                quarantined_records=int(stats["quarantined_records"]),
                unresolved_unknown=int(stats["unresolved_unknown"]),
                version=__version__,
                settlement_mismatches=len(current_mismatches(buf, snap)),
            )
        except (HubUnavailableError, HubRejectedError) as exc:
            self.next_status = self.clock.monotonic() + min(self.settings.status_interval, 10.0)
            log.warning("status report to the hub failed: %s", exc)
