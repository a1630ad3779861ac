"""The console's roles and their order: :class:`Role`.

Contract: three roles, each allowed everything the one below is: ``viewer`` reads;
``finance`` also closes months and generates notices; ``admin`` may do everything, including
managing operators and re-opening a month. :func:`parse_role` turns a name into a Role or
raises :class:`~stationlink.errors.OperatorError` listing the valid names.
"""

from __future__ import annotations

import enum

from ...errors import OperatorError
from .text import N_


class Role(enum.IntEnum):
    VIEWER = 1
    FINANCE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The role's name as stored and typed (``viewer``, ``finance``, ``admin``)."""
        return self.name.lower()

    @property
    def title(self) -> str:
        """The role's name for people: a message id (translate it with ``_``)."""
        return _TITLES[self]


_TITLES = {Role.VIEWER: N_("viewer"), Role.FINANCE: N_("finance"),
           Role.ADMIN: N_("administrator")}
ROLE_NAMES = tuple(r.label for r in Role)


def parse_role(text: str) -> Role:
    try:
        return Role[text.strip().upper()]
    except KeyError:
        raise OperatorError(
            f"unknown role {text!r}; one of {', '.join(ROLE_NAMES)}") from None
