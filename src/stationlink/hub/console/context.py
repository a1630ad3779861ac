"""What a console handler is given: :class:`Context` (the request, the stores, the session).

Contract: a handler reads the signed-in operator from ``session`` (``None`` only on the
public sign-in routes), the parsed form of a POST from ``form``, calls the stores through
:meth:`Context.call` (in the thread pool), stamps changes with :meth:`Context.now` (the
hub's injected clock) and :meth:`Context.actor`, and answers with :meth:`Context.render`
(a template with the operator, the CSRF token and the security headers), translating
its own messages with :meth:`Context._` in :attr:`Context.lang`: the signed-in operator's
language setting when they chose one, else the server's (``hub serve --lang``; Chinese by
default). Pages, statements and notices all render in :attr:`Context.lang`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ...clock import WallClock
from ...i18n import DEFAULT_LANG, gettext_for
from .limiter import LoginLimiter
from .passwords import Passwords
from .pdf import NONE_FOUND, NoFont, PdfFont
from .security import PAGE_HEADERS
from .store import Actor, ConsoleStore, Session
from .templates import environment

T = TypeVar("T")

SESSION_LIFETIME = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)


@dataclass
class Runtime:
    """The console's collaborators and settings, one per app."""

    store: ConsoleStore
    hub_store: Any  # the HubStore (pages to come read months and stations through it)
    clock: WallClock
    passwords: Passwords
    limiter: LoginLimiter
    lifetime: timedelta = SESSION_LIFETIME
    idle: timedelta = SESSION_IDLE
    lang: str = DEFAULT_LANG  # the server's default language (an operator's setting wins)
    pdf_font: PdfFont | NoFont = NoFont(NONE_FOUND)  # the statements' PDF font (.pdf)


@dataclass
class Context:
    request: Request
    runtime: Runtime
    session: Session | None = None
    session_hash: str | None = None
    form: dict[str, str] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        """The language of this answer: the operator's setting, else the server's."""
        if self.session is not None and self.session.lang is not None:
            return self.session.lang
        return self.runtime.lang

    def _(self, message: str) -> str:
        """``message`` (an English msgid) in :attr:`lang`."""
        return gettext_for(self.lang)(message)

    @property
    def store(self) -> ConsoleStore:
        return self.runtime.store

    def now(self) -> datetime:
        return self.runtime.clock()

    def address(self) -> str:
        client = self.request.client
        return client.host if client is not None else "unknown"

    def actor(self) -> Actor:
        name = self.session.operator if self.session is not None else "anonymous"
        return Actor(name, self.address())

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_in_threadpool(fn, *args, **kwargs)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        page = environment(self.lang).get_template(template).render(
            session=self.session, lang=self.lang,
            csrf_token=self.session.csrf_token if self.session else "", **values)
        return HTMLResponse(page, status, headers=PAGE_HEADERS)
