"""The reward engine: monthly station and branch statements from transactions under a policy.

Public API (a library; the CLI in ``stationlink.cli.rewards`` is a thin layer over it):

- :func:`load_policy` -- a built-in policy by name (``dezhou-2014``,
  ``county-withhold-2012``) or a TOML file; errors raise ``PolicyError`` naming key and reason.
- :func:`compute` / :func:`compute_months` / :func:`compute_quarter` -- statements from any
  iterable of :class:`stationlink.interchange.Transaction`.
- :func:`from_csv` -- the interchange CSV files as :class:`Inputs`; :func:`from_hub` -- the
  same from a hub database's transactions of the given months (stations and branches files).
- renderers: :mod:`.render` (json/table/csv), :mod:`.explain`, :mod:`.notice`.
"""

from .engine import compute, compute_months
from .inputs import Inputs, from_csv, from_hub
from .model import Policy
from .policy import BUILTIN, load_policy, parse_policy
from .quarter import compute_quarter, quarter_months
from .statements import (
    BranchStatement,
    LineItem,
    MonthResult,
    QuarterResult,
    QuarterStatement,
    RunInfo,
    StationStatement,
)

__all__ = [
    "BUILTIN",
    "BranchStatement",
    "Inputs",
    "LineItem",
    "MonthResult",
    "Policy",
    "QuarterResult",
    "QuarterStatement",
    "RunInfo",
    "StationStatement",
    "compute",
    "compute_months",
    "compute_quarter",
    "from_csv",
    "from_hub",
    "load_policy",
    "parse_policy",
    "quarter_months",
]
