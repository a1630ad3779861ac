"""What a diagnosis produces: checks with a status, findings and measurements.

Contract:
- A :class:`Finding` is one verdict line: a stable message id from
  :mod:`stationlink.diag.catalogue`, its status and the parameters that fill its text.
- A :class:`Check` (``connection``, ``identify``, ``device``, ``link``, ``clock``,
  ``buffer``) has the worst status of its findings (``skipped`` when it did not run), its
  findings and its measurements (plain JSON values: numbers, strings, lists, dicts).
- :class:`Report` is a whole run. :meth:`Report.exit_code`: 3 when no connection could be
  made, else 2 with a failure, 1 with a warning, 0 when all is ok. :meth:`Report.to_json` is
  the document ``diag --json`` prints (schema: ``diag/schema.json``, docs/diag.md), with
  every finding's text and advice rendered in the report's language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..money import to_cst
from .catalogue import Lang, label, text

SCHEMA_VERSION = 1
CHECK_ORDER = ("connection", "identify", "device", "link", "clock", "buffer")


class Status(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAIL = "fail"
    SKIPPED = "skipped"


_RANK = {Status.SKIPPED: 0, Status.OK: 1, Status.WARNING: 2, Status.FAIL: 3}


@dataclass(frozen=True)
class Finding:
    id: str
    status: Status
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self, lang: Lang) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "params": self.params,
            "text": text(self.id, lang, self.params),
            "advice": text(self.id, lang, self.params, "advice"),
        }


@dataclass
class Check:
    name: str
    findings: list[Finding] = field(default_factory=list)
    measurements: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # time the check took
    wire_bytes: int = 0  # bytes it moved on the line, both ways (the benchmark's baseline)

    @property
    def status(self) -> Status:
        if not self.findings:
            return Status.SKIPPED
        return max((f.status for f in self.findings), key=_RANK.__getitem__)

    def add(self, msg_id: str, status: Status, **params: Any) -> None:
        self.findings.append(Finding(msg_id, status, params))

    @property
    def ids(self) -> list[str]:
        return [f.id for f in self.findings]

    def to_json(self, lang: Lang) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": label(f"check.{self.name}", lang),
            "status": self.status.value,
            "seconds": round(self.seconds, 3),
            "findings": [f.to_json(lang) for f in self.findings],
            "measurements": self.measurements,
        }


@dataclass
class Report:
    url: str
    started: datetime  # aware
    lang: Lang = "zh"
    connected: bool = False
    checks: dict[str, Check] = field(default_factory=dict)
    terminal: dict[str, Any] | None = None  # identity: vendor, model, serial, ...
    seconds: float = 0.0

    def check(self, name: str) -> Check:
        if name not in self.checks:
            self.checks[name] = Check(name)
        return self.checks[name]

    def exit_code(self) -> int:
        if not self.connected:
            return 3
        statuses = {c.status for c in self.checks.values()}
        if Status.FAIL in statuses:
            return 2
        if Status.WARNING in statuses:
            return 1
        return 0

    def ordered(self) -> list[Check]:
        return [self.checks[n] for n in CHECK_ORDER if n in self.checks]

    def to_json(self) -> dict[str, Any]:
        code = self.exit_code()
        return {
            "schema": "stationlink-diag",
            "version": SCHEMA_VERSION,
            "url": self.url,
            "started": to_cst(self.started).isoformat(),
            "seconds": round(self.seconds, 3),
            "lang": self.lang,
            "exit_code": code,
            "verdict": label(f"overall.{code}", self.lang),
            "terminal": self.terminal,
            "checks": [c.to_json(self.lang) for c in self.ordered()],
        }
