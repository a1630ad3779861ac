"""Progress of a long read, for people at a terminal only.

Contract:
- :func:`lines_with_progress` yields the lines of a UTF-8 text file (BOM dropped, newlines
  kept: what ``open(path, encoding="utf-8-sig", newline="")`` yields) and calls
  ``report(bytes_read)`` every ``every`` lines and once at the end, with the position in the
  file's bytes (to within the text layer's read-ahead).
- :func:`file_progress` yields such a ``report`` drawing a click progress bar on standard
  error when standard error is a terminal, and ``None`` otherwise (a pipe, a file, a test
  runner): scripts never see progress, and standard output never carries it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

Report = Callable[[int], None]


def lines_with_progress(path: str | Path, report: Report, every: int = 16384) -> Iterator[str]:
    """The file's lines, reporting the bytes read (module contract)."""
    with open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig",
                                                    newline="") as f:
        n = 0
        for line in f:
            yield line
            n += 1
            if n % every == 0:
                report(raw.tell())
        report(raw.tell())


@contextmanager
def file_progress(path: str | Path, label: str) -> Iterator[Report | None]:
    """A progress ``report`` for reading ``path`` when stderr is a terminal, else None."""
    if not sys.stderr.isatty():
        yield None
        return
    size = Path(path).stat().st_size
    done = 0
    with click.progressbar(length=size, label=label, file=sys.stderr) as bar:

        def report(position: int) -> None:
            nonlocal done
            if position > done:
                bar.update(position - done)
                done = position

        yield report
