"""The console's route table: every console page and action, with the least role it needs.

Contract:
- :data:`ROUTES` is the one table (:class:`RouteTable`) of the console. A page registers with
  :meth:`RouteTable.route` (path, methods, ``min_role`` — ``None`` for the public sign-in
  page —, ``kind`` ``"html"`` or ``"json"``, and an ``example`` path for a path with
  parameters); :func:`stationlink.hub.console.web.console_routes` serves exactly this table,
  every entry behind the same guard, and the tests walk it (each role on each route), so a
  new page is checked without a new test.
- The guard, for every entry: a request carrying an ``Authorization`` header (a station's
  bearer token) is refused with 403 and never gets or uses a session; without a valid
  session a non-public HTML page redirects (303) to ``/console/login?next=...`` and a JSON
  route answers 401; a role below ``min_role`` gets 403; every POST passes the CSRF checks
  (:mod:`stationlink.hub.console.security`) first.
- A handler takes a :class:`~stationlink.hub.console.context.Context` and returns a response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from starlette.responses import Response

from .context import Context
from .roles import Role

Handler = Callable[[Context], Awaitable[Response]]
Kind = Literal["html", "json"]


@dataclass(frozen=True)
class ConsoleRoute:
    path: str
    method: str
    min_role: Role | None  # None: public (the sign-in page)
    kind: Kind
    handler: Handler
    example: str  # a concrete path to request (tests); the path itself when it has no {}


class RouteTable:
    """The console's routes (module contract)."""

    def __init__(self) -> None:
        self.entries: list[ConsoleRoute] = []

    def route(self, path: str, methods: tuple[str, ...], min_role: Role | None, *,
              kind: Kind = "html", example: str | None = None
              ) -> Callable[[Handler], Handler]:
        if "{" in path and example is None:
            raise ValueError(f"{path}: a path with parameters needs an example")

        def register(handler: Handler) -> Handler:
            for method in methods:
                if any(e.path == path and e.method == method for e in self.entries):
                    raise ValueError(f"{method} {path} is registered twice")
                self.entries.append(ConsoleRoute(path, method, min_role, kind, handler,
                                                 example or path))
            return handler

        return register


ROUTES = RouteTable()
