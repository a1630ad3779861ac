"""Per-station bearer tokens.

Contract: a token is ``slh_<id>_<secret>`` with a random 8-hex-digit id and 256 random bits
of secret (``secrets``). The hub stores only the id, the station and the SHA-256 of the whole
token (a fast hash is right for a random 256-bit secret: there is nothing to brute-force), so
a copy of the hub database does not reveal usable tokens. The plain token is shown once,
when created, or written once by :func:`write_token_file` to a file readable by the owner
only (mode 0600 on POSIX, also when the file existed; on Windows the file inherits its
directory's access list, which for a user's own directories is that user's).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from pathlib import Path

from ..errors import ConfigError

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


def write_token_file(path: str | Path, token: str) -> None:
    """Write ``token`` and a newline to ``path``, readable and writable by the owner only."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            if sys.platform != "win32":
                os.fchmod(f.fileno(), 0o600)  # an existing file keeps its mode on open
            f.write(token + "\n")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot write the token file: {exc}") from exc
