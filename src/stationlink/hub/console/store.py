"""The console's storage interface: :class:`ConsoleStore`, and the values it deals in.

Contract (kept apart from :class:`stationlink.hub.store.HubStore`, so the station routes'
interface stays as it is; a hub store offers it through
:func:`stationlink.hub.console.backend.console_store_for`):
- Operators are identified by name (:func:`check_name`: 1 to 64 characters, no control
  characters, no blanks at either end). Only the argon2 hash of a password is stored; it is
  read only by :meth:`ConsoleStore.password_hash` (for sign-in) and never appears in an
  :class:`Operator`, an audit row or an error.
- Every state-changing method takes the :class:`Actor` and writes its audit row (who, when,
  what, the target, before/after as JSON of :meth:`Operator.snapshot`) **in the same
  transaction** as the change: a change without its audit row cannot be stored. Refused
  changes raise :class:`~stationlink.errors.OperatorError` and store nothing.
- Sessions are stored by the SHA-256 of their id only. :meth:`ConsoleStore.session` returns
  a session only while it is neither past ``expires_at`` nor idle longer than ``idle``, and
  only for an enabled operator, with the operator's *current* role. Disabling an operator or
  setting a password ends the operator's sessions (except ``keep_session``).
- An operator may carry a language (``lang``: ``zh`` or ``en``, :func:`check_operator_lang`);
  ``None`` means the server's default (``hub serve --lang``). The session carries the
  operator's *current* setting, so a change applies at the next request.
- Drivers' errors are :class:`~stationlink.errors.StorageError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from ...errors import ConfigError, OperatorError
from ...i18n import Lang, check_lang
from .roles import Role

_NAME = re.compile(r"[^\s\x00-\x1f\x7f]([^\x00-\x1f\x7f]{0,62}[^\s\x00-\x1f\x7f])?")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise OperatorError(f"operator name {name!r}: 1 to 64 characters, no control "
                            "characters, no blanks at either end")
    return name


def check_operator_lang(lang: str | None) -> Lang | None:
    """An operator's language setting: ``zh``, ``en`` or ``None`` (the server's default);
    OperatorError naming the choices otherwise."""
    if lang is None:
        return None
    try:
        return check_lang(lang)
    except ConfigError as exc:
        raise OperatorError(str(exc)) from None


@dataclass(frozen=True)
class Actor:
    """Who acts: an operator's name (or ``cli:<system user>``) and the client address."""

    name: str
    address: str | None = None


@dataclass(frozen=True)
class Operator:
    name: str
    role: Role
    must_change_password: bool
    created_at: datetime
    password_changed_at: datetime
    disabled_at: datetime | None
    lang: Lang | None = None  # None: the server's default language

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def snapshot(self) -> dict[str, Any]:
        """What the audit keeps of an operator (never the password or its hash); ``lang``
        only when the operator chose a language."""
        snap: dict[str, Any] = {"name": self.name, "role": self.role.label,
                                "enabled": self.enabled,
                                "must_change_password": self.must_change_password}
        if self.lang is not None:
            snap["lang"] = self.lang
        return snap


@dataclass(frozen=True)
class Session:
    operator: str
    role: Role
    csrf_token: str
    must_change_password: bool
    created_at: datetime
    expires_at: datetime
    last_seen: datetime
    lang: Lang | None = None  # the operator's language setting (None: the server's default)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    address: str | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor,
                "action": self.action, "target": self.target, "before": self.before,
                "after": self.after, "address": self.address}


class ConsoleStore(Protocol):
    """Operators, sessions and audit (module contract)."""

    def add_operator(self, name: str, role: Role, password_hash: str, *,
                     must_change_password: bool, now: datetime, actor: Actor,
                     lang: str | None = None) -> Operator: ...

    def operators(self) -> list[Operator]: ...

    def operator(self, name: str) -> Operator | None: ...

    def password_hash(self, name: str) -> str | None:
        """The stored hash of an *enabled* operator (None: unknown or disabled)."""
        ...

    def set_role(self, name: str, role: Role, *, now: datetime, actor: Actor) -> Operator: ...

    def set_enabled(self, name: str, enabled: bool, *, now: datetime, actor: Actor
                    ) -> Operator: ...

    def set_password(self, name: str, password_hash: str, *, must_change_password: bool,
                     now: datetime, actor: Actor, keep_session: str | None = None
                     ) -> Operator: ...

    def set_lang(self, name: str, lang: str | None, *, now: datetime, actor: Actor
                 ) -> Operator:
        """The operator's language (``zh``/``en``; ``None``: the server's default), audited
        as ``operator.set_lang``; an unknown language is an OperatorError."""
        ...

    def rehash_password(self, name: str, old_hash: str, new_hash: str) -> None:
        """Replace an unchanged hash by one with current parameters (not audited: the
        password stays the same)."""
        ...

    def create_session(self, session_hash: str, name: str, csrf_token: str, *,
                       now: datetime, expires_at: datetime, actor: Actor) -> None: ...

    def session(self, session_hash: str, *, now: datetime, idle: timedelta
                ) -> Session | None: ...

    def touch_session(self, session_hash: str, now: datetime) -> None: ...

    def end_session(self, session_hash: str, *, now: datetime, actor: Actor) -> bool: ...

    def audit(self, limit: int = 200) -> list[AuditEntry]:
        """The newest ``limit`` audit rows, newest first."""
        ...

