"""Running the hub: ``stationlink hub serve`` and an in-process server for tests/benchmarks.

Contract:
- :func:`serve` binds the socket itself (so ``--bind 127.0.0.1:0`` works and the real
  address is reported through ``on_ready`` once the socket listens), runs uvicorn until
  SIGINT or SIGTERM, then finishes in-flight requests, closes the store and returns normally
  (exit status 0). No POSIX-only calls: works on Windows and Linux.
- The listening socket is made with ``SO_REUSEADDR`` on POSIX, so a hub restarted at once
  after a crash binds its port although old connections linger (``TIME_WAIT``,
  ``FIN_WAIT``); on Linux this never lets two listeners share a port. On Windows
  ``SO_REUSEADDR`` would let another process steal a bound port, so there the socket gets
  ``SO_EXCLUSIVEADDRUSE`` instead (Windows binds over ``TIME_WAIT`` by default).
- ``tls_cert``/``tls_key`` (PEM files): the hub serves HTTPS itself (checked before binding:
  ConfigError naming the file); the reported URL is ``https://``.
- ``rate_limit`` (requests per second per station, ``None``: off) puts a
  :class:`~stationlink.hub.ratelimit.RateLimiter` in front of the station routes.
- ``workers`` (``--workers N``, default 1): with N > 1 the parent binds the socket once,
  checks the store opens, then runs uvicorn's ``Multiprocess`` supervisor: N spawned worker
  processes (spawn, not fork: also on Windows) accept on that one inherited socket, each
  with its own store connection pool and its own rate limiter; a worker that dies (even by
  SIGKILL) is replaced within about a second; SIGINT/SIGTERM to the parent stop every worker
  (each finishes its in-flight requests and closes its store) and :func:`serve` returns.
  A worker whose supervisor was killed outright (SIGKILL) notices within a second and
  stops the same way: no orphan keeps serving the port. A worker that answers no health
  ping for :data:`WORKER_HEALTHCHECK_SECONDS` is killed as hung and replaced.
  Only the PostgreSQL store takes N > 1: a SQLite hub is one writer process with its own
  group commit (:mod:`.group_commit`), so N > 1 on a SQLite file is a ConfigError.
  Per-process state and its bounds: a station's requests may reach any worker, so its
  effective rate limit is at most N × ``rate_limit`` (each bucket also starts full);
  PostgreSQL groups concurrent commits of every process into one WAL flush itself.
- ``lang`` (``--lang zh|en``, default zh) is the console's default language
  (:class:`~stationlink.hub.console.ConsoleOptions` ``lang``; an operator's own setting
  wins), checked before binding (ConfigError), the same in every worker.
- ``pdf_font`` (``--pdf-font PATH``): the statements' PDF font
  (:class:`~stationlink.hub.console.ConsoleOptions` ``pdf_font``); a given font that is not
  a usable CJK TrueType/OpenType font or collection is a ConfigError before binding;
  ``None``: the first usable of the well-known locations (:mod:`.console.pdf`), else no PDF.
- :class:`BackgroundServer` runs the same app on a real uvicorn server in a thread, on a
  socket bound to port 0; ``url`` is ready when the constructor returns; ``stop()`` waits.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import SIGNALS as SUPERVISOR_SIGNALS

from ..clock import WallClock, utc_now
from ..errors import ConfigError, TransportError
from ..i18n import DEFAULT_LANG, check_lang
from .app import create_app
from .console import ConsoleOptions
from .console.pdf import check_font_option
from .ratelimit import DEFAULT_RATE, RateLimiter
from .stores import describe, open_hub_store, sqlite_path

log = logging.getLogger("stationlink.hub")
PARENT_WATCH_SECONDS = 0.5  # how often a worker checks that its supervisor still runs
#: A worker that does not answer the supervisor's ping for this long is killed as hung and
#: replaced (uvicorn's default, 5 s, kills busy workers on a starved machine mid-request).
WORKER_HEALTHCHECK_SECONDS = 30


def parse_bind(text: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8400`` for IPv6) into its parts; ConfigError otherwise."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"--bind must look like 127.0.0.1:8400, not {text!r}")
    return host, int(port_text)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket. Made with ``proto=IPPROTO_TCP`` so that asyncio sets
    ``TCP_NODELAY`` on every accepted connection (it checks the protocol number): uvicorn
    writes a response's headers and body separately, and with Nagle's algorithm the body
    would wait for the client's delayed ACK — ~40 ms per request on Linux."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if sys.platform == "win32":  # SO_REUSEADDR there would allow port hijacking
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:  # rebind at once after a crash, over connections lingering in TIME_WAIT
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise TransportError(f"cannot listen on {host}:{port}: {exc}") from exc
    return sock


def _url(sock: socket.socket, scheme: str = "http") -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def check_tls(cert: Path | None, key: Path | None) -> tuple[str, str] | None:
    """uvicorn's TLS settings for ``cert``/``key`` (both or neither), checked by loading
    them: ConfigError naming the option and file otherwise."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("--tls-cert and --tls-key go together")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--tls-cert {cert} / --tls-key {key}: cannot load: {exc}") from exc
    return str(cert), str(key)


