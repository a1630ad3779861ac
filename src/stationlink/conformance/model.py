"""What a conformance run produces: one verdict per case, with evidence, and the report.

Contract:
- :class:`Verdict`: ``pass``, ``fail`` or ``not_applicable`` (with the reason why).
- :class:`Exchange` is one write or read on the link: seconds since the case started, the
  direction (``out`` host to device, ``in`` device to host), the bytes (hex in JSON) and a
  note (``IDENTIFY seq 7``, ``ACK``, ``garbage``...). A full card number never reaches an
  exchange: the middle digits of every DF40 value received are zeroed and shown as ``**``
  (first 6 and last 4 digits kept, as a masked number), see :mod:`.wire`.
- :class:`CaseResult` carries the exchanges of its case's whole run as evidence, whatever the
  verdict (a case not applicable before it ran has none: its reason is the evidence).
  :meth:`CaseResult.evidence` is what the reports list: every exchange of a failed case;
  of a passed or not-applicable one the first :data:`EVIDENCE_LIMIT`, stopping after the
  one that brings the bytes listed to :data:`EVIDENCE_BYTES`, and how many more there were
  (``evidence_omitted`` in the JSON, a "… N more" line in HTML, JUnit and text).
- :class:`KitReport` is a whole run: device identity (IDENTIFY), dialect, transport, date
  (aware, shown in CST), kit version, every case in catalogue order, the test transactions
  the kit reversed and those it could not. :meth:`KitReport.exit_code`: 3 when the device
  could not be reached, 1 when a case failed, else 0. :meth:`KitReport.to_json` is the
  document ``conformance --json`` prints (schema ``conformance/schema.json``,
  docs/conformance.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import __version__
from ..diag.catalogue import Lang
from ..money import to_cst
from .catalogue import CaseSpec, label

SCHEMA_VERSION = 1
#: Exchanges listed for a case that did not fail (a failure lists all of its own): at most
#: EVIDENCE_LIMIT, and none after the one that brings the bytes listed to EVIDENCE_BYTES.
EVIDENCE_LIMIT = 60
EVIDENCE_BYTES = 16 * 1024


class Verdict(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class Exchange:
    t: float  # seconds since the case started
    direction: str  # "out" (host -> device) or "in" (device -> host)
    data: bytes
    note: str = ""
    masked: frozenset[int] = frozenset()  # indexes of card-number bytes, zeroed in ``data``

    def hex(self) -> str:
        """The bytes in hex, a masked card-number byte shown as ``**``."""
        return " ".join("**" if i in self.masked else f"{b:02x}"
                        for i, b in enumerate(self.data))

    def to_json(self) -> dict[str, Any]:
        return {"t": round(self.t, 4), "dir": self.direction, "hex": self.hex(),
                "note": self.note}


@dataclass
class CaseResult:
    spec: CaseSpec
    verdict: Verdict
    reason: str = ""  # why it failed / is not applicable; for a pass what was checked
    exchanges: list[Exchange] = field(default_factory=list)
    seconds: float = 0.0

    def evidence(self, limit: int = EVIDENCE_LIMIT, max_bytes: int = EVIDENCE_BYTES
                 ) -> tuple[list[Exchange], int]:
        """The exchanges the reports list and the number left out: all of a failed case's;
        of any other the first ``limit``, none after the one that brings the bytes listed
        to ``max_bytes``."""
        if self.verdict is Verdict.FAIL:
            return list(self.exchanges), 0
        shown: list[Exchange] = []
        size = 0
        for x in self.exchanges:
            if len(shown) >= limit or size >= max_bytes:
                break
            shown.append(x)
            size += len(x.data)
        return shown, len(self.exchanges) - len(shown)

    def to_json(self, lang: Lang) -> dict[str, Any]:
        shown, omitted = self.evidence()
        return {
            "id": self.spec.id,
            "section": self.spec.section,
            "purpose": self.spec.purpose(lang),
            "money": self.spec.money,
            "verdict": self.verdict.value,
            "verdict_text": label(f"verdict.{self.verdict.value}", lang),
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "evidence": [x.to_json() for x in shown],
            "evidence_omitted": omitted,
        }


@dataclass(frozen=True)
class MoneyNote:
    """A test transaction the kit made: reversed, or why not."""

    case: str
    client_ref: str
    ref: str
    amount_fen: int
    reversed: bool
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "client_ref": self.client_ref, "ref": self.ref,
                "amount_fen": self.amount_fen, "reversed": self.reversed, "detail": self.detail}


@dataclass
class KitReport:
    url: str
    kind: str
    started: datetime  # aware
    lang: Lang = "zh"
    connected: bool = False
    dialect: str | None = None
    transport: str | None = None
    identity: dict[str, Any] | None = None  # IDENTIFY: vendor, model, serial, firmware, ...
    connect_error: str = ""
    results: list[CaseResult] = field(default_factory=list)
    money: list[MoneyNote] = field(default_factory=list)
    seconds: float = 0.0
    kit_version: str = __version__

    def exit_code(self) -> int:
        if not self.connected:
            return 3
        if any(r.verdict is Verdict.FAIL for r in self.results):
            return 1
        return 0

    def counts(self) -> dict[str, int]:
        out = {v.value: 0 for v in Verdict}
        for r in self.results:
            out[r.verdict.value] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        code = self.exit_code()
        return {
            "schema": "stationlink-conformance",
            "version": SCHEMA_VERSION,
            "kit_version": self.kit_version,
            "url": self.url,
            "kind": self.kind,
            "dialect": self.dialect,
            "transport": self.transport,
            "started": to_cst(self.started).isoformat(),
            "seconds": round(self.seconds, 3),
            "lang": self.lang,
            "exit_code": code,
            "verdict": label(f"overall.{code}", self.lang),
            "connect_error": self.connect_error,
            "device": self.identity,
            "counts": self.counts(),
            "cases": [r.to_json(self.lang) for r in self.results],
            "money": [m.to_json() for m in self.money],
        }
