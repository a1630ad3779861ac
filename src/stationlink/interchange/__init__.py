"""The transactions / stations / branches interchange format (``docs/formats.md``).

Contract:
- UTF-8 CSV with a header row; column order is free and extra columns are ignored.
- ``read_*`` functions validate every row and collect a :class:`~stationlink.errors.Problem`
  (file, line, column, reason) for each bad one. With ``skip_bad_rows=False`` (the default)
  any problem raises :class:`~stationlink.errors.InputDataError` listing all of them; with
  ``skip_bad_rows=True`` the good rows are returned with the problems alongside.
- Identical duplicate transaction rows are kept once; a duplicate ``txn_id`` with different
  content is a bad row (the first occurrence is kept, the later one reported).
- ``read_transaction_lines`` reads lines of CSV text the same way (e.g. a hub's rows as
  :func:`transaction_lines` gives them, which are the lines ``write_transactions`` writes).
- The transactions reader is built for millions of rows (``docs/formats.md``, "Reading the
  files"): a fast path accepts a row only when every rule holds; any other row is judged by
  the one rule function, so no check is skipped and every problem reads the same.
- ``write_transactions`` writes exactly the columns of :data:`TRANSACTION_COLUMNS`, money with
  two decimals, timestamps ISO 8601 in CST with their offset.
- No written cell is a spreadsheet formula (OWASP CSV injection): a cell that would begin
  with ``=``, ``+``, ``-``, ``@``, TAB or CR is written with a ``'`` in front
  (:func:`neutralise`). The rules refuse every value that would need it (ids may not begin
  so, amounts are never negative), so a file of valid rows is written and read back
  unchanged; the reader takes cells literally and never removes a ``'``.
- Layout: this ``__init__`` is the public face (``__all__``); the private modules are
  :mod:`._rows` (row types, columns, the rule function :func:`check_transaction`, CSV
  plumbing), :mod:`._fast` (the fast transactions reader, beside its reference) and
  :mod:`._files` (the readers and writers of the three files).
"""

from __future__ import annotations

from ._files import (
    neutralise,
    read_branches,
    read_stations,
    read_transaction_lines,
    read_transactions,
    transaction_lines,
    transactions_to_text,
    write_branches,
    write_stations,
    write_transactions,
)
from ._rows import (
    AREAS,
    BILL_PRODUCTS,
    BRANCH_COLUMNS,
    KINDS,
    REFERRAL_PRODUCTS,
    STATION_COLUMNS,
    STATUSES,
    TRANSACTION_COLUMNS,
    Branch,
    ReadResult,
    Station,
    Transaction,
    check_transaction,
    parse_timestamp,
)

__all__ = [
    "AREAS",
    "BILL_PRODUCTS",
    "BRANCH_COLUMNS",
    "KINDS",
    "REFERRAL_PRODUCTS",
    "STATION_COLUMNS",
    "STATUSES",
    "TRANSACTION_COLUMNS",
    "Branch",
    "ReadResult",
    "Station",
    "Transaction",
    "check_transaction",
    "parse_timestamp",
    "read_branches",
    "read_stations",
    "read_transaction_lines",
    "read_transactions",
    "transaction_lines",
    "neutralise",
    "transactions_to_text",
    "write_branches",
    "write_stations",
    "write_transactions",
]
