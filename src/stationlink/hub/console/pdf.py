"""A statement as a PDF on A4 for signature, in a CJK font of the machine (never bundled).

Contract (docs/console.md, "Statements"):
- The font: :func:`find_font` takes the font the hub was given (``hub serve --pdf-font``,
  ``STATIONLINK_PDF_FONT``; :class:`~.web.ConsoleOptions` ``pdf_font``), else the first
  usable file of :func:`known_fonts` (Debian/Ubuntu ``fonts-wqy-zenhei``,
  ``fonts-wqy-microhei``, ``fonts-noto-cjk``, ``fonts-arphic-uming``; Fedora's Noto CJK;
  Windows' SimSun, Microsoft YaHei, SimHei). A font is usable when it is a TrueType or
  OpenType font or collection (``.ttf``, ``.otf``, ``.ttc``) with a face holding the
  Chinese characters :data:`PROBE`; in a collection the Simplified Chinese face (a family
  named ``... SC``, as in Noto CJK) is preferred, else the first face that has them. The
  answer is a :class:`PdfFont`, or a :class:`NoFont` saying why there is none (a message id
  and its values, shown in the operator's language). :func:`check_font_option` is the
  same check for a font given on the command line: a ConfigError naming the file.
- :func:`statement_pdf` lays out one statement from the same view dicts the statement page
  and its JSON twin show (:mod:`.monthview`: ``station_view`` / ``branch_view``, or the
  frozen ones of a closed month) — nothing is computed again here: every figure is the
  view's text. A4 portrait; the header (title, branch or effective stations, policy,
  "provisional" or "closed, version N"); every item with its amount and derivation; the
  total (with the effective-station test for a station, head and maintainer for a branch);
  the carried adjustments; the inputs (per-product sums, card-days over the cap, cards by
  token only); an adjustment still to carry; a branch's stations with their test; the two
  signature lines; on every page a footer with the statement's title and "page N of M".
  The texts are the statement page's gettext ids, in ``lang``. The font is subset (only
  the glyphs used are embedded): a statement is tens of kilobytes.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...i18n import gettext_for
from .text import N_

#: Characters every usable font must have (the signature lines and the yuan sign's word).
PROBE = "站点负责人签字日期支局核对元合计"
_SC = re.compile(r"\bSC\b")


class _NotSubset(logging.Filter):
    """fontTools says it drops tables it cannot subset (a collection's bitmap strikes):
    nothing is lost for a PDF, so that line stays out of the hub's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "NOT subset" not in record.getMessage()


logging.getLogger("fontTools.subset").addFilter(_NotSubset())


@dataclass(frozen=True)
class PdfFont:
    """A usable font: its file and the face (index in a collection; 0 for a single font)."""

    path: Path
    face: int = 0


@dataclass(frozen=True)
class NoFont:
    """Why there is no PDF: ``_(msgid) % values`` (``reason`` a message id of its own)."""

    msgid: str
    values: dict[str, str] = field(default_factory=dict)

    def text(self, lang: str | None) -> str:
        _ = gettext_for(lang)
        values = dict(self.values)
        if "reason" in values:
            values["reason"] = _(values["reason"])
        return _(self.msgid) % values


NONE_FOUND = N_("No PDF: this server has no font with Chinese characters. Install "
                "fonts-wqy-zenhei (Debian, Ubuntu) or fonts-noto-cjk, or start the hub with "
                "--pdf-font PATH (a .ttf or .ttc file); meanwhile print the statement page "
                "from the browser (A4).")
UNUSABLE = N_("No PDF: the font %(path)s cannot be used (%(reason)s). Pass a TrueType font "
              "or collection with Chinese characters to --pdf-font, or install "
              "fonts-wqy-zenhei (Debian, Ubuntu); meanwhile print the statement page from "
              "the browser (A4).")
_MISSING = N_("no such file")
_NOT_A_FONT = N_("not a TrueType or OpenType font or collection")
_NOT_CJK = N_("it has no Chinese characters")


def known_fonts() -> list[Path]:
    """Where the well-known CJK fonts live, in the order they are tried."""
    windows = Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts"
    share = Path("/usr/share/fonts")
    return [
        share / "truetype/wqy/wqy-zenhei.ttc",  # Debian/Ubuntu fonts-wqy-zenhei
        share / "truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
        share / "opentype/noto/NotoSansCJK-Regular.ttc",  # fonts-noto-cjk
        share / "opentype/noto/NotoSerifCJK-Regular.ttc",
        share / "google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
        share / "noto-cjk/NotoSansCJK-Regular.ttc",  # Arch
        share / "truetype/arphic/uming.ttc",  # fonts-arphic-uming
        windows / "simsun.ttc", windows / "msyh.ttc", windows / "simhei.ttf",
    ]


def _face(path: Path) -> int | str:
    """The face of ``path`` to use, or the reason (a message id) there is none."""
    from fontTools.ttLib import (  # type: ignore[import-untyped]  # ships no types
        TTCollection,
        TTFont,
        TTLibError,
    )

    def family(font: TTFont) -> str:
        name = font["name"].getDebugName(1) if "name" in font else None
        return name or ""

    try:
        fh = path.open("rb")
    except OSError:
        return _MISSING
    with fh:  # ours to close: fontTools leaves a file open when it cannot parse it
        try:
            collection = fh.read(4) == b"ttcf"
            fh.seek(0)
            fonts = TTCollection(fh, lazy=True).fonts if collection else [TTFont(fh, lazy=True)]
            order = sorted(range(len(fonts)), key=lambda i: not _SC.search(family(fonts[i])))
            for i in order:
                cmap = fonts[i].getBestCmap() if "cmap" in fonts[i] else None
                if cmap and all(ord(c) in cmap for c in PROBE) and (
                        "glyf" in fonts[i] or "CFF " in fonts[i]):
                    return i
            return _NOT_CJK
        except (TTLibError, AssertionError, KeyError, ValueError, OSError, EOFError,
                IndexError, TypeError, struct.error):  # a damaged file fails in many ways
            return _NOT_A_FONT


@functools.lru_cache(maxsize=16)
def _checked(path: str, mtime: float) -> int | str:
    return _face(Path(path))


def check_font(path: Path) -> PdfFont | NoFont:
    """``path`` as a :class:`PdfFont`, or a :class:`NoFont` saying why it is not usable."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    if mtime < 0 or not path.is_file():
        return NoFont(UNUSABLE, {"path": str(path), "reason": _MISSING})
    face = _checked(str(path.resolve()), mtime)
    if isinstance(face, str):
        return NoFont(UNUSABLE, {"path": str(path), "reason": face})
    return PdfFont(path, face)


def find_font(given: Path | None) -> PdfFont | NoFont:
    """The font of the PDFs (module contract): ``given``, else the first usable known one."""
    if given is not None:
        return check_font(given)
    for path in known_fonts():
        if path.is_file():
            found = check_font(path)
            if isinstance(found, PdfFont):
                return found
    return NoFont(NONE_FOUND)


def check_font_option(given: Path | None) -> None:
    """A font given to ``hub serve --pdf-font`` that cannot be used: ConfigError (English)."""
    if given is not None:
        found = check_font(given)
        if isinstance(found, NoFont):
            raise ConfigError(f"--pdf-font: {found.text('en')}")


# -- layout ----------------------------------------------------------------------------------

_FAMILY = "statement"
_MARGIN = 15.0  # mm, every side
_WIDTH = 210.0 - 2 * _MARGIN  # A4 portrait, inside the margins


def statement_pdf(subject: str, month: dict[str, Any], statement: dict[str, Any],
                  adjustments: list[dict[str, Any]], *, lang: str, font: PdfFont,
                  now: datetime) -> bytes:
    """The PDF of one statement (module contract). ``subject`` is ``station`` or ``branch``;
    ``month`` the month view (``month``, ``policy``, ``closed``); ``statement`` its view of
    the station or branch; ``adjustments`` the ones still to carry for it; ``now`` the
    document's creation date (the hub's clock)."""
    from fpdf import FPDF

    _ = gettext_for(lang)
    sid = statement[subject + "_id"]
    title = (_("Statement of station %(id)s, %(m)s") if subject == "station"
             else _("Statement of branch %(id)s, %(m)s")) % {"id": sid, "m": month["month"]}

    class Document(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(_FAMILY, size=8)
            self.cell(0, 5, f"{title} · " + _("Page %(page)s of %(pages)s") % {
                "page": self.page_no(), "pages": "{nb}"}, align="C")

    pdf = Document(orientation="P", unit="mm", format="A4")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font(_FAMILY, fname=str(font.path), collection_font_number=font.face)
    pdf.set_title(title)
    pdf.set_creator("stationlink")
    pdf.set_lang("zh-CN" if lang == "zh" else lang)
    pdf.set_creation_date(now)
    pdf.add_page()
    _Writer(pdf, _).statement(subject, month, statement, adjustments, title)
    return bytes(pdf.output())


class _Writer:
    """Writes the parts of a statement onto ``pdf`` in the order of the statement page."""

    def __init__(self, pdf: Any, gettext: Any) -> None:
        self.pdf = pdf
        self._ = gettext

    def para(self, text: str, size: float = 10, height: float = 5.5) -> None:
        self.pdf.set_font(_FAMILY, size=size)
        self.pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")

    def heading(self, text: str) -> None:
        self.pdf.ln(3)
        self.para(text, size=12, height=7)

    def table(self, widths: tuple[float, ...], align: tuple[str, ...], head: list[str],
              rows: list[list[str]], foot: list[list[str]] | None = None) -> None:
        from fpdf.fonts import FontFace

        self.pdf.set_font(_FAMILY, size=9)
        scale = _WIDTH / sum(widths)
        with self.pdf.table(col_widths=tuple(w * scale for w in widths), text_align=align,
                            width=_WIDTH, line_height=5,
                            headings_style=FontFace(emphasis="", fill_color=(235, 235, 235))
                            ) as t:
            for row in [head, *rows]:
                t.row(row)
            for row in foot or []:
                t.row(row, style=FontFace(emphasis="", fill_color=(245, 245, 245)))
        self.pdf.ln(1)

    def statement(self, subject: str, m: dict[str, Any], s: dict[str, Any],
                  adjustments: list[dict[str, Any]], title: str) -> None:
        _ = self._
        self.para(title, size=16, height=9)
        state = (_("Closed, version %(v)d") % {"v": m["closed"]["version"]} if m["closed"]
                 else _("Provisional: the month is not closed."))
        if subject == "station":
            first = f"{_('Branch')}: {s['branch_id']}"
        else:
            first = (f"{_('Effective stations')}: {s['effective_stations']} / {s['stations']}"
                     f" ({_('plan %(n)d') % {'n': s['plan_effective_stations']}})")
        self.para(f"{first} · {_('Policy')}: {m['policy']} · {state}")
        self.pdf.ln(2)
        if subject == "station":
            test = _("effective station") if s["effective"] else _("not an effective station")
            note = test + (": " + "; ".join(s["effective_reasons"])
                           if s["effective_reasons"] else "")
        else:
            note = _("head %(h)s, maintainer %(m)s") % {"h": s["head"], "m": s["maintainer"]}
        self.table((38, 22, 120), ("LEFT", "RIGHT", "LEFT"),
                   [_("Item"), _("Amount (yuan)"), _("How it is computed")],
                   [[i["label"], i["amount"], i["basis"]] for i in s["items"]],
                   [[_("Total"), s["total"], note]])
        self.carried(s)
        self.inputs(subject, s)
        if adjustments:
            self.para(_("Still to carry into %(into)s: %(a)s yuan (records received after the "
                        "close that no closed statement has carried yet).")
                      % {"into": adjustments[0]["into"], "a": adjustments[0]["adjustment"]})
        if subject == "branch":
            self.heading(_("Stations"))
            self.table((30, 150), ("LEFT", "LEFT"), [_("Station"), _("How it is computed")], [
                [sid, (_("effective station") if st["effective"]
                       else _("not an effective station"))
                 + (": " + "; ".join(st["reasons"]) if st["reasons"] else "")]
                for sid, st in s["station_status"].items()])
        self.signatures(subject)

    def carried(self, s: dict[str, Any]) -> None:
        carried = s.get("carried") or []
        if not carried:
            return
        _ = self._
        self.heading(_("Adjustments carried from closed months (separate lines)"))
        self.table((20, 20, 30, 20, 20), ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
                   [_("Month"), _("Frozen"), _("With the records held now"),
                    _("Carried already"), _("Adjustment")],
                   [[a["month"], a["frozen"], a["now"], a.get("carried_before", "0.00"),
                     a["adjustment"]] for a in carried],
                   [[_("Payable with the adjustments"), "", "", "", s["payable"]]])

    def inputs(self, subject: str, s: dict[str, Any]) -> None:
        _ = self._
        if "by_product" in s:
            self.heading(_("Approved transactions by kind and product") if subject == "station"
                         else _("What the commission counts at the effective stations "
                                "(before the cap)"))
            if s["by_product"]:
                self.table((30, 40, 20, 25), ("LEFT", "LEFT", "RIGHT", "RIGHT"),
                           [_("Kind"), _("Product"), _("Transactions"), _("Amount (yuan)")],
                           [[p["kind_name"], p["product_name"] or "-", str(p["n"]),
                             p["amount"]] for p in s["by_product"]])
            else:
                self.para(_("None."))
        if "over_cap" in s:
            self.heading(_("Card-days over the cap"))
            if not s["over_cap"]:
                self.para(_("No card went over the cap on any day."))
                return
            self.para(_("Per card and CST day only the first swipes by time up to the cap "
                        "count; the rest are not counted. Cards are shown by their token only."),
                      size=9)
            station = [_("Station")] if subject == "branch" else []
            self.table((*((18,) if station else ()), 30, 28, 26, 14, 12, 18),
                       (*(("LEFT",) if station else ()), "LEFT", "LEFT", "LEFT", "RIGHT",
                        "RIGHT", "RIGHT"),
                       [*station, _("Count"), _("Card"), _("Day"), _("Swipes"), _("Cap"),
                        _("Not counted")],
                       [[*([d["station_id"]] if station else []), d["label"], d["card"],
                         d["day_text"], str(d["swipes"]), str(d["cap"]), str(d["over"])]
                        for d in s["over_cap"]])

    def signatures(self, subject: str) -> None:
        _ = self._
        lines = ((_("Station manager's signature / date"), _("Checked by the branch"))
                 if subject == "station" else
                 (_("Branch manager's signature / date"), _("Checked by the county company")))
        pdf = self.pdf
        if pdf.will_page_break(30):
            pdf.add_page()
        pdf.ln(18)
        pdf.set_font(_FAMILY, size=10)
        width, gap = (_WIDTH - 20) / 2, 20.0
        y = pdf.get_y()
        for n, text in enumerate(lines):
            x = _MARGIN + n * (width + gap)
            pdf.line(x, y, x + width, y)
            pdf.set_xy(x, y + 1)
            pdf.cell(width, 6, text)
        pdf.set_xy(_MARGIN, y + 8)
