"""Per-station bearer tokens.

Contract: a token is ``slh_<id>_<secret>`` with a random 8-hex-digit id and 256 random bits
of secret (``secrets``). The hub stores only the id, the station and the SHA-256 of the whole
token (a fast hash is right for a random 256-bit secret: there is nothing to brute-force), so
a copy of the hub database does not reveal usable tokens. The plain token is shown once,
when created.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "slh_"


def new_token() -> tuple[str, str]:
    """A fresh ``(token_id, token)``."""
    token_id = secrets.token_hex(4)
    return token_id, f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
