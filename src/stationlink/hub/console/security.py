"""The console's cookies, secrets, CSRF and origin checks, and form bodies.

Contract:
- Session ids and CSRF tokens are 256 random bits (:func:`new_secret`, URL-safe text); the
  store keeps only a session id's SHA-256 (:func:`hash_secret`).
- Cookies are ``HttpOnly``, ``SameSite=Strict``, ``Path=/`` (the session; the sign-in CSRF
  cookie: ``Path=/console/login``) and ``Secure`` whenever the request came over HTTPS as
  the server sees it (:func:`is_https`: TLS served by the hub itself, or
  ``X-Forwarded-Proto: https`` from a proxy address uvicorn trusts — ``FORWARDED_ALLOW_IPS``,
  127.0.0.1 by default).
- :func:`same_origin`: a POST must carry ``Origin`` (or, without it, ``Referer``) naming this
  server's own scheme, host and port; ``Origin: null``, another origin, or neither header
  is refused.
- :func:`tokens_equal` compares in constant time.
- :func:`parse_form` reads an ``application/x-www-form-urlencoded`` body of at most
  :data:`MAX_FORM` bytes (UTF-8, at most 50 fields, each name once) into a dict, or raises
  :class:`FormError` with a message id (the guard answers 400 or 413, translated).
- :data:`PAGE_HEADERS` go on every console response: no caching, no framing, no external
  anything (CSP ``default-src 'none'``, inline styles only), same-origin referrers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from .text import N_

SESSION_COOKIE = "stationlink_session"
LOGIN_CSRF_COOKIE = "stationlink_login_csrf"
LOGIN_PATH = "/console/login"
MAX_FORM = 64 * 1024
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": ("default-src 'none'; style-src 'unsafe-inline'; "
                                "img-src 'self' data:; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class FormError(Exception):
    """A form body the console does not accept (internal: becomes a 400/413 answer);
    ``message`` is a msgid, formatted with ``values`` once translated."""

    def __init__(self, message: str, status: int = 400, **values: object) -> None:
        super().__init__(message)
        self.message = message
        self.values = values
        self.status = status


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tokens_equal(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, *,
               max_age: int, path: str = "/") -> None:
    response.set_cookie(name, value, max_age=max_age, path=path, httponly=True,
                        samesite="strict", secure=is_https(request))


def clear_cookie(response: Response, request: Request, name: str, path: str = "/") -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="strict",
                           secure=is_https(request))


def own_origin(request: Request) -> str:
    url = request.url
    return f"{url.scheme}://{url.netloc}".lower()


def same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.lower() == own_origin(request)


def parse_form(body: bytes, content_type: str | None) -> dict[str, str]:
    if len(body) > MAX_FORM:
        raise FormError(N_("The form is larger than %(n)d bytes."), 413, n=MAX_FORM)
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormError(N_("The form must be sent as application/x-www-form-urlencoded."))
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          encoding="utf-8", errors="strict", max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(N_("The form cannot be read (not UTF-8, or too many fields).")) from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise FormError(N_("The form field %(field)s appears twice."), field=key)
        form[key] = value
    return form