def serve(
    db_path: str | Path,
    bind: str,
    *,
    close_day: int,
    on_ready: Callable[[str], None],
    clock: WallClock = utc_now,
    rate_limit: float | None = DEFAULT_RATE,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    workers: int = 1,
    lang: str = DEFAULT_LANG,
    pdf_font: Path | None = None,
) -> None:
    """Serve the hub until SIGINT/SIGTERM (module contract)."""
    host, port = parse_bind(bind)
    tls = check_tls(tls_cert, tls_key)
    lang = check_lang(lang)
    check_font_option(pdf_font)
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    if workers > 1:
        _serve_workers(str(db_path), host, port, workers, close_day=close_day,
                       on_ready=on_ready, rate_limit=rate_limit, tls=tls, lang=lang,
                       pdf_font=pdf_font)
        return
    limiter = None if rate_limit is None else RateLimiter(rate_limit)
    store = open_hub_store(db_path, close_day=close_day)
    stopped: list[int] = []

    def note(sig: int, frame: FrameType | None) -> None:
        stopped.append(sig)  # uvicorn re-raises the signal it handled once it has shut down

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        sock = bind_socket(host, port)
        try:
            config = uvicorn.Config(
                create_app(store, clock=clock, rate_limiter=limiter,
                           console=ConsoleOptions(lang=lang, pdf_font=pdf_font)),
                log_level="warning",
                lifespan="off", access_log=False, ssl_certfile=tls and tls[0],
                ssl_keyfile=tls and tls[1],
            )
            on_ready(_url(sock, "https" if tls else "http"))
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            sock.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        store.close()


def _worker_app(db: str, close_day: int, rate_limit: float | None, supervisor: int,
                lang: str = DEFAULT_LANG, pdf_font: Path | None = None) -> Starlette:
    """One worker's application (an app factory run in the spawned worker): its own store
    and rate limiter; the store is closed when the worker shuts down (ASGI lifespan)."""
    try:
        store = open_hub_store(db, close_day=close_day)
    except Exception:
        log.exception("hub worker cannot open %s", describe(db))
        time.sleep(1.0)  # the supervisor replaces a worker that died: not in a tight loop
        raise
    limiter = None if rate_limit is None else RateLimiter(rate_limit)
    app = create_app(store, rate_limiter=limiter,
                     console=ConsoleOptions(lang=lang, pdf_font=pdf_font))
    threading.Thread(target=_end_with_parent, args=(supervisor,), daemon=True,
                     name="hub-parent-watch").start()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    app.router.lifespan_context = lifespan
    return app


def _end_with_parent(parent: int) -> None:
    """Stop this worker (gracefully, as on SIGTERM) once its supervisor is gone: a parent
    killed with SIGKILL cannot stop its workers, and an orphan must not keep serving."""
    while os.getppid() == parent:
        time.sleep(PARENT_WATCH_SECONDS)
    log.warning("hub worker %d: its supervisor %d is gone; stopping", os.getpid(), parent)
    signal.raise_signal(signal.SIGTERM)


def _serve_workers(db: str, host: str, port: int, workers: int, *, close_day: int,
                   on_ready: Callable[[str], None], rate_limit: float | None,
                   tls: tuple[str, str] | None, lang: str = DEFAULT_LANG,
                   pdf_font: Path | None = None) -> None:
    """``serve`` with N worker processes on one socket (module contract)."""
    if sqlite_path(db) is not None:
        raise ConfigError(
            f"--workers {workers}: a SQLite hub ({db}) is served by one process (one writer "
            "with its own group commit); use a postgresql:// database for several workers")
    open_hub_store(db, close_day=close_day).close()  # refuse a bad database before binding
    sock = bind_socket(host, port)
    previous = {s: signal.getsignal(s) for s in SUPERVISOR_SIGNALS}  # Multiprocess takes them
    try:
        config = uvicorn.Config(
            functools.partial(_worker_app, db, close_day, rate_limit, os.getpid(), lang,
                              pdf_font),
            factory=True,
            workers=workers, log_level="warning", lifespan="on", access_log=False,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            ssl_certfile=tls and tls[0], ssl_keyfile=tls and tls[1],
        )
        supervisor = Multiprocess(config, sockets=[sock])
        on_ready(_url(sock, "https" if tls else "http"))
        supervisor.run()
    finally:
        sock.close()
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


class BackgroundServer(AbstractContextManager["BackgroundServer"]):
    """A real uvicorn server for an ASGI app, in a thread, on 127.0.0.1 port 0."""

    def __init__(self, app: Any, host: str = "127.0.0.1", timeout: float = 10.0, *,
                 tls_cert: Path | None = None, tls_key: Path | None = None) -> None:
        tls = check_tls(tls_cert, tls_key)
        self._sock = bind_socket(host, 0)
        self.url = _url(self._sock, "https" if tls else "http")
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                ssl_certfile=tls and tls[0], ssl_keyfile=tls and tls[1])
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise TransportError("the background hub server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10.0)
        self._sock.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()
