"""A console refusal whose text is a message id, shown in the operator's language.

Contract: ``Refused(N_("month %(month)s is closed already"), month="2026-10")`` is an
:class:`~stationlink.errors.OperatorError` whose ``str()`` is the English text with the
values put in (for logs and the command line); the console's guard
(:mod:`stationlink.hub.console.web`) answers it with 400 and ``ctx._(msgid) % values``: the
message translated into the page's language, then the values (never translated) put in.
"""

from __future__ import annotations

from ...errors import OperatorError


class Refused(OperatorError):
    """An operator's action refused, with a translatable message (module contract)."""

    def __init__(self, msgid: str, **values: object) -> None:
        self.msgid = msgid
        self.values = values
        super().__init__(msgid % values)
