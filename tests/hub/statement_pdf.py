"""Reading the console's statement PDFs back (pypdf): pages, text, and the amount column.

:func:`read_pdf` parses a PDF answer; :func:`amount_column` is the items table's amount
column, found by the headings' places on the page (not by layout constants).
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass

import pypdf

#: A4 portrait in PDF points (210 x 297 mm).
A4 = (595.28, 841.89)
_MONEY = re.compile(r"-?\d+\.\d\d")


def norm(text: str) -> str:
    """Compatibility forms folded (pypdf gives ``(`` for ``（``) and runs of spaces as one."""
    return re.sub(r"[ \t]+", " ", unicodedata.normalize("NFKC", text))


@dataclass
class Pdf:
    pages: list[pypdf.PageObject]
    text: str  # every page's text, normalised (:func:`norm`)
    lines: list[str]


def read_pdf(content: bytes) -> Pdf:
    assert content.startswith(b"%PDF-"), content[:40]
    reader = pypdf.PdfReader(io.BytesIO(content), strict=True)
    pages = list(reader.pages)
    text = "\n".join(norm(p.extract_text()) for p in pages)
    return Pdf(pages, text, [line.strip() for line in text.splitlines()])


def fragments(page: pypdf.PageObject) -> list[tuple[float, float, str]]:
    """(x, y, text) of each text fragment drawn on ``page``, in PDF points."""
    out: list[tuple[float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            out.append((x, y, norm(text).strip()))

    page.extract_text(visitor_text=visit)
    return out


def amount_column(page: pypdf.PageObject, item: str, basis: str, total: str) -> list[str]:
    """The items table's amounts, then its total: every fragment that starts right of the
    "Item" heading's column start (the labels start there) and left of the "How it is
    computed" heading, below the headings, down to the total row, top to bottom. ``item``,
    ``basis`` and ``total`` are those headings and the total row's label in the PDF's
    language."""
    frags = fragments(page)
    (ix, iy) = next((x, y) for x, y, t in frags if t == norm(item))
    bx = next(x for x, y, t in frags if t == norm(basis) and abs(y - iy) < 1)
    ty = next(y for x, y, t in frags if t == norm(total) and y < iy and abs(x - ix) < 1)
    cells = sorted(((y, t) for x, y, t in frags if ix + 1 < x < bx - 1 and ty - 1 < y < iy - 1),
                   key=lambda c: -c[0])
    values = [t for _y, t in cells]
    assert all(_MONEY.fullmatch(v) for v in values), values
    return values
