"""A console refusal whose text is a message id, shown in the operator's language.

Contract: ``Refused(N_("Month %(month)s is not closed."), month="2026-10")`` is a
:class:`~stationlink.errors.RefusedAction` (an
:class:`~stationlink.errors.OperatorError`) whose ``str()`` is the English text with the
values put in (for logs and the command line); the console's guard
(:mod:`stationlink.hub.console.web`) answers it with 400 and ``ctx._(msgid) % values``: the
message translated into the page's language, then the values (never translated) put in.
"""

from __future__ import annotations

from ...errors import RefusedAction as Refused

__all__ = ["Refused"]
