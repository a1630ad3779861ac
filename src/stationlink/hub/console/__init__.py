"""The hub's operator console: operators, sign-in, sessions, CSRF, roles, audit, pages.

Contract (docs/console.md): :func:`console_routes` gives the Starlette mounts the hub app
adds under ``/console`` and ``/v1/console``; every page is an entry of :data:`ROUTES`, the
one route table (path, method, least role) behind one guard. Operators, sessions and the
audit trail live in the hub's database (:class:`ConsoleStore`).
"""

from __future__ import annotations

from .roles import Role
from .routes import ROUTES, ConsoleRoute, RouteTable
from .store import Actor, AuditEntry, ConsoleStore, Operator, Session
from .web import ConsoleOptions, console_routes

__all__ = ["ROUTES", "Actor", "AuditEntry", "ConsoleOptions", "ConsoleRoute", "ConsoleStore",
           "Operator", "Role", "RouteTable", "Session", "console_routes"]
